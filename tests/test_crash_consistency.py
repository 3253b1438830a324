"""Crash consistency: SIGKILL the daemon at a sweep of moments during pull, load, import,
commit, create, rm and rm -f. After each restart the store check (GET /dockyard/check) finds
nothing, a container runs from every image listed, and the interrupted operation succeeds
when repeated.

Kill moments are picked from the operation itself: one run without a kill measures how long
it takes, then the kills land at fractions of that time (and once right after the request
went out). Each test has its own daemon; the numbers of kill points tried and of those that
cut the operation short are printed (pytest -s shows them) and asserted to be enough.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import tarfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable


from conftest import Daemon
from dockyard.client import containers as api_containers
from dockyard.client import images as api_images
from dockyard.client.system import check as store_check
from dockyard.client.transport import APIClient, APIError

FRACTIONS = (0.0, 0.15, 0.3, 0.5, 0.7, 0.9)
MB = 1 << 20


@dataclass
class Sweep:
    """One daemon, the images and containers to keep between kill points, and the tally."""
    daemon: Daemon
    keep_images: set[str] = field(default_factory=set)
    keep_containers: set[str] = field(default_factory=set)
    tried: int = 0
    interrupted: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def api(self) -> APIClient:
        return APIClient(self.daemon.host)

    def keep_current(self) -> None:
        self.keep_images = {i["Id"] for i in api_images.list_images(self.api, all=True)}
        self.keep_containers = {c["Id"] for c in api_containers.list_(self.api,
                                                                                 all_=True)}

    def reset(self) -> None:
        """Back to the kept state: whatever earlier kill points or repeats made goes."""
        for c in api_containers.list_(self.api, all_=True):
            if c["Id"] not in self.keep_containers:
                api_containers.remove(self.api, c["Id"], force=True)
        _remove_images(self.api, lambda image: image["Id"] not in self.keep_images)


def _remove_images(api: APIClient, chosen: Callable[[dict[str, Any]], bool]) -> None:
    """Force-remove the images `chosen` picks, children before parents: a parent with a
    child cannot be removed, not even forced, and the list's order is no parent-child order."""
    pending = [i for i in api_images.list_images(api, all=True) if chosen(i)]
    while pending:
        parents = {i["ParentId"] for i in pending}
        leaves = [i for i in pending if i["Id"] not in parents] or pending
        for image in leaves:
            try:
                api_images.remove(api, image["Id"], force=True)
            except APIError as exc:
                if exc.status != 404:     # already gone with its child
                    raise
        pending = [i for i in pending if i not in leaves]


@dataclass
class Operation:
    name: str
    prepare: Callable[[Sweep], Any]              # state before the operation; returns its arg
    run: Callable[[Sweep, Any], None]            # raises when it fails
    repeat: Callable[[Sweep, Any], None]         # after the restart; raises when it fails
    verify: Callable[[Sweep, Any], None]         # the operation's effect is there


def _stream_ok(messages: Any) -> None:
    for message in messages:
        if message.get("error") or message.get("errorDetail"):
            raise RuntimeError(message.get("error") or message["errorDetail"])


def _run_in_thread(fn: Callable[[], None]) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            fn()
            outcome["done"] = time.monotonic()
        except Exception as exc:  # noqa: BLE001 - a cut connection is the expected failure
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def _run_container(api: APIClient, image: str, cmd: list[str]) -> tuple[str, int]:
    cid = api_containers.create(api, {"Image": image, "Cmd": cmd})["Id"]
    api_containers.start(api, cid)
    code = api.post(f"/containers/{cid}/wait")["StatusCode"]
    return cid, code


def _every_image_runs(s: Sweep) -> list[str]:
    problems = []
    for image in api_images.list_images(s.api, all=True):
        try:
            cid, code = _run_container(s.api, image["Id"], ["true"])
            api_containers.remove(s.api, cid, force=True)
            if code != 0:
                problems.append(f"image {image['Id'][:19]}: `true` exited {code}")
        except APIError as exc:
            problems.append(f"image {image['Id'][:19]} {image['RepoTags']}: {exc.message}")
    return problems


def _measure(s: Sweep, op: Operation) -> float:
    """The operation's duration: the shorter of two runs without a kill (the first may pay
    for warming up)."""
    durations = []
    for _ in range(2):
        s.reset()
        arg = op.prepare(s)
        started = time.monotonic()
        op.run(s, arg)
        durations.append(time.monotonic() - started)
        op.verify(s, arg)
    return min(durations)


def _sweep(s: Sweep, op: Operation) -> None:
    """Kill the daemon at fractions of the operation's measured duration. A run that ends
    before its kill shortens the estimate, so the later kills still land inside."""
    duration = measured = _measure(s, op)
    for fraction in FRACTIONS:
        s.reset()
        arg = op.prepare(s)
        thread, outcome = _run_in_thread(lambda: op.run(s, arg))
        started = time.monotonic()
        time.sleep(fraction * duration)
        killed_at = time.monotonic()
        s.daemon.kill9()
        thread.join(30)
        s.tried += 1
        if "done" in outcome and outcome["done"] <= killed_at:
            duration = min(duration, outcome["done"] - started)
        else:
            s.interrupted += 1
        point = f"{op.name} killed at {killed_at - started:.3f}s"
        s.daemon.start()
        findings = store_check(s.api)
        if findings:
            s.failures.append(f"{point}: store check: {findings}")
        s.failures.extend(f"{point}: {p}" for p in _every_image_runs(s))
        try:
            op.repeat(s, arg)
            op.verify(s, arg)
        except (APIError, RuntimeError, AssertionError) as exc:
            s.failures.append(f"{point}: repeating failed: {exc!r}")
        findings = store_check(s.api)
        if findings:
            s.failures.append(f"{point}: store check after the repeat: {findings}")
    print(f"\n{op.name}: {s.tried} kill points over {measured:.3f}s, "
          f"{s.interrupted} of them during the operation")


def _finish(s: Sweep) -> None:
    assert not s.failures, "\n".join(s.failures[:10])
    assert s.tried == len(FRACTIONS)
    assert s.interrupted >= len(FRACTIONS) // 3, "kills must land inside the operation"


# --- test data --------------------------------------------------------------------------------
def _data_image(s: Sweep, repo: str, layers: int = 2, size: int = 3 * MB) -> str:
    """busybox plus `layers` committed layers of `size` random bytes each."""
    image = "busybox:latest"
    for n in range(layers):
        cid, code = _run_container(s.api, image, [
            "sh", "-c", f"head -c {size} /dev/urandom > /data{n}"])
        assert code == 0
        image_id = s.api.post("/commit", {"container": cid, "repo": repo,
                                          "tag": f"layer{n}"})["Id"]
        api_containers.remove(s.api, cid, force=True)
        image = image_id
    return image


def _rootfs_tar(busybox_tar: str, path: str, size: int = 6 * MB) -> str:
    """busybox's rootfs plus a file of random bytes: an import with something to unpack."""
    with tarfile.open(busybox_tar) as source, tarfile.open(path, "w") as out:
        for member in source.getmembers():
            out.addfile(member, source.extractfile(member) if member.isfile() else None)
        for n in range(3):
            info = tarfile.TarInfo(f"data/blob{n}")
            info.size = size // 3
            out.addfile(info, io.BytesIO(os.urandom(info.size)))
    return path


def _tags(s: Sweep, ref: str) -> list[str]:
    return api_images.inspect(s.api, ref)["RepoTags"]


# --- images -----------------------------------------------------------------------------------
def test_kill_during_pull(own_daemon: Daemon, registry: Any) -> None:
    s = Sweep(own_daemon)
    name = f"{registry.host}/crash/pull:1"
    image_id = _data_image(s, "crash/pull")
    api_images.tag(s.api, image_id, f"{registry.host}/crash/pull", "1")
    _stream_ok(api_images.push_stream(s.api, f"{registry.host}/crash/pull", "1"))
    _remove_images(s.api, lambda image: "busybox:latest" not in image["RepoTags"])
    s.keep_current()

    def pull(s: Sweep, _: Any) -> None:
        _stream_ok(api_images.pull_stream(s.api, name))

    def verify(s: Sweep, _: Any) -> None:
        assert name in _tags(s, name)
        cid, code = _run_container(s.api, name, ["sh", "-c", "test -s /data0 -a -s /data1"])
        api_containers.remove(s.api, cid, force=True)
        assert code == 0, "the pulled layers are all there"

    _sweep(s, Operation("pull", lambda s: None, pull, pull, verify))
    _finish(s)


def test_kill_during_load(own_daemon: Daemon, tmp_path: Any) -> None:
    s = Sweep(own_daemon)
    _data_image(s, "crash/load")
    archive = str(tmp_path / "load.tar")
    with open(archive, "wb") as f:
        response = api_images.save(s.api, ["crash/load:layer1"])
        while chunk := response.read(MB):
            f.write(chunk)
    s.keep_images = {api_images.inspect(s.api, "busybox")["Id"]}
    s.reset()
    s.keep_current()

    def load(s: Sweep, _: Any) -> None:
        with open(archive, "rb") as f:
            _stream_ok(api_images.load_stream(s.api, f))

    def verify(s: Sweep, _: Any) -> None:
        assert "crash/load:layer1" in _tags(s, "crash/load:layer1")

    _sweep(s, Operation("load", lambda s: None, load, load, verify))
    _finish(s)


def test_kill_during_import(own_daemon: Daemon, busybox_tar: str, tmp_path: Any) -> None:
    s = Sweep(own_daemon)
    rootfs = _rootfs_tar(busybox_tar, str(tmp_path / "rootfs.tar"))
    s.keep_current()

    def import_(s: Sweep, _: Any) -> None:
        with open(rootfs, "rb") as f:
            _stream_ok(api_images.import_image(s.api, f, "crash/import:1"))

    def verify(s: Sweep, _: Any) -> None:
        assert "crash/import:1" in _tags(s, "crash/import:1")

    _sweep(s, Operation("import", lambda s: None, import_, import_, verify))
    _finish(s)


def test_kill_during_commit(own_daemon: Daemon) -> None:
    s = Sweep(own_daemon)
    cid, code = _run_container(s.api, "busybox", [
        "sh", "-c", f"head -c {6 * MB} /dev/urandom > /data; mkdir /many; "
        "i=0; while [ $i -lt 200 ]; do echo $i > /many/$i; i=$((i+1)); done"])
    assert code == 0
    s.keep_current()

    def commit(s: Sweep, _: Any) -> None:
        s.api.post("/commit", {"container": cid, "repo": "crash/commit", "tag": "1"})

    def verify(s: Sweep, _: Any) -> None:
        assert "crash/commit:1" in _tags(s, "crash/commit:1")
        check, code = _run_container(s.api, "crash/commit:1",
                                     ["sh", "-c", "test -s /data -a -f /many/199"])
        api_containers.remove(s.api, check, force=True)
        assert code == 0, "the committed layer is whole"

    _sweep(s, Operation("commit", lambda s: None, commit, commit, verify))
    _finish(s)


# --- containers -------------------------------------------------------------------------------
def test_kill_during_create(own_daemon: Daemon) -> None:
    s = Sweep(own_daemon)
    s.keep_current()
    made: list[str] = []

    def create(s: Sweep, _: Any) -> None:
        made.append(api_containers.create(s.api, {"Image": "busybox", "Cmd": ["true"]})["Id"])

    def verify(s: Sweep, _: Any) -> None:
        cid = made[-1]
        api_containers.start(s.api, cid)
        assert s.api.post(f"/containers/{cid}/wait")["StatusCode"] == 0

    _sweep(s, Operation("create", lambda s: None, create, create, verify))
    _finish(s)


def _removal(s: Sweep, name: str, prepare: Callable[[Sweep], str]) -> None:
    s.keep_current()

    def remove(s: Sweep, cid: str) -> None:
        api_containers.remove(s.api, cid, force=True)

    def repeat(s: Sweep, cid: str) -> None:
        """rm again: succeeds, or finds the container already gone (its rm had committed)."""
        try:
            remove(s, cid)
        except APIError as exc:
            if exc.status != 404:
                raise

    def verify(s: Sweep, cid: str) -> None:
        ids = {c["Id"] for c in api_containers.list_(s.api, all_=True)}
        assert cid not in ids
        assert not os.path.exists(os.path.join(s.daemon.root, "containers", cid))
        assert not os.path.exists(os.path.join(s.daemon.root, "overlay", "containers", cid))

    _sweep(s, Operation(name, prepare, remove, repeat, verify))
    _finish(s)


def test_kill_during_rm(own_daemon: Daemon) -> None:
    def prepare(s: Sweep) -> str:
        cid, code = _run_container(s.api, "busybox", [
            "sh", "-c", "mkdir /many; i=0; while [ $i -lt 300 ]; do echo $i > /many/$i; "
            "i=$((i+1)); done"])
        assert code == 0
        return cid

    _removal(Sweep(own_daemon), "rm", prepare)


def test_kill_during_rm_force_of_a_running_container(own_daemon: Daemon) -> None:
    def prepare(s: Sweep) -> str:
        cid = api_containers.create(s.api, {"Image": "busybox", "Cmd": ["sleep", "300"]})["Id"]
        api_containers.start(s.api, cid)
        return cid

    _removal(Sweep(own_daemon), "rm -f", prepare)


# --- the check itself -------------------------------------------------------------------------
def test_system_check_reports_damage_and_start_up_repairs_it(own_daemon: Daemon) -> None:
    d = own_daemon
    assert d.ok("system", "check") == "store is consistent\n"
    d.ok("tag", "busybox", "keep:1")
    cid, _ = _run_container(APIClient(d.host), "busybox", ["true"])
    doomed = _data_image(Sweep(d), "doomed", layers=1, size=1024)
    with sqlite3.connect(os.path.join(d.root, "metadata.db")) as db:   # no foreign keys
        record = json.loads(db.execute("SELECT record FROM images WHERE id = ?",
                                       (doomed,)).fetchone()[0])
        db.execute("INSERT INTO image_refs VALUES (?, ?)",
                   ("docker.io/library/ghost:latest", "sha256:" + "e" * 64))
        db.execute("DELETE FROM writable_layers WHERE container_id = ?", (cid,))
    top = record["chain_ids"][-1][7:]
    shutil.rmtree(os.path.join(d.root, "overlay", top))               # a row without its layer
    os.makedirs(os.path.join(d.root, "overlay", "d" * 64, "diff"))    # a layer without a row
    os.makedirs(os.path.join(d.root, "overlay", ".tmp-123-abc", "diff"))
    os.makedirs(os.path.join(d.root, "containers", "f" * 64, "bundle"))

    result = d.cli("system", "check")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    expected = [
        f"problem: image {doomed[7:19]}: layer 1 (chain ID sha256:{top}) is not unpacked",
        f"problem: reference ghost:latest points to image {'e' * 12}, which has no record",
        f"problem: layer {top[:12]}: its directory is missing",
        f"problem: container {cid[:12]}: its writable layer is missing or has no row",
        "orphan: overlay/.tmp-123-abc: temporary entry left by an interrupted operation",
        f"orphan: containers/{'f' * 12}: directory without a record (a half-created or "
        "half-removed container)",
        f"orphan: overlay/{'d' * 64}: layer directory no row names (an interrupted unpack or "
        "removal)",
    ]
    for line in expected:
        assert line in lines, (line, lines)
    assert all(line.startswith(("problem: ", "orphan: ")) for line in lines)

    api_containers.remove(APIClient(d.host), cid, force=True)
    d.kill9()
    logged = os.path.getsize(d.log_file)
    d.start()     # drops the broken image and the stale reference, removes the leftovers
    assert d.ok("system", "check") == "store is consistent\n"
    with open(d.log_file) as f:
        f.seek(logged)
        repairs = [line.split("repaired: ", 1)[1] for line in f if "repaired: " in line]
    for said in (f"dropped image {doomed}: its config or layers are missing",
                 "dropped reference docker.io/library/ghost:latest: its image has no record",
                 f"removed {d.root}/overlay/.tmp-123-abc (left by an interrupted operation)",
                 f"removed container directory {'f' * 12}: it has no record",
                 f"dropped layer sha256:{top}: its directory is missing",
                 f"removed layer directory overlay/{'d' * 64}: no row names it"):
        assert any(line.startswith(said) for line in repairs), (said, repairs)
    tags = d.ok("images", "--format", "{{.Repository}}:{{.Tag}}").split()
    assert "keep:1" in tags and not any(t.startswith(("ghost", "doomed")) for t in tags)


def test_check_is_quiet_while_operations_run(own_daemon: Daemon, busybox_tar: str,
                                             tmp_path: Any) -> None:
    """What an import, commit, create or rm in flight has not recorded yet is no finding."""
    api = APIClient(own_daemon.host)
    rootfs = _rootfs_tar(busybox_tar, str(tmp_path / "rootfs.tar"), 3 * MB)
    stop = threading.Event()

    def churn() -> None:
        for n in range(3):
            with open(rootfs, "rb") as f:
                _stream_ok(api_images.import_image(api, f, f"churn:{n}"))
            cid, _ = _run_container(api, f"churn:{n}", ["sh", "-c", "echo x > /f"])
            api.post("/commit", {"container": cid, "repo": "churn", "tag": f"c{n}"})
            api_containers.remove(api, cid, force=True)
        stop.set()

    thread, outcome = _run_in_thread(churn)
    checks = 0
    while not stop.is_set() and thread.is_alive():
        assert store_check(api) == []
        checks += 1
    thread.join(60)
    assert "error" not in outcome, outcome
    assert checks >= 5 and store_check(api) == []
