"""Rows of the layer store (component "layers" of the metadata database): unpacked layers,
containers' writable layers, content blobs and leases. The directories and blob files stay
on disk; a row says they are complete and who uses them, so garbage collection is a query.

Tables:
- layers (chain_id PK, diff_id, parent, size, link): one unpacked layer under
  overlay/<chain hex>/diff; `link` is its short name under overlay/l.
- writable_layers (container_id PK, image_id, init) and writable_layer_chains
  (container_id -> writable_layers ON DELETE CASCADE, position, chain_id): the layers a
  container's overlay sits on, bottom first; they outlive a forced `rmi` of its image.
- blobs (digest PK, size): a file under content/blobs/sha256.
- leases (id PK, created) and lease_resources (lease_id -> leases ON DELETE CASCADE, kind
  'layer' or 'blob', key): what an operation in flight (import, load, pull, commit, build,
  a save's stream) created or reuses and has not yet named in an image row. GC keeps it.

Order on disk: a directory or file is complete before its row is committed, and its row is
deleted before it is removed, so a row always names something whole; what no row names is
garbage (removed at start-up).

Step 2 imports the marker-file layout (overlay/<hex>/{diff_id,parent,size,link,committed},
overlay/containers/<id>/lower, blob files without rows); `remove_markers` then deletes the
files it replaced.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import time
import uuid

from .db import Database

log = logging.getLogger(__name__)

COMPONENT = "layers"
_HEX64 = re.compile(r"^[a-f0-9]{64}$")
MARKERS = ("diff_id", "parent", "size", "link", "committed")
LOWER = "lower"       # a container's lower-layer record in the marker-file layout

_SCHEMA = """
CREATE TABLE layers (
    chain_id TEXT PRIMARY KEY,
    diff_id TEXT NOT NULL,
    parent TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT 0,
    link TEXT NOT NULL DEFAULT ''
);
CREATE INDEX layers_diff_id ON layers (diff_id);
CREATE TABLE writable_layers (
    container_id TEXT PRIMARY KEY,
    image_id TEXT NOT NULL DEFAULT '',
    init INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE writable_layer_chains (
    container_id TEXT NOT NULL REFERENCES writable_layers(container_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    chain_id TEXT NOT NULL,
    PRIMARY KEY (container_id, position)
);
CREATE INDEX writable_layer_chains_chain ON writable_layer_chains (chain_id);
CREATE TABLE blobs (
    digest TEXT PRIMARY KEY,
    size INTEGER NOT NULL
);
CREATE TABLE leases (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL
);
CREATE TABLE lease_resources (
    lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (lease_id, kind, key)
);
CREATE INDEX lease_resources_key ON lease_resources (kind, key);
"""


def migrate(db: Database, data_root: str) -> None:
    db.migrate(COMPONENT, [_SCHEMA, lambda conn: _import_markers(conn, data_root)])
    remove_markers(data_root)


# --- leases -------------------------------------------------------------------------------------
def new_lease(db: Database) -> str:
    lease = uuid.uuid4().hex
    with db.transaction() as conn:
        conn.execute("INSERT INTO leases (id, created) VALUES (?, ?)", (lease, time.time()))
    return lease


def attach(conn: sqlite3.Connection, lease: str | None, kind: str, key: str) -> None:
    """Call inside the transaction that found or created the resource: then no collect
    can fall between the two."""
    if lease is not None:
        conn.execute("INSERT OR IGNORE INTO lease_resources (lease_id, kind, key) "
                     "VALUES (?, ?, ?)", (lease, kind, key))


def drop_lease(db: Database, lease: str) -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM leases WHERE id = ?", (lease,))


def drop_all_leases(db: Database) -> int:
    """At start-up: every lease is a dead daemon's (the data-root lock is ours)."""
    with db.transaction() as conn:
        return conn.execute("DELETE FROM leases").rowcount


# --- garbage ------------------------------------------------------------------------------------
_LIVE_LAYERS = """
WITH RECURSIVE live(chain_id) AS (
    SELECT chain_id FROM image_layers
    UNION SELECT chain_id FROM writable_layer_chains
    UNION SELECT key FROM lease_resources WHERE kind = 'layer'
    UNION SELECT layers.parent FROM layers JOIN live USING (chain_id) WHERE layers.parent != ''
)
"""


def take_unused_layers(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """Delete the rows of layers nothing uses; (chain ID, link, size) of each."""
    rows = conn.execute(_LIVE_LAYERS + "SELECT chain_id, link, size FROM layers "
                        "WHERE chain_id NOT IN (SELECT chain_id FROM live)").fetchall()
    conn.executemany("DELETE FROM layers WHERE chain_id = ?", [(r[0],) for r in rows])
    return [(r[0], r[1], r[2]) for r in rows]


def take_unused_blobs(conn: sqlite3.Connection) -> list[str]:
    """Delete the rows of blobs that no image (config), layer (tar) or lease names."""
    rows = conn.execute(
        "SELECT digest FROM blobs WHERE digest NOT IN (SELECT id FROM images) "
        "AND digest NOT IN (SELECT diff_id FROM layers) "
        "AND digest NOT IN (SELECT key FROM lease_resources WHERE kind = 'blob')").fetchall()
    conn.executemany("DELETE FROM blobs WHERE digest = ?", [(r[0],) for r in rows])
    return [r[0] for r in rows]


# --- the marker-file layout ---------------------------------------------------------------------
def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _import_markers(conn: sqlite3.Connection, data_root: str) -> None:
    overlay = os.path.join(data_root, "overlay")
    layers = containers = blobs = 0
    for name in sorted(os.listdir(overlay)) if os.path.isdir(overlay) else []:
        base = os.path.join(overlay, name)
        if not _HEX64.match(name) or not os.path.exists(os.path.join(base, "committed")):
            continue          # half unpacked: no row, so start-up removes it
        try:
            size = int(_read(os.path.join(base, "size")) or 0)
        except ValueError:
            size = 0
        conn.execute("INSERT INTO layers (chain_id, diff_id, parent, size, link) "
                     "VALUES (?, ?, ?, ?, ?)",
                     (f"sha256:{name}", _read(os.path.join(base, "diff_id")),
                      _read(os.path.join(base, "parent")), size,
                      _read(os.path.join(base, "link"))))
        layers += 1
    rw_root = os.path.join(overlay, "containers")
    for key in sorted(os.listdir(rw_root)) if os.path.isdir(rw_root) else []:
        try:
            with open(os.path.join(rw_root, key, LOWER)) as f:
                info = json.load(f)
        except (OSError, ValueError):
            continue          # no readable record: its directory is garbage
        conn.execute("INSERT INTO writable_layers (container_id, image_id, init) "
                     "VALUES (?, ?, ?)", (key, str(info.get("image") or ""),
                                          1 if info.get("init") else 0))
        conn.executemany("INSERT INTO writable_layer_chains (container_id, position, "
                         "chain_id) VALUES (?, ?, ?)",
                         [(key, n, c) for n, c in enumerate(info.get("chains") or [])])
        containers += 1
    blob_dir = os.path.join(data_root, "content", "blobs", "sha256")
    for name in sorted(os.listdir(blob_dir)) if os.path.isdir(blob_dir) else []:
        if _HEX64.match(name):
            conn.execute("INSERT INTO blobs (digest, size) VALUES (?, ?)",
                         (f"sha256:{name}", os.path.getsize(os.path.join(blob_dir, name))))
            blobs += 1
    if layers or containers or blobs:
        log.warning("migrated %d layers, %d writable layers and %d blobs from marker files "
                    "to the metadata database", layers, containers, blobs)


def remove_markers(data_root: str) -> None:
    """Once imported (the migration committed) the marker files go; a crash before this
    leaves them for the next start, which removes them without importing again."""
    overlay = os.path.join(data_root, "overlay")
    paths = [os.path.join(overlay, n, m) for n in
             (os.listdir(overlay) if os.path.isdir(overlay) else []) if _HEX64.match(n)
             for m in MARKERS]
    rw_root = os.path.join(overlay, "containers")
    paths += [os.path.join(rw_root, k, LOWER) for k in
              (os.listdir(rw_root) if os.path.isdir(rw_root) else [])]
    for path in paths:
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            pass
