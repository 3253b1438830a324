"""A data root of the JSON layout (image/images/<hex>.json, image/repositories.json,
containers/<id>/config.v2.json, as the code before the metadata database wrote them) is
imported into the database at the daemon's first start, in one transaction, and its files
are removed: images, tags, parents and containers (a running one included) survive. So is
one of the marker-file layout (overlay/<hex>/{diff_id,parent,size,link,committed},
overlay/containers/<id>/lower, blob files without rows)."""
from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
from typing import Any

import pytest

from conftest import Daemon, inspect
from dockyard.linux import atomic
from dockyard.reference import parse_normalized_named
from dockyard.store.db import FILENAME


def _to_json_layout(root: str) -> dict[str, Any]:
    """Rewrite the stopped daemon's rows as the JSON layout's writers did (layers as marker
    files, as that layout kept them), then remove the database. Returns what was written."""
    _to_marker_layout(root)
    with sqlite3.connect(os.path.join(root, FILENAME)) as conn:
        images = [json.loads(r[0]) for r in conn.execute("SELECT record FROM images")]
        refs = dict(conn.execute("SELECT ref, image_id FROM image_refs").fetchall())
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        containers = [json.loads(r[0]) for r in conn.execute("SELECT record FROM containers")
                      ] if "containers" in tables else []
    conn.close()
    images_dir = os.path.join(root, "image", "images")
    os.makedirs(images_dir, mode=0o700)
    for record in images:
        atomic.write_json(os.path.join(images_dir, record["id"][7:] + ".json"), record)
    repositories: dict[str, dict[str, str]] = {}
    for text in sorted(refs):
        ref = parse_normalized_named(text)
        repositories.setdefault(ref.familiar, {})[ref.familiar_string()] = refs[text]
    atomic.write_json(os.path.join(root, "image", "repositories.json"),
                      {"Repositories": repositories})
    for record in containers:
        atomic.write_json(os.path.join(root, "containers", record["Id"], "config.v2.json"),
                          record)
    for name in (FILENAME, FILENAME + "-wal", FILENAME + "-shm"):
        if os.path.exists(os.path.join(root, name)):
            os.unlink(os.path.join(root, name))
    return {"images": images, "refs": refs, "containers": containers}


def _to_marker_layout(root: str) -> tuple[int, int, int]:
    """Rewrite the stopped daemon's layer rows as the marker files the code before them
    wrote, and drop the tables. Returns (layers, writable layers, blobs)."""
    conn = sqlite3.connect(os.path.join(root, FILENAME))
    overlay = os.path.join(root, "overlay")
    layers = conn.execute("SELECT chain_id, diff_id, parent, size, link FROM layers").fetchall()
    for chain, diff_id, parent, size, link in layers:
        for name, value in (("diff_id", diff_id), ("parent", parent), ("size", str(size)),
                            ("link", link), ("committed", "")):
            with open(os.path.join(overlay, chain[7:], name), "w") as f:
                f.write(value)
    rws = conn.execute("SELECT container_id, image_id, init FROM writable_layers").fetchall()
    for key, image_id, init in rws:
        chains = [c for (c,) in conn.execute("SELECT chain_id FROM writable_layer_chains "
                                             "WHERE container_id = ? ORDER BY position", (key,))]
        with open(os.path.join(overlay, "containers", key, "lower"), "w") as f:
            json.dump({"image": image_id, "chains": chains, "init": bool(init)}, f)
    blobs = conn.execute("SELECT count(*) FROM blobs").fetchone()[0]
    with conn:
        for table in ("lease_resources", "leases", "blobs", "writable_layer_chains",
                      "writable_layers", "layers"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DELETE FROM schema_versions WHERE component = 'layers'")
    conn.close()
    return len(layers), len(rws), blobs


def _layer_tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _view(d: Daemon) -> dict[str, Any]:
    lines = d.ok("images", "-a", "--no-trunc", "--format",
                 "{{.ID}} {{.Repository}}:{{.Tag}}").split("\n")
    names = d.ok("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Image}}")
    return {"images": sorted(filter(None, lines)),
            "containers": sorted(filter(None, names.split("\n")))}


def test_a_json_layout_data_root_is_imported_at_first_start(own_daemon: Daemon,
                                                            tmp_path: Any) -> None:
    d = own_daemon
    d.ok("tag", "busybox", "old:1")
    d.ok("tag", "busybox", "old:2")
    d.ok("run", "--name", "maker", "busybox", "sh", "-c", "echo made > /made")
    made = d.ok("commit", "maker", "made:1").strip()
    alive = d.ok("run", "-d", "--name", "alive", "busybox", "sleep", "1000").strip()
    fresh = d.ok("create", "--name", "fresh", "made:1", "cat", "/made").strip()
    before = _view(d)
    alive_before = inspect(d, "alive")
    d.stop()                                    # containers keep running (live restore)

    written = _to_json_layout(d.root)
    assert len(written["images"]) == 2 and len(written["refs"]) == 4
    assert len(written["containers"]) == 3
    torn = "f" * 64                             # a record the old daemon's crash cut short
    os.makedirs(os.path.join(d.root, "containers", torn))
    with open(os.path.join(d.root, "containers", torn, "config.v2.json"), "w") as f:
        f.write('{"Id": "' + torn)
    logged = os.path.getsize(d.log_file)

    d.start()
    with open(d.log_file) as f:
        f.seek(logged)
        log = f.read()
    assert "migrated 2 image records and 4 references" in log, log
    assert "migrated 3 container records" in log, log
    assert not os.path.exists(os.path.join(d.root, "image", "images"))
    assert not os.path.exists(os.path.join(d.root, "image", "repositories.json"))
    for record in written["containers"]:
        assert not os.path.exists(os.path.join(d.root, "containers", record["Id"],
                                               "config.v2.json"))
    assert _view(d) == before
    assert inspect(d, "made:1")["Parent"] == inspect(d, "busybox")["Id"]
    assert inspect(d, "made:1")["Id"] == made
    after = inspect(d, "alive")
    assert after["State"]["Running"] and after["State"]["Pid"] == alive_before["State"]["Pid"]
    assert after["Mounts"] == alive_before["Mounts"]
    assert after["NetworkSettings"] == alive_before["NetworkSettings"]
    assert d.ok("exec", alive, "echo", "hi") == "hi\n"
    assert d.ok("start", "-a", fresh) == "made\n"
    result = d.cli("system", "check")             # the torn record stays, reported
    assert result.returncode == 1
    assert result.stdout.startswith(f"problem: container {torn[:12]}: record is unreadable")
    assert os.path.exists(os.path.join(d.root, "containers", torn, "config.v2.json"))

    d.ok("rm", "-f", "alive", "maker")
    os.unlink(os.path.join(d.root, "containers", torn, "config.v2.json"))
    d.stop()
    logged = os.path.getsize(d.log_file)
    d.start()                 # the leftover directory goes; nothing is imported again
    with open(d.log_file) as f:
        f.seek(logged)
        log = f.read()
    assert "migrated" not in log, log
    assert not os.path.exists(os.path.join(d.root, "containers", torn))
    assert d.ok("system", "check") == "store is consistent\n"
    assert _view(d)["images"] == before["images"]


def test_interrupted_json_layout_operations_are_repaired_on_import(tmp_path: Any) -> None:
    """A `pending` record without references (an import the old daemon was killed in) is
    dropped, and so is a reference to an image without a record; the rest survives."""
    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: the image store needs root (layer files keep owners)")
    from dockyard.engine.images import ImageService

    root = str(tmp_path / "root")
    svc = ImageService(root, None)
    kept = svc.import_image(io.BytesIO(_layer_tar("k", b"kept")), "kept", "1")
    lost = svc.import_image(io.BytesIO(_layer_tar("l", b"lost")))
    svc.db.close()
    written = _to_json_layout(root)
    record = next(r for r in written["images"] if r["id"] == lost)
    atomic.write_json(os.path.join(root, "image", "images", lost[7:] + ".json"),
                      {**record, "pending": True})
    refs_file = os.path.join(root, "image", "repositories.json")
    with open(refs_file) as f:
        refs = json.load(f)
    refs["Repositories"]["ghost"] = {"ghost:latest": "sha256:" + "9" * 64}
    atomic.write_json(refs_file, refs)

    svc = ImageService(root, None)
    assert [i["Id"] for i in svc.list()] == [kept]
    assert svc.meta.refs == {"docker.io/library/kept:1": kept}
    assert not svc.content.exists(lost)
    assert not os.path.exists(os.path.join(root, "image", "images"))
    svc.db.close()


def test_a_marker_file_data_root_is_imported_at_first_start(own_daemon: Daemon) -> None:
    d = own_daemon
    d.ok("run", "--name", "maker", "busybox", "sh", "-c", "echo made > /made")
    d.ok("commit", "maker", "made:1")
    fresh = d.ok("create", "--name", "fresh", "made:1", "cat", "/made").strip()
    images = d.ok("images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}")
    d.stop()
    layers, rws, blobs = _to_marker_layout(d.root)
    assert layers >= 2 and rws == 2 and blobs >= 4
    os.makedirs(os.path.join(d.root, "overlay", "e" * 64, "diff"))   # never committed
    logged = os.path.getsize(d.log_file)
    d.start()
    with open(d.log_file) as f:
        f.seek(logged)
        log = f.read()
    assert f"migrated {layers} layers, {rws} writable layers and {blobs} blobs" in log, log
    for name in _layer_dirs(d):
        assert os.listdir(os.path.join(d.root, "overlay", name)) == ["diff"]
    assert "e" * 64 not in _layer_dirs(d)
    for key in os.listdir(os.path.join(d.root, "overlay", "containers")):
        assert not os.path.exists(os.path.join(d.root, "overlay", "containers", key, "lower"))
    assert d.ok("images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}") == images
    assert d.ok("start", "-a", fresh) == "made\n"
    assert d.ok("system", "check") == "store is consistent\n"
    d.ok("rm", "-f", "maker", "fresh")
    d.ok("rmi", "made:1")
    assert d.ok("system", "check") == "store is consistent\n"


def _layer_dirs(d: Daemon) -> set[str]:
    return {n for n in os.listdir(os.path.join(d.root, "overlay")) if len(n) == 64}
