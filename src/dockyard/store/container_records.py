"""Container records as rows of the metadata database (component "containers").

Table containers (id PK, name, image_id, record): `record` is Docker's container JSON, the
whole of it (Mounts and NetworkSettings included); name and image_id are copies for queries
(the store check, GC). A container exists once its row does: create commits the row last,
rm deletes it first. Files beside it stay files: the bundle, logs, and the exit.json the shim
writes.

Saves come from the event loop, so they never touch the disk there: `save` serialises the
record at once (a consistent snapshot) and hands the write to the database's one writer
thread, in order; callers that must know the row is durable before they answer await the
returned future (`asyncio.wrap_future`).
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
from concurrent.futures import Future
from typing import Any

from .db import Database

log = logging.getLogger(__name__)

COMPONENT = "containers"
LEGACY_RECORD = "config.v2.json"    # the JSON layout's record, containers/<id>/config.v2.json
_SCHEMA = """
CREATE TABLE containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    image_id TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX containers_image ON containers (image_id);
"""
_UPSERT = ("INSERT INTO containers (id, name, image_id, record) VALUES (?, ?, ?, ?) "
           "ON CONFLICT(id) DO UPDATE SET name = excluded.name, image_id = excluded.image_id, "
           "record = excluded.record")


def migrate(db: Database, containers_root: str) -> None:
    """Create the table; on a data root of the JSON layout, import its records (step 2)."""
    db.migrate(COMPONENT, [_SCHEMA, lambda conn: _import_files(conn, containers_root)])


def _logged(future: Future[None], what: str) -> Future[None]:
    """Most saves are not awaited: a failed one (a full disk) is logged, not lost unseen."""
    def check(done: Future[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            log.error("%s failed: %s", what, done.exception())
    future.add_done_callback(check)
    return future


def _record(text: str) -> dict[str, Any]:
    record = json.loads(text)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    return record


def _row(record: dict[str, Any]) -> tuple[str, str, str, str]:
    return (record["Id"], record.get("Name", ""), record.get("Image", ""),
            json.dumps(record, separators=(",", ":")))


class ContainerRecords:
    def __init__(self, db: Database, containers_root: str) -> None:
        self.db = db
        migrate(db, containers_root)
        remove_legacy_files(db, containers_root)

    def load(self) -> dict[str, dict[str, Any]]:
        """Every readable record by container ID (daemon start-up); an unreadable one is
        left alone, and `system check` reports it."""
        records = {}
        for row in self.db.query("SELECT id, record FROM containers"):
            try:
                records[row["id"]] = _record(row["record"])
            except ValueError as exc:
                log.warning("skipping container %s: its record is unreadable: %s",
                            row["id"][:12], exc)
        return records

    def ids(self) -> set[str]:
        return {row["id"] for row in self.db.query("SELECT id FROM containers")}

    def save(self, record: dict[str, Any]) -> Future[None]:
        row = _row(record)
        return _logged(self.db.submit(self._write, row), f"saving container {row[0][:12]}")

    def delete(self, cid: str) -> Future[None]:
        return _logged(self.db.submit(self._delete, cid), f"deleting container {cid[:12]}")

    def _write(self, row: tuple[str, str, str, str]) -> None:
        with self.db.transaction() as conn:
            conn.execute(_UPSERT, row)

    def _delete(self, cid: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM containers WHERE id = ?", (cid,))


# --- the JSON layout before the database ------------------------------------------------------
def _import_files(conn: sqlite3.Connection, containers_root: str) -> None:
    try:
        names = sorted(os.listdir(containers_root))
    except FileNotFoundError:
        return
    count = 0
    for cid in names:
        path = os.path.join(containers_root, cid, LEGACY_RECORD)
        try:
            with open(path, "rb") as f:
                record = json.load(f)
            if not isinstance(record, dict) or record.get("Id") != cid:
                raise ValueError("its Id does not match its directory")
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            log.warning("migration: container %s keeps its unreadable record file: %s",
                        cid[:12], exc)
            continue
        conn.execute(_UPSERT, _row(record))
        count += 1
    if count:
        log.warning("migrated %d container records from %s to the metadata database", count,
                    containers_root)


def remove_legacy_files(db: Database, containers_root: str) -> None:
    """Once imported (the migration committed), the record files go; one the import could
    not read stays, and `system check` reports it."""
    try:
        names = os.listdir(containers_root)
    except FileNotFoundError:
        return
    imported = {row["id"] for row in db.query("SELECT id FROM containers")}
    for cid in names:
        path = os.path.join(containers_root, cid, LEGACY_RECORD)
        if cid in imported and os.path.exists(path):
            os.unlink(path)
