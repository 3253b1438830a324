"""Content-addressed blob store: blobs/sha256/<hex>, verified and written atomically."""
from __future__ import annotations

import hashlib
import os
from typing import BinaryIO, Iterator

from ..errors import InvalidParameter
from ..linux import atomic


class DigestMismatch(InvalidParameter):
    pass


class ContentStore:
    def __init__(self, root: str) -> None:
        self.root = os.path.join(root, "content", "blobs", "sha256")
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        for name in os.listdir(self.root):  # partial blobs from an interrupted write
            if name.startswith((".ingest-", ".tmp-")):
                os.unlink(os.path.join(self.root, name))

    def path(self, digest: str) -> str:
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256" or len(hexpart) != 64 or not all(c in "0123456789abcdef"
                                                               for c in hexpart):
            raise InvalidParameter(f"invalid digest: {digest}")
        return os.path.join(self.root, hexpart)

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def read(self, digest: str) -> bytes:
        with open(self.path(digest), "rb") as f:
            return f.read()

    def open(self, digest: str) -> BinaryIO:
        return open(self.path(digest), "rb")

    def size(self, digest: str) -> int:
        return os.path.getsize(self.path(digest))

    def write(self, data: bytes, expected: str | None = None) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if expected and expected != digest:
            raise DigestMismatch(f"digest mismatch: expected {expected}, got {digest}")
        path = self.path(digest)
        if not os.path.exists(path):
            atomic.write_bytes(path, data, 0o600)
        return digest

    def write_stream(self, chunks: Iterator[bytes], expected: str | None = None) -> str:
        """Stream into a temp file while hashing; verify; rename into place."""
        hasher = hashlib.sha256()
        tmp = os.path.join(self.root, f".ingest-{os.getpid()}-{os.urandom(6).hex()}")
        try:
            with open(tmp, "wb") as f:
                for chunk in chunks:
                    hasher.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            digest = "sha256:" + hasher.hexdigest()
            if expected and expected != digest:
                raise DigestMismatch(f"digest mismatch: expected {expected}, got {digest}")
            os.rename(tmp, self.path(digest))
            atomic.fsync_dir(self.root)
            return digest
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def temp_file(self) -> tuple[str, BinaryIO]:
        """A temp file in the store for a blob whose digest is known only once written."""
        path = os.path.join(self.root, f".ingest-{os.getpid()}-{os.urandom(6).hex()}")
        return path, open(path, "wb")

    def commit_temp(self, path: str, digest: str) -> None:
        if os.path.exists(self.path(digest)):
            os.unlink(path)
            return
        with open(path, "rb+") as f:
            os.fsync(f.fileno())
        os.rename(path, self.path(digest))
        atomic.fsync_dir(self.root)

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass
