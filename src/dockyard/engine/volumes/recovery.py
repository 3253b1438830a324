"""The volume service's recovery: at start, `reconcile` squares the mount counts and
references with the containers found (a restart, a kill -9, a crash inside create or rm);
`check` is the volumes' part of the store check. Mixed into VolumeService (service.py),
whose root, db, lock and mount helpers it uses."""
from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Container
from typing import Any, Callable

from ...store.check import Finding
from . import local

log = logging.getLogger(__name__)


class Recovery:
    """Mixed into VolumeService; uses its root, db, _lock, _row and _unmount_if_unused."""

    root: str
    db: Any
    _lock: threading.RLock
    _row: Callable[[str], Any]
    _unmount_if_unused: Callable[[str, str], None]

    def check(self, mounts: dict[str, list[dict[str, Any]]],
              busy: Container[str]) -> list[Finding]:
        """The volumes' part of the store check, given each container's `Mounts`: a
        container naming a volume without a record, a local volume without its directory
        (problems); a directory without a record, references of no container (orphans,
        removed at start). Findings about containers in `busy` (created or removed
        meanwhile) are dropped. Volume creates and removes hold the lock, so the
        directories and the records read here agree."""
        findings, about = [], []
        with self._lock:
            names = set(os.listdir(self.root))
            rows = {r["name"]: r for r in self.db.query("SELECT * FROM volumes")}
            referrers = {r["container"] for r in self.db.query(
                "SELECT DISTINCT container FROM volume_refs")}
        for cid, points in mounts.items():
            for point in points:
                if point.get("Type") == "volume" and point.get("Name") not in rows:
                    about.append((cid, Finding("problem", f"container {cid[:12]}: volume "
                                                          f"{point.get('Name')} has no record")))
        for name, row in rows.items():
            if row["driver"] == "local" and not os.path.isdir(
                    local.data_path(self.root, name)):
                findings.append(Finding("problem", f"volume {name}: its directory is missing"))
        for name in sorted(names - set(rows)):
            findings.append(Finding("orphan", f"volume directory {name} has no record"))
        for cid in sorted(referrers - set(mounts)):
            about.append((cid, Finding("orphan", f"volume references of container {cid[:12]}, "
                                                 "which does not exist")))
        return findings + [f for cid, f in about if cid not in busy]

    def remove_unrecorded(self) -> None:
        """A local volume's directory is made before its record (the commit point) and
        removed after it: one without a record is a crash's leftover."""
        recorded = {r["name"] for r in self.db.query("SELECT name FROM volumes")}
        for name in os.listdir(self.root):
            if name not in recorded and not local.is_mounted(local.data_path(self.root, name)):
                log.info("removing volume directory %s: no record", name)
                local.destroy(self.root, name)

    def reconcile(self, known: set[str], running: set[str]) -> None:
        """At start, after the containers are restored: references of containers that are
        gone (a crash inside their rm) and mount counts of containers no longer running
        are dropped, mounts nobody uses any more are undone, and directories of volumes
        without a record (a crash inside create or rm) go. Mounts that running containers
        still use are left as they are: the count says so."""
        with self._lock:
            refs = self.db.query("SELECT DISTINCT container FROM volume_refs")
            gone = [(r["container"],) for r in refs if r["container"] not in known]
            rows = self.db.query("SELECT volume, container FROM volume_mounts")
            stale = [(r["volume"], r["container"]) for r in rows
                     if r["container"] not in running]
            with self.db.transaction() as conn:
                conn.executemany("DELETE FROM volume_refs WHERE container = ?", gone)
                conn.executemany("DELETE FROM volume_mounts WHERE volume = ? AND "
                                 "container = ?", stale)
            for row in self.db.query("SELECT * FROM volumes WHERE driver = 'local'"):
                if local.needs_mount(json.loads(row["options"])):
                    self._unmount_if_unused(row["name"], "")
            self.remove_unrecorded()
            for name, container in stale:
                row = self._row(name)
                if row is not None and row["driver"] != "local":
                    self._unmount_if_unused(name, container)
