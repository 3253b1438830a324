"""`dockyard image bootstrap`: a base image from the host's distribution packages — Debian
via debootstrap (into a temp dir, against a Debian mirror), or busybox from Debian's
busybox-static (scripts/busybox-rootfs.py's layout) — imported like `dockyard import`."""
from __future__ import annotations

import os
import sys

from .common import Context
from .flags import Opts, Str, command

DEFAULT_MIRROR = "http://deb.debian.org/debian"
_CMD = {"debian": 'CMD ["bash"]', "busybox": 'CMD ["sh"]'}


def _fail(message: str, code: int = 1) -> None:
    print(message, file=sys.stderr)
    sys.exit(code)


def _debian_tar(work: str, suite: str, variant: str, mirror: str, out: str) -> None:
    import shutil
    import subprocess

    if not shutil.which("debootstrap"):
        _fail("debootstrap not found: apt-get install debootstrap")
    target = os.path.join(work, "root")
    result = subprocess.run(["debootstrap", f"--variant={variant}", suite, target, mirror],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        _fail(f"debootstrap failed: {result.stderr.strip()[-2000:]}")
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        path = os.path.join(target, leftover)
        for name in os.listdir(path) if os.path.isdir(path) else []:
            full = os.path.join(path, name)
            if os.path.isfile(full):
                os.unlink(full)
    subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", target, "-cf", out, "."],
                   check=True)


def _busybox_tar(out: str) -> None:
    import subprocess

    if not os.path.exists("/bin/busybox"):
        _fail("/bin/busybox not found: apt-get install busybox-static")
    script = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                           "scripts", "busybox-rootfs.py"))
    if not os.path.exists(script):      # it ships with the source tree (editable install)
        _fail(f"{script} not found: run from a dockyard source checkout")
    subprocess.run([sys.executable, script, out, "/bin/busybox"], check=True)


def _distro(value: str) -> str:
    if value not in _CMD:
        raise ValueError("must be one of debian, busybox")
    return value


@command("[OPTIONS] NAME",
         Str("--distro", "What to build the image from: debian or busybox", default="debian",
             check=_distro),
         Str("--mirror", "Debian mirror", default=DEFAULT_MIRROR),
         Str("--suite", "Debian suite", default="bookworm"),
         Str("--variant", "debootstrap variant", default="minbase"),
         args=(1, 1))
def bootstrap(ctx: Context, o: Opts, args: list[str]) -> None:
    """Make a base image from the host's distribution packages and import it as NAME."""
    import shutil
    import subprocess
    import tempfile

    from ..client import images as api_images

    if os.geteuid() != 0:
        _fail("image bootstrap must run as root (debootstrap creates device nodes and owners)")
    work = tempfile.mkdtemp(prefix="dockyard-bootstrap-")
    try:
        tar = os.path.join(work, "rootfs.tar")
        distro = o.distro
        if distro == "debian":
            _debian_tar(work, o.suite, o.variant, o.mirror, tar)
        else:
            _busybox_tar(tar)
        with open(tar, "rb") as stream:
            result = api_images.import_image(ctx.api, stream, args[0], None,
                                             f"dockyard image bootstrap {distro}",
                                             [_CMD[distro]])
    finally:
        subprocess.run(["umount", "-R", os.path.join(work, "root", "proc")],
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    for item in result:
        if item.get("error") or item.get("errorDetail"):
            _fail((item.get("errorDetail") or {}).get("message") or item.get("error"))
        if item.get("status"):
            print(item["status"])
