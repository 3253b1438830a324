"""A container's init layer: the mount points the runtime needs, between image and upper dir.

Docker keeps these (the "<id>-init" layer) so that bind-mounting /etc/hostname, /etc/hosts
and /etc/resolv.conf, or mounting /proc and /sys, never creates anything in the container's
writable layer: `diff` and `commit` then show only what the container itself changed. Only
entries the image lacks are made; a parent directory the image has is recreated with the
image's mode, owner and times (as overlay's copy-up would), so the merged view is unchanged.
"""
from __future__ import annotations

import os
import stat

_DIRS = ("/proc", "/sys", "/dev/pts", "/dev/shm")
_FILES = ("/.dockerenv", "/etc/resolv.conf", "/etc/hosts", "/etc/hostname", "/dev/console")
_SYMLINKS = {"/etc/mtab": "/proc/mounts"}


def _lookup(lowerdirs: list[str], rel: str) -> os.stat_result | None:
    """What the image shows at `rel` (topmost layer first); None if absent or whited out."""
    for lower in lowerdirs:
        try:
            st = os.lstat(os.path.join(lower, rel))
        except OSError:
            continue
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            return None
        return st
    return None


def _parents_ok(target: str, lowerdirs: list[str], rel: str,
                made: list[tuple[str, os.stat_result | None]]) -> bool:
    """Create the parents of `rel` in the init layer; False if the image has a non-directory
    (e.g. a symlink) on the way, where the runtime is left to its own resolution."""
    parts = rel.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        sub = "/".join(parts[:depth])
        lower = _lookup(lowerdirs, sub)
        if lower is not None and not stat.S_ISDIR(lower.st_mode):
            return False
        path = os.path.join(target, sub)
        if not os.path.isdir(path):
            os.mkdir(path, 0o755)
            made.append((path, lower))
    return True


def build(target: str, lowerdirs: list[str]) -> None:
    """Fill the empty directory `target` with the init entries `lowerdirs` lack."""
    made: list[tuple[str, os.stat_result | None]] = []
    entries = [(p, "dir") for p in _DIRS] + [(p, "file") for p in _FILES] + \
        [(p, "link") for p in _SYMLINKS]
    for path, kind in entries:
        rel = path.lstrip("/")
        if _lookup(lowerdirs, rel) is not None or not _parents_ok(target, lowerdirs, rel, made):
            continue
        full = os.path.join(target, rel)
        if kind == "dir":
            os.mkdir(full, 0o755)
        elif kind == "file":
            os.close(os.open(full, os.O_CREAT | os.O_WRONLY, 0o755))
        else:
            os.symlink(_SYMLINKS[path], full)
    for path, lower in reversed(made):  # deepest first: children no longer touch the times
        if lower is not None:
            os.chown(path, lower.st_uid, lower.st_gid)
            os.chmod(path, stat.S_IMODE(lower.st_mode))
            os.utime(path, ns=(lower.st_atime_ns, lower.st_mtime_ns))
