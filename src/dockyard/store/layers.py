"""Apply a layer (tar, optionally gzip-compressed) into a directory, computing its diff ID.

OCI whiteouts become overlayfs whiteouts (0/0 character devices) and opaque directories
(trusted.overlay.opaque=y). No entry may write outside the target directory: names are
confined, and parents are resolved without following symlinks out of it.
"""
from __future__ import annotations

import hashlib
import os
import stat
import tarfile
import zlib
from typing import BinaryIO

from ..errors import InvalidParameter
from ..linux.securejoin import secure_join

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"


class _HashingReader:
    """Decompresses (gzip auto-detected) and hashes the uncompressed tar stream."""

    def __init__(self, raw: BinaryIO, sink: BinaryIO | None = None) -> None:
        self.raw = raw
        self.sink = sink
        self.hash = hashlib.sha256()
        self.size = 0
        self._inflate: zlib._Decompress | None = None
        self._pending = b""
        self._started = False
        self._eof = False

    def _fill(self, want: int) -> None:
        while len(self._pending) < want and not self._eof:
            chunk = self.raw.read(1 << 20)
            if not self._started:
                self._started = True
                if chunk[:2] == b"\x1f\x8b":
                    self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            if not chunk:
                self._eof = True
                if self._inflate is not None:
                    self._pending += self._inflate.flush()
                break
            self._pending += self._inflate.decompress(chunk) if self._inflate else chunk

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 62
        self._fill(size)
        data, self._pending = self._pending[:size], self._pending[size:]
        self.hash.update(data)
        if self.sink is not None and data:
            self.sink.write(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def _clean_name(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    out: list[str] = []
    for part in parts:
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(part)
    return "/".join(out)


def _safe_parent(root: str, rel: str) -> str:
    """The host path for `rel`: its parent resolved inside root (symlinks confined)."""
    parent, _, base = rel.rpartition("/")
    parent_path = secure_join(root, parent) if parent else root
    return os.path.join(parent_path, base)


def _remove(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        import shutil
        shutil.rmtree(path)
    else:
        os.unlink(path)


def apply_layer(stream: BinaryIO, target: str, sink: BinaryIO | None = None
                ) -> tuple[str, int]:
    """Unpack into `target` (an empty dir); return (diff ID, uncompressed size). The
    uncompressed tar is also written to `sink` when given (kept for `save` and `push`)."""
    reader = _HashingReader(stream, sink)
    try:
        archive = tarfile.open(fileobj=reader, mode="r|")  # type: ignore[arg-type]
    except tarfile.TarError as exc:
        raise InvalidParameter(f"invalid tar archive: {exc}") from None
    dirs: list[tuple[str, tarfile.TarInfo]] = []
    try:
        for member in archive:
            rel = _clean_name(member.name)
            if not rel:
                continue
            path = _safe_parent(target, rel)
            base = os.path.basename(rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if base == OPAQUE:
                os.setxattr(os.path.dirname(path), "trusted.overlay.opaque", b"y")
                continue
            if base.startswith(WHITEOUT_PREFIX):
                hidden = os.path.join(os.path.dirname(path), base[len(WHITEOUT_PREFIX):])
                _remove(hidden)
                os.mknod(hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0))
                continue
            _extract(archive, member, path, target)
            if member.isdir():
                dirs.append((path, member))
        reader.drain()
    except tarfile.TarError as exc:
        raise InvalidParameter(f"invalid tar archive: {exc}") from None
    for path, member in reversed(dirs):  # directory times last, after their contents
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
    return "sha256:" + reader.hash.hexdigest(), reader.size


def _extract(archive: tarfile.TarFile, member: tarfile.TarInfo, path: str, root: str) -> None:
    if os.path.lexists(path) and not (member.isdir() and os.path.isdir(path)
                                      and not os.path.islink(path)):
        _remove(path)
    mode = member.mode & 0o7777
    if member.isdir():
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)
    elif member.isreg():
        src = archive.extractfile(member)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        with os.fdopen(fd, "wb") as f:
            assert src is not None
            while chunk := src.read(1 << 20):
                f.write(chunk)
        os.chmod(path, mode)
    elif member.issym():
        os.symlink(member.linkname, path)
    elif member.islnk():
        source = secure_join(root, _clean_name(member.linkname))
        if not os.path.lexists(source) or os.path.commonpath([root, source]) != root:
            raise InvalidParameter(f"invalid hardlink {member.name} -> {member.linkname}")
        os.link(source, path, follow_symlinks=False)
        return
    elif member.ischr() or member.isblk():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(path, kind | mode, os.makedev(member.devmajor, member.devminor))
    elif member.isfifo():
        os.mkfifo(path, mode)
    else:
        return
    os.lchown(path, member.uid, member.gid)
    if not member.issym():
        os.chmod(path, mode)  # chown clears setuid bits
        for key, value in (member.pax_headers or {}).items():
            if key.startswith("SCHILY.xattr."):
                try:
                    os.setxattr(path, key[len("SCHILY.xattr."):], value.encode("utf-8",
                                                                              "surrogateescape"))
                except OSError:
                    pass
        if not member.isdir():
            os.utime(path, (member.mtime, member.mtime))
    else:
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
