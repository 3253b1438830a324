"""Content-addressed blob store: <root>/content/blobs/sha256/<hex>, each with a row in the
`blobs` table (layer_rows.py) so garbage collection finds unreferenced blobs by a query.

A blob is written to a temp file under content/ingest while it is hashed, fsynced, checked
against the expected digest and only then renamed into place (and the directory fsynced),
and then its row is committed (attached to the writer's lease, if any, in the same
transaction). A mismatch, an error or a crash leaves no row; leftovers in ingest/ and blob
files without a row are removed when the store opens. Deletion runs the other way round:
the row goes in a transaction, the file after it commits (`remove_files`). Both "rename
into place, insert row" and "no row, so unlink" run under the database's lock, which orders
them (and, being the only lock, cannot deadlock with a caller's transaction).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from ..errors import InvalidParameter
from ..linux import atomic
from . import layer_rows
from .db import FILENAME as DB_FILENAME
from .db import Database

_HEX64 = re.compile(r"^[a-f0-9]{64}$")
CHUNK = 1 << 20


class DigestMismatch(InvalidParameter):
    pass


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class BlobWriter:
    """An in-progress blob: write() while hashing, then commit() (verifies) or abort()."""

    def __init__(self, store: "ContentStore", expected: str | None = None,
                 hashed_by_caller: bool = False, lease: str | None = None) -> None:
        if expected is not None:
            store.path(expected)      # validates the digest's form before any byte lands
        self.store = store
        # the caller hashes the very bytes it writes (a layer applier): commit() takes its
        # digest instead of computing the same one a second time
        self.hashed_by_caller = hashed_by_caller
        self.expected = expected
        self.lease = lease
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
            self.store.commit_file(self.tmp, digest, self.size, self.lease)
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
    def __init__(self, data_root: str, db: Database | None = None) -> None:
        base = os.path.join(data_root, "content")
        self.root = os.path.join(base, "blobs", "sha256")
        self.ingest = os.path.join(base, "ingest")
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        self.db = db if db is not None else Database(os.path.join(data_root, DB_FILENAME))
        layer_rows.migrate(self.db, data_root)
        # a crash mid-write leaves only an ingest file: throw them all away
        shutil.rmtree(self.ingest, ignore_errors=True)
        os.makedirs(self.ingest, mode=0o700, exist_ok=True)
        self.remove_unnamed()

    def remove_unnamed(self) -> None:
        """Start-up: blob files no row names (a crash between file and row, or after a
        row's deletion committed) and temp files of older versions go."""
        rows = {r[0] for r in self.db.query("SELECT digest FROM blobs")}
        for name in os.listdir(self.root):
            if name.startswith(".") or (_HEX64.match(name) and f"sha256:{name}" not in rows):
                try:
                    os.unlink(os.path.join(self.root, name))
                except OSError:
                    pass

    def commit_file(self, tmp: str, digest: str, size: int, lease: str | None) -> None:
        """A complete, fsynced temp file becomes the blob: file into place, then its row
        (and the lease's hold on it) in one transaction."""
        with self.db.transaction() as conn:
            os.chmod(tmp, 0o600)
            os.rename(tmp, self.path(digest))
            atomic.fsync_dir(self.root)
            conn.execute("INSERT OR IGNORE INTO blobs (digest, size) VALUES (?, ?)",
                         (digest, size))
            layer_rows.attach(conn, lease, "blob", digest)

    def path(self, digest: str) -> str:
        algorithm, _, hexpart = digest.partition(":")
        if algorithm != "sha256" or not _HEX64.match(hexpart):
            raise InvalidParameter(f"invalid digest: {digest}")
        return os.path.join(self.root, hexpart)

    def exists(self, digest: str) -> bool:
        self.path(digest)
        return self.db.query_one("SELECT 1 FROM blobs WHERE digest = ?", (digest,)) is not None

    def claim(self, digest: str, lease: str | None) -> bool:
        """Whether the blob is there; if so the lease now holds it (atomic with GC)."""
        if lease is None:
            return self.exists(digest)
        with self.db.transaction() as conn:
            found = conn.execute("SELECT 1 FROM blobs WHERE digest = ?", (digest,)).fetchone()
            if found is not None:
                layer_rows.attach(conn, lease, "blob", digest)
        return found is not None

    def size(self, digest: str) -> int:
        return os.path.getsize(self.path(digest))

    def read(self, digest: str) -> bytes:
        with open(self.path(digest), "rb") as f:
            return f.read()

    def open(self, digest: str) -> BinaryIO:
        return open(self.path(digest), "rb")

    def writer(self, expected: str | None = None, hashed_by_caller: bool = False,
               lease: str | None = None) -> BlobWriter:
        return BlobWriter(self, expected, hashed_by_caller, lease)

    def write(self, data: bytes, expected: str | None = None, lease: str | None = None) -> str:
        """Store bytes; the digest is checked before anything is written."""
        digest = digest_of(data)
        if expected is not None and expected != digest:
            self.path(expected)
            raise DigestMismatch(f"digest mismatch: expected {expected}, got {digest}")
        if not self.claim(digest, lease):
            with self.writer(lease=lease) as w:
                w.write(data)
                w.commit(digest)
        return digest

    def write_stream(self, source: BinaryIO | Iterable[bytes], expected: str | None = None,
                     lease: str | None = None) -> str:
        """Store a file object's or an iterable's bytes, hashing as they stream."""
        with self.writer(expected, lease=lease) as w:
            if hasattr(source, "read"):
                while chunk := source.read(CHUNK):  # type: ignore[union-attr]
                    w.write(chunk)
            else:
                for chunk in source:  # type: ignore[union-attr]
                    w.write(chunk)
            return w.commit()

    def remove_files(self, digests: Iterable[str]) -> None:
        """After the transaction that deleted their rows: unlink the files, unless a writer
        put a row back meanwhile."""
        for digest in digests:
            with self.db.held() as conn:
                if conn.execute("SELECT 1 FROM blobs WHERE digest = ?",
                                (digest,)).fetchone() is None:
                    try:
                        os.unlink(self.path(digest))
                    except FileNotFoundError:
                        pass

    def missing(self) -> list[str]:
        """Digests whose row names a file that is gone."""
        return [r[0] for r in self.db.query("SELECT digest FROM blobs")
                if not os.path.exists(self.path(r[0]))]

    def delete(self, digest: str) -> bool:
        """The row, then (once that commits) the file."""
        with self.db.transaction() as conn:
            gone = conn.execute("DELETE FROM blobs WHERE digest = ?", (digest,)).rowcount
        self.remove_files([digest])
        return gone > 0

    def list(self) -> Iterator[str]:
        for row in self.db.query("SELECT digest FROM blobs ORDER BY digest"):
            yield row[0]
