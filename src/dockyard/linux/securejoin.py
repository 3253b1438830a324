"""Resolve a path inside a container root as if that root were '/'.

Symlinks are followed by hand and '..' never climbs above the root, so a hostile image cannot
make the engine read or write outside its root filesystem (the same idea as
filepath-securejoin). The result may name a path that does not exist yet.
"""
from __future__ import annotations

import errno
import stat
import os

_MAX_LINKS = 255


def secure_join(root: str, unsafe_path: str) -> str:
    root = os.path.abspath(root)
    pending = [p for p in unsafe_path.split("/") if p]
    pending.reverse()
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if not stat.S_ISLNK(st.st_mode):
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_LINKS:
            raise OSError(errno.ELOOP, "too many levels of symbolic links", unsafe_path)
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        for p in reversed([p for p in target.split("/") if p]):
            pending.append(p)
    return os.path.join(root, *resolved)
