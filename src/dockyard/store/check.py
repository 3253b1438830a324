"""Store consistency check (`dockyard system check`): reads the data root as a restarted
daemon would and reports what does not hold together.

Two kinds of finding:
- "problem": something named is missing or corrupt (a reference to an image without a
  record, an image whose config blob or layers are missing, a container whose image or
  writable layer is gone, an unreadable record). Such an image or container cannot be used.
- "orphan": something nothing names (a layer directory or blob file without a row, a temp
  dir or file, a blob or layer no image, container or lease uses, a container directory
  without a record). It only wastes space; the daemon removes these when it starts.

Records, references, layers, writable layers, blobs and leases are rows of the metadata
database (read through the daemon's own connection, or a read-only one when the daemon is
down), checked first with SQLite's `PRAGMA quick_check`; the check compares them with the
directories and files on disk and only reads. What a lease holds is in use. Entries of
operations in flight are skipped: temp entries and not-yet-recorded data while a lease
exists (`ingesting`), and containers created or removed while the check runs
(`busy_containers`, a set that grows as they start: findings about a container are kept
back and dropped at the end if it is in that set by then, as its files may have changed
between the directory listing and their reading).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Container as Membership, Sequence
from dataclasses import dataclass
from typing import Any

from .. import reference
from ..errors import InvalidParameter
from ..linux.atomic import TEMP_PREFIX, temp_owner
from .archive import LOAD_PREFIX
from .container_records import LEGACY_RECORD
from .db import FILENAME as DB_FILENAME, Database
from .snapshots import chain_id, chain_ids

_HEX64 = re.compile(r"^[a-f0-9]{64}$")


@dataclass(frozen=True)
class Finding:
    kind: str          # "problem" or "orphan"
    message: str

    def to_json(self) -> dict[str, str]:
        return {"Kind": self.kind, "Message": self.message}


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def _familiar(text: str) -> str:
    """A stored full reference as the CLI shows it (docker.io/library/x:1 -> x:1)."""
    try:
        return reference.parse_normalized_named(text).familiar_string()
    except InvalidParameter:
        return text


class _Checker:
    def __init__(self, root: str, ingesting: bool, busy: Membership[str],
                 live_pid: int | None, db: Database | None) -> None:
        self.root = root
        self.db = db
        self.live_pid = live_pid
        self.ingesting = ingesting
        self.busy = busy
        self.blobs = os.path.join(root, "content", "blobs", "sha256")
        self.overlay = os.path.join(root, "overlay")
        self.findings: list[Finding] = []
        self.about_containers: list[tuple[str, Finding]] = []   # judged at the end
        self.used_layers: set[str] = set()
        self.used_blobs: set[str] = set()
        self.held_images: set[str] = set()
        self.layer_rows: dict[str, tuple[str, str]] = {}     # chain -> (diff ID, parent)
        self.blob_rows: set[str] = set()

    def load_rows(self) -> None:
        self.layer_rows = {c: (d, p) for c, d, p in
                           self.rows("SELECT chain_id, diff_id, parent FROM layers")}
        self.blob_rows = {r[0] for r in self.rows("SELECT digest FROM blobs")}
        for kind, key in self.rows("SELECT kind, key FROM lease_resources"):
            (self.used_layers if kind == "layer" else self.used_blobs).add(key)

    def rows_for(self, sql: str, *params: Any) -> list[Sequence[Any]]:
        return self.rows(sql, params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """A query's rows; none when the database or its table is not there yet, or when
        it is damaged (the quick_check finding says so)."""
        try:
            if self.db is not None:
                return [tuple(row) for row in self.db.query(sql, params)]
            path = os.path.join(self.root, DB_FILENAME)
            if not os.path.exists(path):
                return []
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                return conn.execute(sql, params).fetchall()
            finally:
                conn.close()
        except sqlite3.DatabaseError:     # no table yet, or damage `database` reports
            return []

    def database(self) -> None:
        try:
            verdict = [str(row[0]) for row in self.rows("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            verdict = [str(exc)]
        if verdict and verdict != ["ok"]:
            self.problem(f"{DB_FILENAME}: {'; '.join(verdict[:5])}")

    def problem(self, message: str) -> None:
        self.findings.append(Finding("problem", message))

    def orphan(self, message: str) -> None:
        self.findings.append(Finding("orphan", message))

    def about(self, cid: str, kind: str, message: str) -> None:
        self.about_containers.append((cid, Finding(kind, message)))

    def settled(self) -> list[Finding]:
        """The findings, less those about containers that were in flux during the check."""
        return self.findings + [f for cid, f in self.about_containers if cid not in self.busy]

    def temp_entries(self, directory: str, prefixes: tuple[str, ...],
                     cid: str | None = None) -> None:
        """Temp entries under `directory` (those of container `cid`, if given)."""
        if self.ingesting:
            return
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return
        for name in sorted(names):
            prefix = next((p for p in prefixes if name.startswith(p)), None)
            if prefix is None or (self.live_pid and temp_owner(name, prefix) == self.live_pid):
                continue        # not a temp entry, or one the live daemon is writing now
            rel = os.path.relpath(os.path.join(directory, name), self.root)
            message = f"{rel}: temporary entry left by an interrupted operation"
            if cid is None:
                self.orphan(message)
            else:
                self.about(cid, "orphan", message)

    def layer_ok(self, chain: str) -> bool:
        return chain in self.layer_rows and \
            os.path.isdir(os.path.join(self.overlay, chain.split(":", 1)[1], "diff"))

    # --- images ---------------------------------------------------------------------------------
    def images(self) -> dict[str, dict[str, Any]]:
        self.temp_entries(os.path.join(self.root, "image"), (TEMP_PREFIX, LOAD_PREFIX))
        records: dict[str, dict[str, Any]] = {}
        for image_id, text in sorted(self.rows("SELECT id, record FROM images")):
            try:
                record = json.loads(text)
                if not isinstance(record, dict) or record.get("id") != image_id:
                    raise ValueError("its id does not match its row")
            except ValueError as exc:
                self.problem(f"image {_short(image_id)}: record is unreadable ({exc})")
                continue
            records[image_id] = record
            self.image(image_id, record)
        return records

    def image(self, image_id: str, record: dict[str, Any]) -> None:
        self.used_blobs.add(image_id)
        chains = [str(c) for c in record.get("chain_ids") or []]
        self.used_layers.update(chains)
        path = os.path.join(self.blobs, image_id.split(":", 1)[1])
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            self.problem(f"image {_short(image_id)}: config blob {image_id} is missing")
            return
        actual = "sha256:" + hashlib.sha256(raw).hexdigest()
        if actual != image_id:
            self.problem(f"image {_short(image_id)}: config blob does not verify (its digest "
                         f"is {actual})")
            return
        try:
            config = json.loads(raw)
            diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        except (ValueError, AttributeError) as exc:
            self.problem(f"image {_short(image_id)}: config is not valid JSON ({exc})")
            return
        if chain_ids(diff_ids) != chains:
            self.problem(f"image {_short(image_id)}: record's chain IDs do not match the "
                         "config's diff IDs")
        for position, chain in enumerate(chains):
            if not self.layer_ok(chain):
                self.problem(f"image {_short(image_id)}: layer {position} (chain ID "
                             f"{chain}) is not unpacked")
        if record.get("pending") and not self.ingesting:
            self.orphan(f"image {_short(image_id)}: recorded by an operation that never "
                        "finished (pending)")

    def references(self, records: dict[str, dict[str, Any]]) -> None:
        for text, image_id in sorted(self.rows("SELECT ref, image_id FROM image_refs")):
            ref = _familiar(text)
            record = records.get(image_id)
            if record is None:
                self.problem(f"reference {ref} points to image {_short(image_id)}, which "
                             "has no record")
            elif record.get("removed"):
                self.problem(f"reference {ref} points to removed image {_short(image_id)}")

    # --- layers and blobs ----------------------------------------------------------------------
    def layers(self) -> None:
        self.temp_entries(self.overlay, (TEMP_PREFIX,))
        if not os.path.isdir(self.overlay):
            return
        for chain, (diff_id, parent) in sorted(self.layer_rows.items()):
            self.used_blobs.add(diff_id)
            if not os.path.isdir(os.path.join(self.overlay, chain.split(":", 1)[1], "diff")):
                self.problem(f"layer {_short(chain)}: its directory is missing")
            elif not diff_id or chain_id(parent or None, diff_id) != chain:
                self.problem(f"layer {_short(chain)}: its row does not match its chain ID")
            elif diff_id not in self.blob_rows:
                self.problem(f"layer {_short(chain)}: its tar blob {diff_id} is missing "
                             "(save and push need it)")
            if chain not in self.used_layers and not self.ingesting:
                self.orphan(f"layer {_short(chain)}: used by no image or container")
        for name in sorted(os.listdir(self.overlay)):
            if _HEX64.match(name) and f"sha256:{name}" not in self.layer_rows and \
                    not self.ingesting:
                self.orphan(f"overlay/{name}: layer directory no row names (an interrupted "
                            "unpack or removal)")
        links = os.path.join(self.overlay, "l")
        for name in sorted(os.listdir(links)) if os.path.isdir(links) else []:
            if not os.path.exists(os.path.join(links, name)):
                self.orphan(f"overlay/l/{name}: link to a layer that is gone")

    def blob_files(self) -> None:
        self.temp_entries(os.path.join(self.root, "content", "ingest"), ("",))
        self.temp_entries(os.path.join(self.root, "distribution", "layers"), (TEMP_PREFIX,))
        files = set(os.listdir(self.blobs)) if os.path.isdir(self.blobs) else set()
        for digest in sorted(self.blob_rows):
            if digest.split(":", 1)[-1] not in files:
                self.problem(f"blob {digest}: its file is missing")
        if self.ingesting:
            return
        for name in sorted(files):
            if f"sha256:{name}" not in self.blob_rows:
                self.orphan(f"blob sha256:{name}: file without a row")
            elif f"sha256:{name}" not in self.used_blobs:
                self.orphan(f"blob sha256:{name}: named by no image or layer")

    # --- containers ----------------------------------------------------------------------------
    def containers(self, records: dict[str, dict[str, Any]]) -> None:
        directory = os.path.join(self.root, "containers")
        rw_root = os.path.join(self.overlay, "containers")
        rw_names = set(os.listdir(rw_root)) if os.path.isdir(rw_root) else set()
        rows = dict(self.rows("SELECT id, image_id FROM containers"))
        for cid, text in self.rows("SELECT id, record FROM containers"):
            try:
                if not isinstance(json.loads(text), dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                self.about(cid, "problem", f"container {cid[:12]}: record is unreadable "
                           f"({exc})")
        dirs = set(os.listdir(directory)) if os.path.isdir(directory) else set()
        for cid in sorted(dirs - set(rows)):
            self.temp_entries(os.path.join(directory, cid), (TEMP_PREFIX,), cid)
            if os.path.exists(os.path.join(directory, cid, LEGACY_RECORD)):
                self.about(cid, "problem", f"container {cid[:12]}: record is unreadable "
                           f"(containers/{cid[:12]}/{LEGACY_RECORD} could not be migrated)")
            else:
                self.about(cid, "orphan", f"containers/{cid[:12]}: directory without a "
                           "record (a half-created or half-removed container)")
        for cid, image_id in sorted(rows.items()):
            if cid not in dirs:
                self.about(cid, "problem", f"container {cid[:12]}: its directory is missing")
                continue
            self.temp_entries(os.path.join(directory, cid), (TEMP_PREFIX,), cid)
            if image_id not in records:
                self.about(cid, "problem", f"container {cid[:12]}: its image "
                           f"{_short(image_id)} has no record")
            self.writable_layer(cid, cid in rw_names)
        for name in sorted(rw_names - set(rows) - dirs):
            if name.startswith(".rm-") and not self.ingesting:   # .rm-<id>-<random>: trash
                self.about(name[4:].split("-", 1)[0], "orphan", f"overlay/containers/{name}: "
                           "temporary entry left by an interrupted operation")
            elif not name.startswith("."):
                self.about(name, "orphan", f"overlay/containers/{name[:12]}: writable layer "
                           "of no container")

    def writable_layer(self, cid: str, present: bool) -> None:
        base = os.path.join(self.overlay, "containers", cid)
        found = self.rows_for("SELECT image_id, init FROM writable_layers "
                              "WHERE container_id = ?", cid)
        if not present or not found:
            self.about(cid, "problem", f"container {cid[:12]}: its writable layer is missing "
                       "or has no row")
            return
        image_id, init = found[0]
        self.held_images.add(str(image_id or ""))
        for (chain,) in self.rows_for("SELECT chain_id FROM writable_layer_chains "
                                      "WHERE container_id = ? ORDER BY position", cid):
            self.used_layers.add(chain)
            if not self.layer_ok(chain):
                self.about(cid, "problem", f"container {cid[:12]}: its image layer "
                           f"{_short(chain)} is missing")
        wanted = ["upper", "work"] + (["init"] if init else [])
        missing = [d for d in wanted if not os.path.isdir(os.path.join(base, d))]
        if missing:
            self.about(cid, "problem", f"container {cid[:12]}: its writable layer lacks "
                       f"{', '.join(missing)}")

    def hidden_images(self, records: dict[str, dict[str, Any]]) -> None:
        if self.ingesting:
            return
        for image_id, record in sorted(records.items()):
            if record.get("removed") and image_id not in self.held_images:
                self.orphan(f"image {_short(image_id)}: removed, and no container holds it")


def check(data_root: str, ingesting: bool = False,
          busy_containers: Membership[str] = frozenset(),
          live_pid: int | None = None, db: Database | None = None) -> list[Finding]:
    """Every inconsistency of the store under `data_root`, problems first. `live_pid` is the
    daemon that holds the data root: its own temp entries are writes in flight; `db` its
    open metadata database (else the file is opened read-only)."""
    checker = _Checker(data_root, ingesting, busy_containers, live_pid, db)
    checker.database()
    checker.load_rows()
    records = checker.images()
    checker.references(records)
    checker.containers(records)
    checker.hidden_images(records)
    checker.layers()
    checker.blob_files()
    return sorted(checker.settled(), key=lambda f: f.kind != "problem")
