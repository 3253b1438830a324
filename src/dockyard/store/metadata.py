"""Image metadata: the image records and the reference store, as rows of the metadata
database (component "images").

Tables:
- images (id PK, parent, created, record): one row per image; `record` is the JSON of what
  the config blob does not hold (chain IDs, size, parent, last tag time, the `pending` and
  `removed` flags).
- image_layers (image_id -> images.id ON DELETE CASCADE, position, chain_id): the image's
  layers bottom first, so "which layers does any image use" is one query (GC, check).
- image_refs (ref PK, image_id -> images.id): full reference ("docker.io/library/busybox:
  latest", "...@sha256:...") to image ID; a reference cannot name an image without a row.

The store keeps a mirror of both in memory (reads are dict look-ups, as before); every
change writes the row first and the mirror after, and a transaction that rolls back reloads
the mirror. Several changes inside `transaction()` commit together: an rmi of an image with
N tags is one commit (one fsync), not N rewrites of a file. The image service holds its lock
around every use, so the mirror and the rows change together.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import reference
from ..errors import InvalidParameter
from ..linux import atomic
from .db import Database

log = logging.getLogger(__name__)

COMPONENT = "images"
_SCHEMA = """
CREATE TABLE images (
    id TEXT PRIMARY KEY,
    parent TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL DEFAULT '',
    record TEXT NOT NULL
);
CREATE TABLE image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    chain_id TEXT NOT NULL,
    PRIMARY KEY (image_id, position)
);
CREATE INDEX image_layers_chain ON image_layers (chain_id);
CREATE TABLE image_refs (
    ref TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id)
);
CREATE INDEX image_refs_image ON image_refs (image_id);
"""


def migrate(db: Database, data_root: str) -> None:
    """Create the tables; on a data root of the JSON layout, import its files (step 2)."""
    db.migrate(COMPONENT, [_SCHEMA, lambda conn: _import_files(conn, data_root)])


def insert_image(conn: sqlite3.Connection, record: dict[str, Any]) -> None:
    """Write (or replace) one image's row and its layer rows."""
    conn.execute("INSERT INTO images (id, parent, created, record) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT(id) DO UPDATE SET parent = excluded.parent, "
                 "created = excluded.created, record = excluded.record",
                 (record["id"], record.get("parent") or "", record.get("created") or "",
                  json.dumps(record, separators=(",", ":"))))
    conn.execute("DELETE FROM image_layers WHERE image_id = ?", (record["id"],))
    conn.executemany("INSERT INTO image_layers (image_id, position, chain_id) VALUES (?, ?, ?)",
                     [(record["id"], n, c) for n, c in enumerate(record.get("chain_ids") or [])])


class MetadataStore:
    def __init__(self, data_root: str, db: Database) -> None:
        self.dir = os.path.join(data_root, "image")     # still holds load's temp dirs
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        atomic.remove_temp_entries(self.dir)            # the JSON layout's writes cut short
        self.db = db
        migrate(db, data_root)
        remove_legacy_files(data_root)
        self.images: dict[str, dict[str, Any]] = {}
        self.refs: dict[str, str] = {}                  # full reference -> image ID
        self._reload()

    def _reload(self) -> None:
        self.images = {}
        for row in self.db.query("SELECT id, record FROM images"):
            try:
                self.images[row["id"]] = json.loads(row["record"])
            except ValueError as exc:    # `system check` reports it
                log.warning("ignoring image %s: its record is unreadable: %s", row["id"], exc)
        self.refs = {row["ref"]: row["image_id"]
                     for row in self.db.query("SELECT ref, image_id FROM image_refs")}

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Changes made inside commit together, or not at all (the mirror is reloaded)."""
        try:
            with self.db.transaction() as conn:
                yield conn
        except BaseException:
            self._reload()
            raise

    # --- references -----------------------------------------------------------------------------
    def refs_for(self, image_id: str) -> list[reference.Reference]:
        """References to an image, sorted like Docker's reference store does."""
        return [reference.parse_normalized_named(text) for text in sorted(self.refs)
                if self.refs[text] == image_id]

    def refs_by_name(self, name: str) -> list[tuple[reference.Reference, str]]:
        out = []
        for text in sorted(self.refs):
            ref = reference.parse_normalized_named(text)
            if ref.name == name:
                out.append((ref, self.refs[text]))
        return out

    def get_ref(self, ref: reference.Reference) -> str | None:
        return self.refs.get(str(ref))

    def set_ref(self, ref: reference.Reference, image_id: str) -> str | None:
        """Point a reference at an image (moving it if it existed); returns the old ID."""
        key = str(ref)
        with self.transaction() as conn:
            conn.execute("INSERT INTO image_refs (ref, image_id) VALUES (?, ?) ON CONFLICT(ref) "
                         "DO UPDATE SET image_id = excluded.image_id", (key, image_id))
        previous = self.refs.get(key)
        self.refs[key] = image_id
        return previous

    def delete_ref(self, ref: reference.Reference) -> str | None:
        key = str(ref)
        if key not in self.refs:
            return None
        with self.transaction() as conn:
            conn.execute("DELETE FROM image_refs WHERE ref = ?", (key,))
        return self.refs.pop(key)

    # --- records --------------------------------------------------------------------------------
    def put_image(self, record: dict[str, Any]) -> None:
        with self.transaction() as conn:
            insert_image(conn, record)
        self.images[record["id"]] = record

    def delete_image(self, image_id: str) -> None:
        """Its references must be gone first (the foreign key refuses otherwise)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
        self.images.pop(image_id, None)

    def used_layers(self) -> set[str]:
        """Chain IDs any image row names (hidden ones included)."""
        return {row[0] for row in self.db.query("SELECT DISTINCT chain_id FROM image_layers")}


# --- the JSON layout before the database (image/images/<hex>.json, image/repositories.json) ---
def _legacy_paths(data_root: str) -> tuple[str, str]:
    base = os.path.join(data_root, "image")
    return os.path.join(base, "images"), os.path.join(base, "repositories.json")


def _import_files(conn: sqlite3.Connection, data_root: str) -> None:
    images_dir, refs_file = _legacy_paths(data_root)
    images = _read_records(images_dir)
    for record in images.values():
        insert_image(conn, record)
    refs = 0
    for text, image_id in sorted(_read_refs(refs_file).items()):
        if image_id not in images:
            log.warning("migration: dropped reference %s: its image %s has no record",
                        text, image_id)
            continue
        conn.execute("INSERT INTO image_refs (ref, image_id) VALUES (?, ?)", (text, image_id))
        refs += 1
    if images or refs:
        log.warning("migrated %d image records and %d references from %s to the metadata "
                    "database", len(images), refs, os.path.dirname(images_dir))


def remove_legacy_files(data_root: str) -> None:
    """Once imported (the migration committed), the JSON files go; a crash before this
    leaves them for the next start, which removes them without importing them again."""
    images_dir, refs_file = _legacy_paths(data_root)
    shutil.rmtree(images_dir, ignore_errors=True)
    try:
        os.unlink(refs_file)
    except FileNotFoundError:
        pass


def _read_records(images_dir: str) -> dict[str, dict[str, Any]]:
    images: dict[str, dict[str, Any]] = {}
    try:
        names = sorted(os.listdir(images_dir))
    except FileNotFoundError:
        return images
    for name in names:
        if not (name.endswith(".json") and len(name) == 69 and not name.startswith(".")):
            continue
        try:
            with open(os.path.join(images_dir, name), "rb") as f:
                record = json.load(f)
        except (OSError, ValueError) as exc:
            log.warning("migration: ignoring unreadable image record %s: %s", name, exc)
            continue
        if not isinstance(record, dict) or record.get("id") != f"sha256:{name[:64]}":
            log.warning("migration: ignoring image record %s: wrong id", name)
            continue
        images[record["id"]] = record
    return images


def _read_refs(refs_file: str) -> dict[str, str]:
    try:
        with open(refs_file, "rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        log.warning("migration: ignoring unreadable %s: %s", refs_file, exc)
        return {}
    flat: dict[str, str] = {}
    if isinstance(data.get("Repositories"), dict):
        for refs in data["Repositories"].values():
            flat.update(refs)
    if isinstance(data.get("refs"), dict):        # an earlier layout of this file
        flat.update(data["refs"])
    refs = {}
    for text, image_id in flat.items():
        try:
            refs[str(reference.parse_normalized_named(text))] = image_id
        except InvalidParameter:
            log.warning("migration: ignoring invalid reference %r in %s", text, refs_file)
    return refs
