"""Image records and references as rows of the metadata database: each image operation is
one transaction (counted at the database), a failure rolls back the rows and the in-memory
mirror together, GC asks the rows which layers are used, the check reads the rows, and
container records are written on the database's writer thread."""
from __future__ import annotations

import asyncio
import io
import json
import os
import sqlite3
import tarfile
import threading
from typing import Any, Iterator

import pytest

from dockyard.engine.images import ImageService
from dockyard.errors import Conflict
from dockyard.store import check
from dockyard.store.container_records import ContainerRecords
from dockyard.store.db import FILENAME, Database


@pytest.fixture(autouse=True)
def _root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: the image store needs root (layer files keep owners)")


class CountingDatabase(Database):
    """Counts the commits (each one fsync) as SQLite runs them."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.commits = 0
        self.statements: list[str] = []
        self._conn.set_trace_callback(self._seen)

    def _seen(self, statement: str) -> None:
        self.statements.append(statement)
        if statement == "COMMIT":
            self.commits += 1


def _transactions(statements: list[str]) -> list[list[str]]:
    """The statements of each BEGIN ... COMMIT."""
    out: list[list[str]] = []
    for statement in statements:
        if statement.startswith("BEGIN"):
            out.append([])
        elif out and statement != "COMMIT":
            out[-1].append(statement)
    return out


def _layer(*files: tuple[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_600_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def store(tmp_path: Any) -> Iterator[tuple[ImageService, CountingDatabase, str]]:
    root = str(tmp_path / "root")
    os.makedirs(root)
    db = CountingDatabase(os.path.join(root, FILENAME))
    svc = ImageService(root, None, db=db)
    yield svc, db, root
    db.close()


def _rows(root: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{os.path.join(root, FILENAME)}?mode=ro", uri=True) as conn:
        return conn.execute(sql, params).fetchall()


def test_rmi_of_an_image_with_twenty_tags_is_one_commit(store: Any) -> None:
    svc, db, root = store
    image_id = svc.import_image(io.BytesIO(_layer(("f", b"data"))), "base", "0")
    for n in range(1, 20):
        svc.tag(image_id, "base", str(n))
    assert len(_rows(root, "SELECT ref FROM image_refs WHERE image_id = ?", (image_id,))) == 20
    before = db.commits
    answer = svc.remove(image_id, force=True)
    assert db.commits - before == 1
    assert sum(1 for item in answer if "Untagged" in item) == 20
    assert {"Deleted": image_id} in answer
    assert _rows(root, "SELECT * FROM image_refs") == []
    assert _rows(root, "SELECT * FROM images") == []
    assert _rows(root, "SELECT * FROM image_layers") == []
    assert svc.meta.refs == {} and svc.meta.images == {}


def test_tag_import_and_prune_are_one_commit_each(store: Any) -> None:
    svc, db, root = store
    before = db.commits
    db.statements.clear()
    image_id = svc.import_image(io.BytesIO(_layer(("g", b"1"))), "one", "a")
    # the lease; the tar blob's row; the layer's row; record and tag together; the lease's
    # end with its collect (the claims of rows not there yet write nothing)
    assert db.commits - before <= 7, db.statements
    naming = [t for t in _transactions(db.statements)
              if any("INTO images " in s or "INTO image_refs " in s for s in t)]
    assert len(naming) == 1, "record and tag commit together"
    before = db.commits
    svc.tag(image_id, "one", "b")
    assert db.commits - before == 1
    for n in range(3):
        svc.import_image(io.BytesIO(_layer(("h", str(n).encode()))))
    before = db.commits
    pruned = svc.prune({"dangling": ["true"]})
    assert len([i for i in pruned["ImagesDeleted"] if "Deleted" in i and
                i["Deleted"].startswith("sha256:") and
                _rows(root, "SELECT 1 FROM images WHERE id = ?", (i["Deleted"],)) == []]) >= 3
    assert db.commits - before == 1
    assert [r[0] for r in _rows(root, "SELECT id FROM images")] == [image_id]


def test_a_failing_rmi_changes_neither_rows_nor_mirror(store: Any) -> None:
    svc, db, root = store
    image_id = svc.import_image(io.BytesIO(_layer(("f", b"x"))), "keep", "1")
    svc.tag(image_id, "keep", "2")
    with sqlite3.connect(os.path.join(root, FILENAME)) as raw:     # a real failure at commit time
        raw.execute("CREATE TRIGGER refuse BEFORE DELETE ON images "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    with pytest.raises(sqlite3.IntegrityError, match="refused by the test"):
        svc.remove(image_id, force=True)
    assert sorted(r[0] for r in _rows(root, "SELECT ref FROM image_refs")) == [
        "docker.io/library/keep:1", "docker.io/library/keep:2"]
    assert sorted(svc.meta.refs) == ["docker.io/library/keep:1", "docker.io/library/keep:2"]
    assert svc.get("keep:2").id == image_id
    chains = svc.meta.images[image_id]["chain_ids"]
    assert all(svc.snapshots.has(c) for c in chains)
    with sqlite3.connect(os.path.join(root, FILENAME)) as raw:
        raw.execute("DROP TRIGGER refuse")
    svc.remove("keep:1")
    assert svc.meta.refs == {"docker.io/library/keep:2": image_id}


def test_a_reference_cannot_name_an_image_without_a_row(store: Any) -> None:
    svc, _, _ = store
    from dockyard import reference
    with pytest.raises(sqlite3.IntegrityError):
        svc.meta.set_ref(reference.parse_normalized_named("ghost:1"), "sha256:" + "9" * 64)
    assert "docker.io/library/ghost:1" not in svc.meta.refs


def test_gc_keeps_the_layers_a_row_names_and_collects_the_rest(store: Any) -> None:
    svc, _, root = store
    base = svc.import_image(io.BytesIO(_layer(("base", b"b"))), "base", "1")
    base_chain = svc.meta.images[base]["chain_ids"][0]
    child = svc.create_image(json.loads(json.dumps(svc.config(base))),
                             [io.BytesIO(_layer(("top", b"t")))], parent=base, tags=["kid:1"])
    top_chain = svc.meta.images[child]["chain_ids"][1]
    assert {r[0] for r in _rows(root, "SELECT chain_id FROM image_layers")} == {
        base_chain, top_chain}
    answer = svc.remove("kid:1")
    assert {"Deleted": top_chain} in answer and {"Deleted": base_chain} not in answer
    assert svc.snapshots.has(base_chain) and not svc.snapshots.has(top_chain)
    assert {r[0] for r in _rows(root, "SELECT chain_id FROM image_layers")} == {base_chain}
    svc.remove("base:1")
    assert not svc.snapshots.has(base_chain) and svc.snapshots.list_layers() == []


def test_check_reads_the_rows(store: Any) -> None:
    svc, db, root = store
    image_id = svc.import_image(io.BytesIO(_layer(("f", b"c"))), "keep", "1")
    assert check.check(root) == [] and check.check(root, db=db) == []
    records = ContainerRecords(db, os.path.join(root, "containers"))
    cid = "c" * 64
    records.save({"Id": cid, "Name": "/lost", "Image": image_id}).result()
    messages = [f.message for f in check.check(root, db=db)]
    assert f"container {'c' * 12}: its directory is missing" in messages
    records.delete(cid).result()
    with sqlite3.connect(os.path.join(root, FILENAME)) as raw:     # foreign keys off here
        raw.execute("INSERT INTO image_refs VALUES ('docker.io/library/ghost:1', ?)",
                    ("sha256:" + "e" * 64,))
    assert [f.message for f in check.check(root)] == [
        f"reference ghost:1 points to image {'e' * 12}, which has no record"]


def test_a_damaged_database_is_a_finding(tmp_path: Any) -> None:
    root = str(tmp_path)
    with sqlite3.connect(os.path.join(root, FILENAME)) as raw:
        raw.execute("PRAGMA page_size = 1024")
        raw.execute("CREATE TABLE t (x TEXT)")
        raw.execute("CREATE INDEX t_x ON t (x)")
        raw.executemany("INSERT INTO t VALUES (?)", [(str(n) * 50,) for n in range(400)])
    raw.close()
    with open(os.path.join(root, FILENAME), "r+b") as f:    # scribble over an index page
        f.seek(1024 * 3 + 100)
        f.write(b"\xff" * 300)
    findings = check.check(root)
    assert findings and findings[0].kind == "problem"
    assert findings[0].message.startswith(f"{FILENAME}: ")


def test_container_saves_run_on_the_writer_thread_in_order(tmp_path: Any) -> None:
    db = Database(str(tmp_path / FILENAME))
    records = ContainerRecords(db, str(tmp_path / "containers"))
    threads: list[str] = []
    original = records._write

    def noting(row: Any) -> None:
        threads.append(threading.current_thread().name)
        original(row)
    records._write = noting          # type: ignore[method-assign]

    async def main() -> None:
        record = {"Id": "a" * 64, "Name": "/x", "Image": "sha256:" + "1" * 64, "N": 0}
        futures = []
        for n in range(50):
            record["N"] = n
            futures.append(records.save(record))     # the snapshot is taken now
        await asyncio.gather(*map(asyncio.wrap_future, futures))
    asyncio.run(main())
    assert records.load()["a" * 64]["N"] == 49
    assert set(threads) and all(t.startswith("db-writer") for t in threads)
    assert threading.current_thread().name not in threads
    db.close()


def test_an_unreadable_container_row_is_skipped_and_reported(tmp_path: Any) -> None:
    root = str(tmp_path)
    db = Database(os.path.join(root, FILENAME))
    records = ContainerRecords(db, os.path.join(root, "containers"))
    good, bad = "a" * 64, "b" * 64
    for cid in (good, bad):
        os.makedirs(os.path.join(root, "containers", cid))
        records.save({"Id": cid, "Name": f"/{cid[:4]}", "Image": "sha256:" + "1" * 64}).result()
    with sqlite3.connect(os.path.join(root, FILENAME)) as raw:
        raw.execute("UPDATE containers SET record = '{\"Id\": ' WHERE id = ?", (bad,))
    assert set(records.load()) == {good}
    assert records.ids() == {good, bad}          # its directory is kept at start-up
    messages = [f.message for f in check.check(root, db=db)]
    assert any(m.startswith(f"container {bad[:12]}: record is unreadable") for m in messages)
    db.close()
