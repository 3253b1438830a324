"""Apply a layer (a tar stream, optionally gzip/bzip2/xz/zstd-compressed) to a directory.

The uncompressed bytes are hashed on the fly (the layer's diff ID) and may be copied to a
sink (the content store keeps every layer's tar for `save`); the raw bytes are hashed too
(the digest of the blob as it came, which OCI manifests name).

OCI whiteouts become overlayfs ones: `.wh.<name>` a 0/0 character device, `.wh..wh..opq`
the xattr trusted.overlay.opaque=y on its directory.

Security: the entries are applied by dockyard/tarsafe.py, which confines every write to the
target (names clamped, parents resolved as if the target were '/', hard links only to
entries inside it, trusted.overlay.* xattrs from the archive dropped: only whiteouts made
here may steer overlayfs). Devices are created (the daemon is root), owners, modes, times
and other xattrs preserved.
"""
from __future__ import annotations

import bz2
import hashlib
import lzma
import os
import stat
import tarfile
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable

from ..errors import InvalidParameter
from ..tarsafe import UnpackError, clean_name, remove, unpack  # noqa: F401 (clean_name re-exported)

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
WHITEOUT_META_PREFIX = ".wh..wh."
OPAQUE_XATTR = "trusted.overlay.opaque"
_RAW_CHUNK = 64 * 1024        # bounded by decompression ratio: a chunk inflates to <= ~66 MB


class LayerError(InvalidParameter):
    pass


@dataclass
class LayerStats:
    diff_id: str            # sha256 of the uncompressed tar
    digest: str             # sha256 of the bytes as read (compressed or not)
    tar_size: int           # uncompressed tar length
    compression: str        # "", "gzip", "bzip2", "xz", "zstd"


# --- decompression ---------------------------------------------------------------------------

class _MultiStream:
    """A decompressor that continues across concatenated members (gzip, bzip2, xz)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self.current = factory()
        self.in_member = False

    def feed(self, data: bytes) -> bytes:
        out = []
        while data:
            self.in_member = True
            out.append(self.current.decompress(data))
            if self.current.eof:
                data = self.current.unused_data
                self.current = self.factory()
                self.in_member = False
                if not data.strip(b"\0"):   # zero padding after the last member
                    break
            else:
                data = b""
        return b"".join(out)

    def finish(self) -> bytes:
        if self.in_member:
            raise LayerError("unexpected EOF")
        return b""


class _Zstd:
    def __init__(self) -> None:
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError:
            raise LayerError("zstd-compressed layers need the zstandard module") from None
        self._zstd = zstandard
        self.current = zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> bytes:
        out = [self.current.decompress(data)]
        unused = getattr(self.current, "unused_data", b"")
        if getattr(self.current, "eof", False) and unused:
            self.current = self._zstd.ZstdDecompressor().decompressobj()
            out.append(self.feed(unused))
        return b"".join(out)

    def finish(self) -> bytes:
        return b""


def detect_compression(head: bytes) -> str:
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    return ""


def _decompressor(kind: str) -> Any:
    if kind == "gzip":
        return _MultiStream(lambda: zlib.decompressobj(16 + zlib.MAX_WBITS))
    if kind == "bzip2":
        return _MultiStream(bz2.BZ2Decompressor)
    if kind == "xz":
        return _MultiStream(lambda: lzma.LZMADecompressor(lzma.FORMAT_AUTO))
    if kind == "zstd":
        return _Zstd()
    return None


class LayerReader:
    """A file-like reader of the uncompressed tar. Hashes both the raw and the uncompressed
    bytes and copies the uncompressed ones to `sink`."""

    def __init__(self, raw: BinaryIO, sink: Any = None) -> None:
        self.raw = raw
        self.sink = sink
        self.raw_hash = hashlib.sha256()
        self.hash = hashlib.sha256()
        self.raw_size = 0
        self.size = 0
        self.compression = ""
        self._decomp: Any = None
        self._buf = bytearray()
        self._pos = 0
        self._started = False
        self._eof = False

    def _read_raw(self) -> bytes:
        try:
            chunk = self.raw.read(_RAW_CHUNK)
        except (zlib.error, OSError, EOFError) as exc:
            raise LayerError(f"error reading layer: {exc}") from None
        if chunk:
            self.raw_hash.update(chunk)
            self.raw_size += len(chunk)
        return chunk or b""

    def _start(self) -> bytes:
        head = b""
        while len(head) < 6:
            chunk = self._read_raw()
            if not chunk:
                break
            head += chunk
        self.compression = detect_compression(head)
        self._decomp = _decompressor(self.compression)
        self._started = True
        return head

    def _fill(self, want: int) -> None:
        while len(self._buf) - self._pos < want and not self._eof:
            chunk = self._start() if not self._started else self._read_raw()
            try:
                if not chunk:
                    self._eof = True
                    if self._decomp is not None:
                        self._buf += self._decomp.finish()
                    break
                self._buf += self._decomp.feed(chunk) if self._decomp is not None else chunk
            except (zlib.error, OSError, EOFError, lzma.LZMAError) as exc:
                raise LayerError(f"invalid {self.compression} stream: {exc}") from None

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 62
        self._fill(size)
        end = min(len(self._buf), self._pos + size)
        data = bytes(self._buf[self._pos:end])
        self._pos = end
        if self._pos >= (1 << 20):
            del self._buf[:self._pos]
            self._pos = 0
        if data:
            self.hash.update(data)
            self.size += len(data)
            if self.sink is not None:
                self.sink.write(data)
        return data

    def drain(self) -> None:
        """Read (and hash) whatever tarfile left after the end-of-archive marker."""
        while self.read(1 << 20):
            pass

    def stats(self) -> LayerStats:
        return LayerStats("sha256:" + self.hash.hexdigest(),
                          "sha256:" + self.raw_hash.hexdigest(), self.size, self.compression)


# --- application ----------------------------------------------------------------------------

def _whiteout(member: tarfile.TarInfo, parent: str, base: str) -> bool:
    """OCI whiteouts become overlay ones; other AUFS metadata is dropped."""
    if base == WHITEOUT_OPAQUE:
        os.setxattr(parent, OPAQUE_XATTR, b"y")
        return True
    if base.startswith(WHITEOUT_META_PREFIX):
        return True        # other AUFS metadata (.wh..wh.plnk and friends)
    if not base.startswith(WHITEOUT_PREFIX):
        return False
    hidden = base[len(WHITEOUT_PREFIX):]
    if hidden in ("", ".", ".."):
        raise LayerError(f"invalid whiteout: {member.name}")
    path = os.path.join(parent, hidden)
    remove(path)
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))
    os.lchown(path, member.uid, member.gid)
    return True


def apply_layer(stream: BinaryIO, target: str, sink: Any = None) -> LayerStats:
    """Unpack a layer into `target` (normally an empty directory) and return its digests.
    The whole stream is consumed, so the diff ID covers the tar's trailing blocks too."""
    target = os.path.abspath(target)
    reader = LayerReader(stream, sink)
    try:
        archive = tarfile.open(fileobj=reader, mode="r|",  # type: ignore[call-overload]
                               errorlevel=2)
    except tarfile.ReadError as exc:
        if reader.size == 0 and reader.raw_size == 0:
            raise LayerError("invalid tar archive: empty") from None
        raise LayerError(f"invalid tar archive: {exc}") from None
    try:
        unpack(archive, target, special=_whiteout)
        reader.drain()
    except UnpackError as exc:
        raise LayerError(exc.message.replace("invalid tar:", "invalid layer:")) from None
    except tarfile.TarError as exc:
        raise LayerError(f"invalid tar archive: {exc}") from None
    except OSError as exc:
        raise LayerError(f"failed to apply layer: {exc}") from None
    return reader.stats()


def directory_size(path: str) -> int:
    """Docker's layer DiffSize: apparent sizes of everything but directories, each inode
    counted once."""
    seen: set[int] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames + [d for d in dirnames
                                 if os.path.islink(os.path.join(dirpath, d))]:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if st.st_ino in seen:
                continue
            seen.add(st.st_ino)
            total += st.st_size
    return total
