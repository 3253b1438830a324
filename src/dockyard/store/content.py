"""Content-addressed blob store: <root>/content/blobs/sha256/<hex>.

A blob is written to a temp file under content/ingest while it is hashed, fsynced, checked
against the expected digest and only then renamed into place (and the directory fsynced).
A mismatch, an error or a crash leaves nothing under blobs/; leftovers in ingest/ are
removed when the store opens.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from typing import BinaryIO, Iterable, Iterator

from ..errors import InvalidParameter
from ..linux import atomic

_HEX64 = re.compile(r"^[a-f0-9]{64}$")
CHUNK = 1 << 20


class DigestMismatch(InvalidParameter):
    pass


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class BlobWriter:
    """An in-progress blob: write() while hashing, then commit() (verifies) or abort()."""

    def __init__(self, store: "ContentStore", expected: str | None = None,
                 hashed_by_caller: bool = False) -> None:
        if expected is not None:
            store.path(expected)      # validates the digest's form before any byte lands
        self.store = store
        # the caller hashes the very bytes it writes (a layer applier): commit() takes its
        # digest instead of computing the same one a second time
        self.hashed_by_caller = hashed_by_caller
        self.expected = expected
        self.hash = hashlib.sha256()
        self.size = 0
        self.tmp = os.path.join(store.ingest, f"{os.getpid()}-{os.urandom(8).hex()}")
        self._file: BinaryIO | None = open(self.tmp, "xb")
        self.digest: str | None = None

    def write(self, data: bytes) -> int:
        assert self._file is not None
        if not self.hashed_by_caller:
            self.hash.update(data)
        self.size += len(data)
        self._file.write(data)
        return len(data)

    def commit(self, expected: str | None = None) -> str:
        expected = expected or self.expected
        if self.hashed_by_caller and expected is None:
            raise ValueError("a blob hashed by its writer needs the digest at commit")
        digest = expected if self.hashed_by_caller else "sha256:" + self.hash.hexdigest()
        try:
            if expected is not None and expected != digest:
                raise DigestMismatch(f"digest mismatch: expected {expected}, got {digest}")
            assert self._file is not None
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            final = self.store.path(digest)
            if os.path.exists(final):
                os.unlink(self.tmp)
            else:
                os.chmod(self.tmp, 0o600)
                os.rename(self.tmp, final)
                atomic.fsync_dir(self.store.root)
            self.digest = digest
            return digest
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass

    def __enter__(self) -> "BlobWriter":
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None or self.digest is None:
            self.abort()


class ContentStore:
    def __init__(self, data_root: str) -> None:
        base = os.path.join(data_root, "content")
        self.root = os.path.join(base, "blobs", "sha256")
        self.ingest = os.path.join(base, "ingest")
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        # a crash mid-write leaves only an ingest file: throw them all away
        shutil.rmtree(self.ingest, ignore_errors=True)
        os.makedirs(self.ingest, mode=0o700, exist_ok=True)
        for name in os.listdir(self.root):   # temp files of older versions
            if name.startswith("."):
                try:
                    os.unlink(os.path.join(self.root, name))
                except OSError:
                    pass

    def path(self, digest: str) -> str:
        algorithm, _, hexpart = digest.partition(":")
        if algorithm != "sha256" or not _HEX64.match(hexpart):
            raise InvalidParameter(f"invalid digest: {digest}")
        return os.path.join(self.root, hexpart)

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: str) -> int:
        return os.path.getsize(self.path(digest))

    def read(self, digest: str) -> bytes:
        with open(self.path(digest), "rb") as f:
            return f.read()

    def open(self, digest: str) -> BinaryIO:
        return open(self.path(digest), "rb")

    def writer(self, expected: str | None = None, hashed_by_caller: bool = False
               ) -> BlobWriter:
        return BlobWriter(self, expected, hashed_by_caller)

    def write(self, data: bytes, expected: str | None = None) -> str:
        """Store bytes; the digest is checked before anything is written."""
        digest = digest_of(data)
        if expected is not None and expected != digest:
            self.path(expected)
            raise DigestMismatch(f"digest mismatch: expected {expected}, got {digest}")
        if not os.path.exists(self.path(digest)):
            with self.writer() as w:
                w.write(data)
                w.commit(digest)
        return digest

    def write_stream(self, source: BinaryIO | Iterable[bytes], expected: str | None = None
                     ) -> str:
        """Store a file object's or an iterable's bytes, hashing as they stream."""
        with self.writer(expected) as w:
            if hasattr(source, "read"):
                while chunk := source.read(CHUNK):  # type: ignore[union-attr]
                    w.write(chunk)
            else:
                for chunk in source:  # type: ignore[union-attr]
                    w.write(chunk)
            return w.commit()

    def delete(self, digest: str) -> bool:
        try:
            os.unlink(self.path(digest))
            return True
        except FileNotFoundError:
            return False

    def list(self) -> Iterator[str]:
        for name in os.listdir(self.root):
            if _HEX64.match(name):
                yield f"sha256:{name}"
