"""A container's writable layer (the overlay upper dir) as an OCI layer tar, for commit.

Overlay whiteouts become OCI ones: a 0/0 character device `x` is written as an empty file
`.wh.x`, a directory with trusted.overlay.opaque=y gets a `.wh..wh..opq` entry after its own.
Paths in `skip` (mount points the runtime made, e.g. /etc/hostname, when still empty) are left
out, as Docker's init layer hides them, and so are directories overlay merely copied up.
Hard links inside the layer stay hard links.
"""
from __future__ import annotations

import os
import stat
import tarfile
from typing import BinaryIO

from ..cppaths import tar_header
from .layers import OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX


class _Counter:
    def __init__(self, out: BinaryIO) -> None:
        self.out, self.total, self.entries = out, 0, 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.total += len(data)
        return len(data)

    def tell(self) -> int:
        return self.total


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _lower_stat(lowerdirs: list[str], rel: str) -> os.stat_result | None:
    for lower in lowerdirs:
        try:
            return os.lstat(os.path.join(lower, rel))
        except OSError:
            continue
    return None


def write_upper_tar(upperdir: str, out: BinaryIO, skip: set[str] = frozenset(),
                    lowerdirs: list[str] | None = None, clamp: int | None = None) -> int:
    """Write the layer tar; returns the number of entries (0: the layer is empty).
    With `clamp` (SOURCE_DATE_EPOCH) no entry's time is later, so equal trees give
    byte-equal tars (entries are always in sorted order).

    A directory the image already has, with unchanged owner and mode, is only written when
    something below it is (overlay copies such directories up just to hold a change)."""
    counter = _Counter(out)
    tar = tarfile.TarFile(fileobj=counter, mode="w",  # type: ignore[arg-type]
                          format=tarfile.PAX_FORMAT)
    links: dict[tuple[int, int], str] = {}
    pending: list[tarfile.TarInfo] = []     # copied-up parents not written yet
    entries = 0

    def add(info: tarfile.TarInfo, fileobj: BinaryIO | None = None) -> None:
        nonlocal entries
        for parent in pending:
            if clamp is not None:
                parent.mtime = min(parent.mtime, clamp)
            tar.addfile(parent)
            entries += 1
        pending.clear()
        if clamp is not None:
            info.mtime = min(info.mtime, clamp)
        tar.addfile(info, fileobj)
        entries += 1

    def walk(directory: str, prefix: str) -> None:
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            rel = f"{prefix}{name}"
            st = os.lstat(path)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                info = tarfile.TarInfo(f"{prefix}{WHITEOUT_PREFIX}{name}")
                info.mtime = st.st_mtime_ns // 1_000_000_000
                add(info)
                continue
            if "/" + rel in skip and stat.S_ISREG(st.st_mode) and st.st_size == 0:
                continue
            info = tar_header(path, rel, st)
            if info is None:
                continue
            if info.isreg() and st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                if key in links:
                    info.type, info.size, info.linkname = tarfile.LNKTYPE, 0, links[key]
                    add(info)
                    continue
                links[key] = rel
            if info.isreg():
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                with os.fdopen(fd, "rb") as f:
                    add(info, f)
                continue
            if not info.isdir():
                add(info)
                continue
            lower = _lower_stat(lowerdirs or [], rel)
            opaque = _opaque(path)
            if opaque or lower is None or not stat.S_ISDIR(lower.st_mode) or \
                    (lower.st_mode, lower.st_uid, lower.st_gid) != \
                    (st.st_mode, st.st_uid, st.st_gid):
                add(info)
            else:
                pending.append(info)
            if opaque:
                marker = tarfile.TarInfo(f"{rel}/{WHITEOUT_OPAQUE}")
                marker.mtime = info.mtime
                add(marker)
            walk(path, f"{rel}/")
            if pending and pending[-1] is info:
                pending.pop()

    walk(upperdir, "")
    counter.write(tarfile.NUL * (2 * tarfile.BLOCKSIZE))
    tar.closed = True
    return entries
