"""What the benches share: timing, the busybox image tar, and private daemons (a dockyardd
from a source tree, and docker.io's dockerd when it is installed), each on its own socket and
data root under a temp dir, with its own bridge and firewall table where it makes one, all
of it removed when the daemon is stopped. Interleave the two sides' runs in the caller, so
load from elsewhere on a shared machine hits both alike."""
from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SRC = os.path.join(ROOT, "src")


def runs(default: int) -> int:
    return int(os.environ.get("BENCH_RUNS", str(default)))


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run, which must succeed."""
    t0 = time.perf_counter()
    result = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{cmd} failed ({result.returncode}): {result.stderr[-500:]}")
    return time.perf_counter() - t0


def median_run(cmd: list[str], env: dict[str, str], n: int) -> float:
    """Median of n runs after one warm-up run."""
    timed(cmd, env)
    return statistics.median(timed(cmd, env) for _ in range(n))


def busybox_tar(directory: str) -> str:
    """A busybox root filesystem tar made from Debian's busybox-static (no registry)."""
    tar = os.path.join(directory, "busybox.tar")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "busybox-rootfs.py"), tar],
                   check=True, stdout=subprocess.DEVNULL)
    return tar


def unmount_under(base: str) -> None:
    with open("/proc/self/mounts") as f:
        targets = [line.split()[1] for line in f if line.split()[1].startswith(base)]
    for target in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


def rss_kb(pid: int) -> int:
    return _status_field(f"/proc/{pid}/status", "VmRSS:")


def pss_kb(pid: int) -> int:
    return _status_field(f"/proc/{pid}/smaps_rollup", "Pss:")


def _status_field(path: str, name: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith(name):
                return int(line.split()[1])
    return 0


def our_cli() -> list[str]:
    """The installed `dockyard` launcher next to this interpreter (a pyenv shim on PATH
    would add a bash wrapper's start-up to every run), else `python3 -m dockyard.cli`."""
    script = os.path.join(os.path.dirname(sys.executable), "dockyard")
    return [script] if os.access(script, os.X_OK) else [sys.executable, "-m", "dockyard.cli"]


def source_tree(revision: str, base: str) -> str:
    """The `src` of a git revision, with this checkout's compiled shim binaries: to run an
    older dockyardd beside this one."""
    target = os.path.join(base, "src-" + revision)
    os.makedirs(target)
    archive = subprocess.run(["git", "-C", ROOT, "archive", revision, "src"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", target], input=archive, check=True)
    shim = os.path.join(SRC, "dockyard", "shim")
    for name in os.listdir(shim):
        path = os.path.join(shim, name)
        if os.path.isfile(path) and os.access(path, os.X_OK) and "." not in name:
            shutil.copy2(path, os.path.join(target, "src", "dockyard", "shim", name))
    return os.path.join(target, "src")


class PrivateDaemon:
    """One daemon process on `base`/d.sock with everything under `base`; `cli` is the
    client that talks to it (our CLI or the docker CLI), `env` points clients at it."""

    def __init__(self, argv: list[str], base: str, cli: list[str], env: dict[str, str],
                 bridge: str = "") -> None:
        self.base, self.cli, self.env, self.bridge = base, cli, env, bridge
        with open(os.path.join(base, "daemon.log"), "wb") as log:
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + 60
        while subprocess.run(cli + ["version"], env=env, capture_output=True).returncode:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"{argv[0]} on {base} did not start")
            time.sleep(0.1)

    @property
    def host(self) -> str:
        return self.env["DOCKER_HOST"]

    @property
    def sock(self) -> str:
        return self.host.removeprefix("unix://")

    def run(self, *args: str) -> str:
        """A client command that must succeed; its stdout."""
        result = subprocess.run(self.cli + list(args), env=self.env, capture_output=True,
                                text=True)
        if result.returncode != 0:
            raise SystemExit(f"{args} failed: {result.stderr[-500:]}")
        return result.stdout.strip()

    def stop(self) -> None:
        """Stop it and remove its mounts, data root and bridge (a bridge outlives the
        daemon, as docker0 outlives dockerd)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.bridge:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        unmount_under(self.base)
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PrivateDaemon:
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()


def dockyardd(src: str = SRC, bridge: str = "", cli: list[str] | None = None,
              config: dict[str, Any] | None = None) -> PrivateDaemon:
    """A dockyardd running `src`; with `bridge`, its default bridge and nftables table get
    that name (none of the host's are touched)."""
    base = tempfile.mkdtemp(prefix="dyb-", dir="/tmp")
    sock = f"unix://{base}/d.sock"
    env = {**os.environ, "DOCKYARD_HOST": sock, "DOCKER_HOST": sock,
           "DOCKER_CONFIG": f"{base}/dockercfg",
           "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    settings = dict(config or {})
    if bridge:
        settings.update({"bridge": bridge, "nftables-table": bridge})
    with open(f"{base}/daemon.json", "w") as f:
        json.dump(settings, f)
    argv = [sys.executable, "-m", "dockyard.daemon", "-H", sock, "--data-root",
            f"{base}/root", "--pidfile", f"{base}/pid", "--config-file", f"{base}/daemon.json"]
    return PrivateDaemon(argv, base, cli or [sys.executable, "-m", "dockyard.cli"], env,
                         bridge)


def dockerd() -> PrivateDaemon | None:
    """docker.io's dockerd beside ours, if installed: no bridge, no firewall rules (so it
    touches nothing of the host's), its own data and exec roots; driven by the docker CLI."""
    if not (shutil.which("dockerd") and shutil.which("docker")):
        return None
    base = tempfile.mkdtemp(prefix="dkb-", dir="/tmp")
    sock = f"unix://{base}/d.sock"
    env = {**os.environ, "DOCKER_HOST": sock, "DOCKER_CONFIG": f"{base}/dockercfg"}
    argv = ["dockerd", "--bridge=none", "--iptables=false", "-H", sock, "--data-root",
            f"{base}/root", "--exec-root", f"{base}/exec", "--pidfile", f"{base}/pid"]
    return PrivateDaemon(argv, base, ["docker"], env)
