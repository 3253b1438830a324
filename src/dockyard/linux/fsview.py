"""Run a function inside a container's filesystem, in a forked child.

The child unshares a private mount namespace, builds Docker's view of the container there
(its overlay; /etc/hostname, hosts and resolv.conf bind-mounted from the container's
directory; the user's bind mounts, read-only ones read-only; none of the runtime's /proc,
/sys, /dev, nor its tmpfs mounts, which Docker's cp does not see either)
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

from ..errors import PATH_ERRNOS, Conflict, DockyardError, InvalidParameter, NotFound
from . import forking, syscalls

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
                "status": 400 if exc.errno in PATH_ERRNOS else 500}
    return {"error": str(exc) or exc.__class__.__name__, "status": 500}


def _close_other_fds(keep: set[int]) -> None:
    """The daemon's descriptors (sockets, directories) have no business in the child."""
    previous = 2
    for fd in sorted(f for f in keep if f > 2):
        os.closerange(previous + 1, fd)
        previous = fd
    os.closerange(previous + 1, 65536)


@dataclass
class Bind:
    """A host path bind-mounted into the view. User binds (`user`) follow the container's
    symlinks to their target (inside its root, as the runtime's mount does) and make a
    missing target, as Docker's cp does; the network files only cover what is there."""
    source: str
    target: str
    readonly: bool = False
    user: bool = False


def _open_target(bind: Bind, source_fd: int) -> int | None:
    """Open (chrooted) the target a bind covers, or None when it has nothing to cover."""
    source_dir = stat.S_ISDIR(os.fstat(source_fd).st_mode)
    if bind.user and not os.path.lexists(bind.target):
        if source_dir:
            os.makedirs(bind.target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(bind.target), exist_ok=True)
            os.close(os.open(bind.target, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
    flags = os.O_PATH | os.O_CLOEXEC | (0 if bind.user else os.O_NOFOLLOW)
    try:
        fd = os.open(bind.target, flags)
    except OSError:
        return None             # missing (or a dangling symlink): nothing to cover
    kind = stat.S_IFMT(os.fstat(fd).st_mode)
    if kind != stat.S_IFMT(os.fstat(source_fd).st_mode) or \
            kind not in (stat.S_IFDIR, stat.S_IFREG):
        os.close(fd)
        return None
    return fd


def _attach_mounts(rootfs: str, binds: list[Bind]) -> None:
    """Bind-mount each host source of the view onto a target of the same kind inside
    rootfs. Targets are opened chrooted (the kernel resolves the container's symlinks inside
    its root) and mounted through /proc/self/fd, so a symlink swapped in meanwhile cannot
    redirect the mount to a host path. Read-only binds are then remounted read-only through
    a descriptor of the new mount's root, opened chrooted again."""
    host_root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    sources = {b.source: os.open(b.source, os.O_PATH | os.O_CLOEXEC) for b in binds
               if os.path.exists(b.source)}
    os.chroot(rootfs)
    pairs = []
    for bind in binds:
        if bind.source in sources:
            fd = _open_target(bind, sources[bind.source])
            if fd is not None:
                pairs.append((bind, sources[bind.source], fd))
    os.fchdir(host_root)
    os.chroot(".")          # back at the host's root, still in the private namespace
    for bind, source_fd, fd in pairs:
        syscalls.mount(f"/proc/self/fd/{source_fd}", f"/proc/self/fd/{fd}", None,
                       syscalls.MS_BIND | (syscalls.MS_REC if bind.user else 0))
        os.close(fd)
    readonly = [b for b, _, _ in pairs if b.readonly]
    if readonly:
        os.chroot(rootfs)
        roots = [os.open(b.target, os.O_PATH | os.O_CLOEXEC) for b in readonly]
        os.fchdir(host_root)
        os.chroot(".")
        for fd in roots:
            syscalls.mount(None, f"/proc/self/fd/{fd}", None, syscalls.MS_BIND |
                           syscalls.MS_REMOUNT | syscalls.MS_RDONLY)
            os.close(fd)
    for fd in sources.values():
        os.close(fd)
    os.close(host_root)


def spawn(job: Job, *, rootfs: str, overlay: str = "", mounts: list[Bind] = (),
          child_reads: bool = False) -> View:  # type: ignore[assignment]
    """Fork a child that runs job(report, data_fd) chrooted into the container's rootfs, in
    a private mount namespace of its own: `overlay` (mount options) is mounted at rootfs
    first when the container is not running, then `mounts` (see _attach_mounts). The view
    vanishes with the child: nothing to unmount, nothing the host or the container sees.
    With child_reads the data pipe runs parent → child (uploads), otherwise child → parent."""
    status_r, status_w = os.pipe()
    data_r, data_w = os.pipe()
    pid = forking.fork()
    if pid == 0:  # pragma: no cover - runs in the forked child
        child_end = data_r if child_reads else data_w
        os.close(status_r)
        os.close(data_w if child_reads else data_r)

        def report(message: dict[str, Any]) -> None:
            os.write(status_w, json.dumps(message).encode() + b"\n")

        code = 1
        try:
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
