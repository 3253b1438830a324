"""Reading a layer blob: detecting and undoing its compression (gzip, bzip2, xz, zstd),
hashing both the bytes as they came (the blob's digest) and the tar inside (the diff ID),
and copying the tar to a sink, all in a producer thread ahead of the tar parser."""
from __future__ import annotations

import bz2
import hashlib
import lzma
import os
import queue
import threading
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable

from ..errors import InvalidParameter

_RAW_CHUNK = 64 * 1024        # bounded by decompression ratio: a chunk inflates to <= ~66 MB
_READ_AHEAD = 64              # decompressed chunks the producer may run ahead


class LayerError(InvalidParameter):
    pass


@dataclass
class LayerStats:
    diff_id: str            # sha256 of the uncompressed tar
    digest: str             # sha256 of the bytes as read (compressed or not)
    tar_size: int           # uncompressed tar length
    compression: str        # "", "gzip", "bzip2", "xz", "zstd"


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
    bytes and copies the uncompressed ones to `sink`.

    Reading, decompressing, hashing and copying run in a producer thread (zlib, hashlib and
    file writes release the GIL), so they overlap with the tar parsing and unpacking of the
    thread that reads; a bounded queue keeps at most a few MB in between."""

    def __init__(self, raw: BinaryIO, sink: Any = None) -> None:
        self.raw = raw
        self.sink = sink
        self.raw_hash = hashlib.sha256()
        self.hash = hashlib.sha256()
        self.raw_size = 0
        self.size = 0
        self.compression = ""
        self._decomp: Any = None
        self._chunk = b""       # the decompressed chunk being read
        self._pos = 0           # read position in it
        self._base = 0          # stream offset of _chunk[0]
        self._eof = False
        self._queue: queue.Queue[Any] = queue.Queue(_READ_AHEAD)
        self._stop = False
        self._thread: threading.Thread | None = None

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
        return head

    def _emit(self, data: bytes) -> None:
        if data:
            self.hash.update(data)
            self.size += len(data)
            if self.sink is not None:
                self.sink.write(data)
            self._queue.put(data)

    def _produce(self) -> None:
        try:
            chunk = self._start()
            while chunk and not self._stop:
                try:
                    data = self._decomp.feed(chunk) if self._decomp is not None else chunk
                except (zlib.error, OSError, EOFError, lzma.LZMAError) as exc:
                    raise LayerError(f"invalid {self.compression} stream: {exc}") from None
                self._emit(data)
                chunk = self._read_raw()
            if self._decomp is not None and not self._stop:
                self._emit(self._decomp.finish())
            self._queue.put(None)
        except BaseException as exc:  # noqa: BLE001 - raised again in the reading thread
            self._queue.put(exc)

    def _next_chunk(self) -> bool:
        """Move on to the producer's next chunk; False at the end of the stream."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._produce, daemon=True)
            self._thread.start()
        if self._eof:
            return False
        item = self._queue.get()
        if item is None or isinstance(item, BaseException):
            self._eof = True
            if item is not None:
                raise item
            return False
        self._base += len(self._chunk)
        self._chunk = item
        self._pos = 0
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Slices of the producer's chunks: one copy at most (none for a whole chunk)."""
        if size is None or size < 0:
            size = 1 << 62
        if self._pos >= len(self._chunk) and not self._next_chunk():
            return b""
        end = self._pos + size
        if end <= len(self._chunk):
            data = self._chunk[self._pos:end]
            self._pos = end
            return data
        parts = [self._chunk[self._pos:]]
        got = len(parts[0])
        self._pos = len(self._chunk)
        while got < size and self._next_chunk():
            take = self._chunk[:size - got]
            self._pos = len(take)
            parts.append(take)
            got += len(take)
        return b"".join(parts)

    # tell/seek let tarfile read this in its random-access mode, where it reads headers
    # and data straight from here instead of copying them through its own stream buffer
    # (that copying was a good part of the time the parsing thread holds the GIL).
    def tell(self) -> int:
        return self._base + self._pos

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Forward seeks read (and hash) what they skip; backward ones only within the
        bytes still buffered, which is all tarfile's sequential reading needs."""
        if whence == os.SEEK_CUR:
            offset += self.tell()
        elif whence != os.SEEK_SET:
            raise OSError("LayerReader seeks from the start or the current position only")
        if offset < self._base:     # before the current chunk: gone
            raise OSError("LayerReader cannot seek back that far")
        if offset < self._base + self._pos:
            self._pos = offset - self._base
            return offset
        while offset - self.tell() > len(self._chunk) - self._pos:
            self._pos = len(self._chunk)
            if not self._next_chunk():
                return self.tell()
        self._pos += offset - self.tell()
        return offset

    def drain(self) -> None:
        """Read (and hash) whatever tarfile left after the end-of-archive marker."""
        while self.read(1 << 20):
            pass

    def close(self) -> None:
        """Stop the producer (after an error, when the rest of the stream is not wanted)."""
        self._stop = True
        thread = self._thread
        while thread is not None and thread.is_alive():
            try:
                self._queue.get(timeout=0.1)
            except queue.Empty:
                pass
        self._thread = None

    def stats(self) -> LayerStats:
        return LayerStats("sha256:" + self.hash.hexdigest(),
                          "sha256:" + self.raw_hash.hexdigest(), self.size, self.compression)
