"""Leases and garbage collection as a query (layer_rows.py): GC runs while an unrelated
import is in flight and frees another image's layers, while what the in-flight operation
holds stays; a save's stream keeps what it streams through an rmi; a daemon killed
mid-import leaves a lease the next start deletes (test_migration.py: a marker-file data
root is imported)."""
from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tarfile
import threading
import time
from collections.abc import Callable
from typing import Any

from conftest import Daemon

from dockyard.client import images as api_images
from dockyard.client.transport import APIClient
from dockyard.store.db import FILENAME

MB = 1 << 20


def _rows(root: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{os.path.join(root, FILENAME)}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_600_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _wait(what: str, ready: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while not ready():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class GatedReader(io.RawIOBase):
    """A request body that sends its first half, then waits for `gate` before the rest:
    the operation reading it stays in flight as long as the test wants."""

    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0
        self.gate, self.halfway = threading.Event(), threading.Event()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        half = len(self.data) // 2
        if self.offset >= half:
            self.halfway.set()
            assert self.gate.wait(60), "the test never opened the gate"
        end = len(self.data) if size is None or size < 0 else self.offset + min(size, 64 << 10)
        if self.offset < half:
            end = min(end, half)
        chunk, self.offset = self.data[self.offset:end], min(end, len(self.data))
        return chunk


def _start_import(api: APIClient, body: GatedReader, repo: str) -> tuple[threading.Thread,
                                                                          dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["messages"] = api_images.import_image(api, body, repo)  # type: ignore[arg-type]
        except BaseException as exc:       # the test asserts on it
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _layer_dirs(root: str) -> set[str]:
    return {n for n in os.listdir(os.path.join(root, "overlay")) if len(n) == 64}


def test_gc_frees_an_unrelated_image_while_an_import_is_in_flight(own_daemon: Daemon) -> None:
    d = own_daemon
    api = APIClient(d.host)
    api_images.import_image(api, io.BytesIO(_tar({"victim": os.urandom(1 << 16)})),
                            "victim:1")
    victim = d.ok("image", "inspect", "-f", "{{index .RootFS.Layers 0}}", "victim:1").strip()
    assert victim[7:] in _layer_dirs(d.root)
    body = GatedReader(_tar({"big": os.urandom(8 * MB)}))
    thread, outcome = _start_import(api, body, "inflight:1")
    try:
        assert body.halfway.wait(30), "the import never got halfway"
        assert _rows(d.root, "SELECT count(*) FROM leases") == [(1,)]
        answer = api_images.remove(api, "victim:1")
        # freed now, not when the import ends (before the leases: deferred until then)
        assert {"Deleted": victim} in answer
        assert victim[7:] not in _layer_dirs(d.root)
        assert not os.path.exists(os.path.join(d.root, "content", "blobs", "sha256",
                                               victim[7:]))
        assert thread.is_alive() and "error" not in outcome
    finally:
        body.gate.set()
        thread.join(60)
    assert "error" not in outcome, outcome
    assert _rows(d.root, "SELECT count(*) FROM leases") == [(0,)]
    assert d.ok("image", "inspect", "-f", "{{.Id}}", "inflight:1").startswith("sha256:")
    assert d.ok("system", "check") == "store is consistent\n"


def test_what_a_lease_holds_survives_collect(tmp_path: Any) -> None:
    """A commit in flight has unpacked its first new layer and waits for the second: a
    collect meanwhile removes an unrelated image's layer, and keeps the leased one."""
    from dockyard.engine.images import ImageService

    svc = ImageService(str(tmp_path / "root"), None)
    other = svc.import_image(io.BytesIO(_tar({"other": b"o"})), "other", "1")
    other_chain = svc.meta.images[other]["chain_ids"][0]
    first = _tar({"first": os.urandom(4096)})
    second = GatedReader(_tar({"second": os.urandom(1 << 20)}))
    outcome: dict[str, Any] = {}

    def commit() -> None:
        config = {"rootfs": {"type": "layers", "diff_ids": []}, "config": {}}
        streams: list[Any] = [io.BytesIO(first), second]
        outcome["id"] = svc.create_image(config, streams, tags=["docker.io/library/made:1"])

    thread = threading.Thread(target=commit, daemon=True)
    thread.start()
    try:
        assert second.halfway.wait(30)
        first_chain = "sha256:" + hashlib.sha256(first).hexdigest()
        assert svc.snapshots.has(first_chain)
        svc.remove("other:1")
        assert svc.collect() == [] and svc.snapshots.has(first_chain)
        assert os.path.isdir(svc.snapshots.diff_dir(first_chain))
        assert not svc.snapshots.has(other_chain)
        assert not os.path.exists(svc.snapshots.layer_dir(other_chain))
    finally:
        second.gate.set()
        thread.join(60)
    image = svc.get("made:1")
    assert image.chain_ids[0] == first_chain and len(image.chain_ids) == 2
    assert svc.db.query("SELECT * FROM leases") == []
    assert svc.check() == []


def test_rmi_while_a_save_streams_yields_a_complete_archive(own_daemon: Daemon) -> None:
    d = own_daemon
    api = APIClient(d.host)
    api_images.import_image(api, io.BytesIO(_tar({"payload": os.urandom(24 * MB)})),
                            "saved:1")
    image_id = d.ok("image", "inspect", "-f", "{{.Id}}", "saved:1").strip()
    layer = d.ok("image", "inspect", "-f", "{{index .RootFS.Layers 0}}", "saved:1").strip()
    response = api_images.save(api, ["saved:1"])
    head = response.read(64 << 10)
    assert head
    answer = api_images.remove(api, "saved:1")
    assert {"Deleted": image_id} in answer and {"Deleted": layer} in answer
    archive = head + response.read()
    response.close()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))      # type: ignore[arg-type]
        config = tar.extractfile(manifest[0]["Config"]).read()      # type: ignore[union-attr]
        blob = tar.extractfile(manifest[0]["Layers"][0]).read()     # type: ignore[union-attr]
    assert "sha256:" + hashlib.sha256(config).hexdigest() == image_id
    assert "sha256:" + hashlib.sha256(blob).hexdigest() == layer
    # the stream's lease ended with it: what it kept is collected
    _wait("the save's lease to end",
          lambda: _rows(d.root, "SELECT count(*) FROM leases") == [(0,)])
    _wait("the saved blobs to be collected", lambda: not os.path.exists(
        os.path.join(d.root, "content", "blobs", "sha256", layer[7:])))
    assert d.ok("system", "check") == "store is consistent\n"


def test_a_lease_of_a_killed_import_is_dropped_at_the_next_start(own_daemon: Daemon) -> None:
    d = own_daemon
    body = GatedReader(_tar({"big": os.urandom(8 * MB)}))
    thread, _ = _start_import(APIClient(d.host), body, "killed:1")
    assert body.halfway.wait(30)
    _wait("the import's lease", lambda: _rows(d.root, "SELECT count(*) FROM leases") == [(1,)])
    layers_before = _layer_dirs(d.root)
    d.kill9()
    body.gate.set()
    thread.join(60)
    assert _rows(d.root, "SELECT count(*) FROM leases") == [(1,)]
    logged = os.path.getsize(d.log_file)
    d.start()
    with open(d.log_file) as f:
        f.seek(logged)
        assert "repaired: dropped 1 leases of an interrupted operation" in f.read()
    assert _rows(d.root, "SELECT count(*) FROM leases") == [(0,)]
    assert _rows(d.root, "SELECT count(*) FROM lease_resources") == [(0,)]
    assert d.ok("system", "check") == "store is consistent\n"
    assert _layer_dirs(d.root) == layers_before == \
        {c[7:] for (c,) in _rows(d.root, "SELECT chain_id FROM layers")}
    blob_dir = os.path.join(d.root, "content", "blobs", "sha256")
    assert {f"sha256:{n}" for n in os.listdir(blob_dir)} == \
        {b for (b,) in _rows(d.root, "SELECT digest FROM blobs")}
    assert os.listdir(os.path.join(d.root, "content", "ingest")) == []
