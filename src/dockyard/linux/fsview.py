"""Run a function inside a container's filesystem, in a forked child.

The child unshares a private mount namespace, builds Docker's view of the container there
(its overlay; /etc/hostname, hosts and resolv.conf bind-mounted from the container's
directory; none of the runtime's /proc, /sys, /dev)
and chroots into it, so the kernel resolves every path, symlink and '..' inside the
container's root: no path the function touches can name a host file. Nothing in the child
may import a module or look up a user (NSS would load the container's libraries):
everything it needs is imported before the fork, and it exits with os._exit.

Protocol: the child reports JSON lines on a status pipe ({"ok": ...} or {"error": message,
"status": http_status}); bulk data flows over a second pipe.
"""
from __future__ import annotations

import json
import os
import signal
import stat
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import Conflict, DockyardError, InvalidParameter, NotFound
from . import syscalls

CLONE_NEWNS = syscalls.CLONE_NEWNS
Report = Callable[[dict[str, Any]], None]
Job = Callable[[Report, int], None]


@dataclass
class View:
    pid: int
    status: Any        # text reader of the status pipe
    data_fd: int       # parent's end of the data pipe


def _error_of(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, DockyardError):
        return {"error": exc.message, "status": exc.status}
    if isinstance(exc, FileNotFoundError):
        return {"error": str(exc), "status": 404, "enoent": True}
    if isinstance(exc, OSError):
        return {"error": f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc),
                "status": 500}
    return {"error": str(exc) or exc.__class__.__name__, "status": 500}


def _close_other_fds(keep: set[int]) -> None:
    """The daemon's descriptors (sockets, directories) have no business in the child."""
    previous = 2
    for fd in sorted(f for f in keep if f > 2):
        os.closerange(previous + 1, fd)
        previous = fd
    os.closerange(previous + 1, 65536)


def _attach_mounts(rootfs: str, mounts: list[tuple[str, str]]) -> None:
    """Bind-mount each host (source, target) of the view: a file or directory onto a target
    of the same kind inside rootfs. Targets are opened chrooted (the kernel resolves the
    container's symlinks inside its root) and mounted through /proc/self/fd, so a symlink
    swapped in meanwhile cannot redirect the mount to a host path."""
    host_root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    sources = {src: os.open(src, os.O_PATH | os.O_CLOEXEC) for src, _ in mounts
               if os.path.exists(src)}
    os.chroot(rootfs)
    pairs = []
    for source, target in mounts:
        if source not in sources:
            continue
        try:
            fd = os.open(target, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue            # missing (or a dangling symlink): nothing to cover
        kind = stat.S_IFMT(os.fstat(fd).st_mode)
        if kind != stat.S_IFMT(os.fstat(sources[source]).st_mode) or \
                kind not in (stat.S_IFDIR, stat.S_IFREG):
            os.close(fd)
            continue
        pairs.append((sources[source], fd))
    os.fchdir(host_root)
    os.chroot(".")          # back at the host's root, still in the private namespace
    for source_fd, fd in pairs:
        syscalls.mount(f"/proc/self/fd/{source_fd}", f"/proc/self/fd/{fd}", None,
                       syscalls.MS_BIND)
        os.close(fd)
    for fd in sources.values():
        os.close(fd)
    os.close(host_root)


def spawn(job: Job, *, rootfs: str, overlay: str = "", mounts: list[tuple[str, str]] = (),
          child_reads: bool = False) -> View:  # type: ignore[assignment]
    """Fork a child that runs job(report, data_fd) chrooted into the container's rootfs, in
    a private mount namespace of its own: `overlay` (mount options) is mounted at rootfs
    first when the container is not running, then `mounts` (see _attach_mounts). The view
    vanishes with the child: nothing to unmount, nothing the host or the container sees.
    With child_reads the data pipe runs parent → child (uploads), otherwise child → parent."""
    status_r, status_w = os.pipe()
    data_r, data_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked child
        child_end = data_r if child_reads else data_w
        os.close(status_r)
        os.close(data_w if child_reads else data_r)

        def report(message: dict[str, Any]) -> None:
            os.write(status_w, json.dumps(message).encode() + b"\n")

        code = 1
        try:
            signal.set_wakeup_fd(-1)
            _close_other_fds({status_w, child_end})
            syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)
            syscalls.unshare(CLONE_NEWNS)
            syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
            if overlay:
                syscalls.mount("overlay", rootfs, "overlay", 0, overlay)
            if mounts:
                _attach_mounts(rootfs, list(mounts))
            os.chroot(rootfs)
            os.chdir("/")
            job(report, child_end)
            code = 0
        except BaseException as exc:  # noqa: BLE001 - everything goes to the parent
            try:
                report(_error_of(exc))
            except BaseException:  # noqa: BLE001
                pass
        os._exit(code)
    os.close(status_w)
    if child_reads:
        os.close(data_r)
        parent_end = data_w
    else:
        os.close(data_w)
        parent_end = data_r
    return View(pid, os.fdopen(status_r, "r"), parent_end)


def next_report(view: View) -> dict[str, Any]:
    """The child's next status line; raises its error as the matching DockyardError."""
    line = view.status.readline()
    if not line:
        return {"error": "container filesystem helper died", "status": 500}
    return json.loads(line)


def raise_for(message: dict[str, Any], not_found: str) -> None:
    if "error" not in message:
        return
    if message.get("enoent"):
        raise NotFound(not_found)
    kind = {400: InvalidParameter, 404: NotFound, 409: Conflict}.get(
        int(message.get("status", 500)), DockyardError)
    raise kind(message["error"])


def finish(view: View) -> None:
    """Close the parent's ends and reap the child."""
    for close in (view.status.close, lambda: os.close(view.data_fd)):
        try:
            close()
        except OSError:
            pass
    try:
        os.waitpid(view.pid, 0)
    except ChildProcessError:
        pass
