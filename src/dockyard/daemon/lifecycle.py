"""Daemon lifetime guards: one daemon per data root, pid files that stale processes don't
block, unix sockets removed only by their owner, and a bounded shutdown."""
from __future__ import annotations

import fcntl
import logging
import os
import threading
import time

log = logging.getLogger("dockyardd")

LOCK_NAME = "dockyardd.lock"

# Kept open (and so locked) for the whole life of the process. A POSIX record lock is owned by
# the process, not inherited by forked children, and dropped by the kernel when we die, even
# by SIGKILL, so no clean-up is ever needed for the next start.
_lock_fd: int | None = None


def lock_data_root(root: str) -> None:
    """Take the data root for this process or exit at once naming the daemon that holds it:
    two daemons on one root would corrupt each other's containers and images."""
    global _lock_fd
    os.makedirs(root, mode=0o711, exist_ok=True)
    fd = os.open(os.path.join(root, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = _read_lock_pid(fd)
        os.close(fd)
        raise SystemExit(f"dockyardd: data root {root} is in use by dockyardd "
                         f"(pid {holder or 'unknown'})") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _lock_fd = fd


def _read_lock_pid(fd: int) -> str:
    """The holder writes its pid right after locking; give it a moment if we raced it."""
    deadline = time.monotonic() + 0.5
    while True:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if text.isdigit() or time.monotonic() > deadline:
            return text if text.isdigit() else ""
        time.sleep(0.02)


def pid_alive(pid: int) -> bool:
    """True for a live process; a zombie has exited and so counts as dead."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The state follows the command name, which is in parentheses and may hold any byte.
    return stat[stat.rfind(")") + 2:][:1] not in ("Z", "X", "")


def write_pidfile(path: str) -> None:
    """Write our pid, refusing (as dockerd does) only while the recorded process still lives."""
    from ..linux import atomic
    os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
    try:
        with open(path) as f:
            old = int(f.read().strip() or 0)
        if old > 0 and old != os.getpid() and pid_alive(old):
            raise SystemExit(f"pid file found, ensure dockyardd is not running or delete {path}")
    except (FileNotFoundError, ValueError):
        pass
    atomic.write_bytes(path, f"{os.getpid()}".encode(), 0o644)


def remove_own_pidfile(path: str) -> None:
    """Unlink the pid file only while it names us: a newer daemon may have written its own."""
    try:
        with open(path) as f:
            if f.read().strip() != str(os.getpid()):
                return
        os.unlink(path)
    except FileNotFoundError:
        pass


def socket_identity(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def remove_own_socket(path: str, identity: tuple[int, int]) -> None:
    """Unlink `path` only if it is still the socket we bound: a newer daemon may have replaced
    it, and removing its socket would cut its clients off."""
    try:
        if socket_identity(path) == identity:
            os.unlink(path)
    except FileNotFoundError:
        pass


def start_shutdown_watchdog(timeout: float) -> None:
    """End the process if shutdown outlives `timeout` seconds. State is persisted as it
    changes, so exiting here loses nothing; containers run on under their shims."""
    def expire() -> None:
        time.sleep(timeout)
        log.error("shutdown did not finish within %gs (shutdown-timeout); exiting", timeout)
        logging.shutdown()
        os._exit(1)

    threading.Thread(target=expire, name="shutdown-watchdog", daemon=True).start()
