"""The build cache: which image a step produced from which parent. A step's key is its
parent image, what it runs or sets (the history line, with COPY/ADD's content checksum
and the build args RUN sees) and the config it leaves; a hit is reused only while the
image still exists. Rows live in metadata.db's `build_cache` (migration component "build")."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from ...store.db import Database
from ...timeutil import rfc3339nano

MIGRATIONS = ["""CREATE TABLE build_cache (
    key TEXT PRIMARY KEY,
    parent TEXT NOT NULL,
    image TEXT NOT NULL,
    created TEXT NOT NULL);""",
              "CREATE INDEX build_cache_image ON build_cache (image);"]


def step_key(parent: str, created_by: str, config: dict[str, Any]) -> str:
    text = json.dumps([parent, created_by, config], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class BuildCache:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("build", MIGRATIONS)

    def get(self, key: str) -> str | None:
        row = self.db.query_one("SELECT image FROM build_cache WHERE key = ?", (key,))
        return row["image"] if row else None

    def put(self, key: str, parent: str, image: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO build_cache (key, parent, image, created) "
                         "VALUES (?, ?, ?, ?)", (key, parent, image, rfc3339nano()))

    def forget(self, image: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM build_cache WHERE image = ?", (image,))

    def images(self) -> list[str]:
        return [r["image"] for r in self.db.query("SELECT DISTINCT image FROM build_cache")]

    def clear(self) -> list[str]:
        """Forget every record; returns their keys."""
        with self.db.transaction() as conn:
            keys = [r["key"] for r in conn.execute("SELECT key FROM build_cache")]
            conn.execute("DELETE FROM build_cache")
        return keys
