"""The daemon's metadata database: one SQLite file, <data-root>/metadata.db.

Why SQLite: an operation that changes several records (rmi of an image with many tags, a
prune, connecting a container to a network, a volume's reference count) becomes one
transaction, so a crash leaves all of it or none of it, and nothing needs a clean-up pass
that guesses from write order. Blobs, layer directories and volume data stay on disk; the
database holds what names them.

WAL journal with synchronous=FULL: a committed transaction survives a power cut, and readers
never wait for the writer's fsync. One connection shared by every thread and serialised by a
lock: the daemon holds the data-root lock, so it is the only writer, and statements are short.
A commit fsyncs, so code on the event loop runs writes in a thread (`asyncio.to_thread`).

Each service owns its tables. It declares them as a numbered list of migration steps
(`Database.migrate`); steps not yet applied run once, each in its own transaction, and the
version reached is kept in `schema_versions`.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

FILENAME = "metadata.db"
# the files SQLite keeps beside the database; the store check expects them
SIDE_FILES = (FILENAME, FILENAME + "-wal", FILENAME + "-shm")

Step = str | Callable[[sqlite3.Connection], None]


class Database:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0          # nesting of transaction() on the thread holding the lock
        self._ending: list[Callable[[bool], None]] = []   # see when_done
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("CREATE TABLE IF NOT EXISTS schema_versions ("
                           "component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        self._writer: ThreadPoolExecutor | None = None
        self._queued = 0         # writes submitted and not done yet

    def close(self) -> None:
        """Waits for the writes already submitted, then closes."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)
        with self._lock:
            self._conn.close()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run `fn(*args)` on the database's one writer thread: code on the event loop hands
        its writes (and their fsync) here, in order, and may await the result
        (`asyncio.wrap_future`)."""
        with self._lock:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="db-writer")
            self._queued += 1
        future = self._writer.submit(fn, *args)
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future[Any]) -> None:
        with self._lock:
            self._queued -= 1

    async def settled(self) -> None:
        """Wait until every write submitted so far is done: the API answers only then, so
        what an answer reports has reached the disk."""
        if self._queued:
            await asyncio.wrap_future(self.submit(_nothing))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK if the block raises. A transaction opened
        inside another on the same thread joins it: the outer one decides."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                self._end(False)
                raise
            self._depth = 0
            self._conn.execute("COMMIT")
        self._end(True)

    @contextmanager
    def held(self) -> Iterator[sqlite3.Connection]:
        """The connection under its lock, outside any transaction: for a read and a file
        change that no other thread's transaction may fall between (no commit, no fsync)."""
        with self._lock:
            yield self._conn

    def when_done(self, fn: Callable[[bool], None]) -> None:
        """Call `fn(committed)` once the transaction this thread is in ends (at once, with
        True, outside one): file work that must follow a commit, such as removing the layers
        its rows stopped naming, runs after it and without holding the database."""
        with self._lock:
            if self._depth:
                self._ending.append(fn)
                return
        fn(True)

    def _end(self, committed: bool) -> None:
        with self._lock:
            ending, self._ending = self._ending, []
        for fn in ending:
            try:
                fn(committed)
            except Exception:       # the transaction's outcome stands; say what failed
                log.exception("after the transaction: %r failed", fn)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str,
                  params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def version(self, component: str) -> int:
        row = self.query_one("SELECT version FROM schema_versions WHERE component = ?",
                             (component,))
        return row["version"] if row else 0

    def migrate(self, component: str, steps: Sequence[Step]) -> None:
        """Bring `component`'s tables to len(steps). A step is SQL (may hold several
        statements) or a function given the connection, e.g. to import an older on-disk
        layout; a step that fails leaves the version where it was."""
        for number, step in enumerate(steps, start=1):
            if number <= self.version(component):
                continue
            with self.transaction() as conn:
                if callable(step):
                    step(conn)
                else:
                    for statement in _statements(step):
                        conn.execute(statement)
                conn.execute("INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                             "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                             (component, number))


def _nothing() -> None:
    pass


def _statements(script: str) -> Iterator[str]:
    """Split a script into complete statements (executescript would COMMIT first)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement: {pending.strip()!r}")
