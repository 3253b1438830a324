"""The HTTP API in-process: a real Engine on its own data root, served by aiohttp's test server
on a loop in a background thread. No daemon process, no containers started, so these check
the API layer's contracts (routing, versions, status codes, Docker's error texts, response
shapes) in a fraction of a second each. Starting containers is left to the daemon tests."""
from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dockyard import API_VERSION, MIN_API_VERSION

pytestmark = pytest.mark.inprocess


class InProcessAPI:
    """Synchronous calls into an aiohttp TestClient running on its own loop."""

    def __init__(self, data_root: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.engine, self.client = self._await(self._open(data_root))

    async def _open(self, data_root: str) -> tuple[Any, Any]:
        from aiohttp.test_utils import TestClient, TestServer

        from dockyard.api.server import make_app
        from dockyard.daemon.config import DaemonConfig
        from dockyard.daemon.engine import Engine

        # its own bridge and no firewall: other daemons run beside it
        self.bridge = f"dyi{os.getpid() % 100000}"
        engine = Engine(DaemonConfig(data_root=data_root, hosts=[],
                                     raw={"bridge": self.bridge, "iptables": False}))
        await engine.start()
        client = TestClient(TestServer(make_app(engine)))
        await client.start_server()
        return engine, client

    def _await(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
        """(status, body as JSON or text, headers)."""
        async def go() -> tuple[int, Any, Any]:
            response = await self.client.request(method, path, **kwargs)
            text = await response.text()
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = text
            return response.status, body, response.headers
        return self._await(go())

    def close(self) -> None:
        async def shut() -> None:
            await self.client.close()
            await self.engine.stop()
        self._await(shut())
        from dockyard.engine.networks import plumbing
        plumbing.delete_link(self.bridge)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, busybox_tar: str) -> Iterator[InProcessAPI]:
    client = InProcessAPI(str(tmp_path_factory.mktemp("inproc") / "root"))
    with open(busybox_tar, "rb") as f:
        status, body, _ = client.call(
            "POST", "/v1.45/images/create?fromSrc=-&repo=busybox&tag=latest"
                    "&changes=CMD%20%5B%22sh%22%5D", data=f.read())
    assert status == 200, body
    try:
        yield client
    finally:
        for summary in client.call("GET", "/containers/json?all=1")[1]:
            client.call("DELETE", f"/containers/{summary['Id']}?force=1")
        client.close()


def test_ping_and_version_headers(api: InProcessAPI) -> None:
    status, body, headers = api.call("GET", "/_ping")
    assert status == 200 and body == "OK"
    assert headers["Api-Version"] == API_VERSION and headers["Ostype"] == "linux"
    status, body, headers = api.call("HEAD", "/_ping")
    assert status == 200 and headers["Api-Version"] == API_VERSION
    status, version, _ = api.call("GET", "/version")
    assert status == 200
    assert version["ApiVersion"] == API_VERSION and version["MinAPIVersion"] == MIN_API_VERSION
    assert {"Version", "Os", "Arch", "KernelVersion", "Components"} <= set(version)


def test_api_versions_out_of_range_are_refused_in_dockers_words(api: InProcessAPI) -> None:
    status, body, _ = api.call("GET", "/v1.99/version")
    assert status == 400
    assert body["message"] == (f"client version 1.99 is too new. Maximum supported API "
                               f"version is {API_VERSION}")
    status, body, _ = api.call("GET", "/v1.11/version")
    assert status == 400 and body["message"].startswith("client version 1.11 is too old.")
    assert api.call("GET", f"/v{MIN_API_VERSION}/version")[0] == 200


def test_unknown_routes_are_404_with_a_json_message(api: InProcessAPI) -> None:
    status, body, _ = api.call("GET", "/v1.45/nothing/here")
    assert status == 404 and body == {"message": "page not found"}


def test_create_inspect_rename_and_remove(api: InProcessAPI) -> None:
    status, created, _ = api.call("POST", "/v1.45/containers/create?name=inproc-one",
                                  json={"Image": "busybox", "Cmd": ["true"]})
    assert status == 201 and created["Warnings"] == [] and len(created["Id"]) == 64
    cid = created["Id"]
    status, info, _ = api.call("GET", "/v1.45/containers/inproc-one/json")
    assert status == 200 and info["Id"] == cid and info["Name"] == "/inproc-one"
    assert info["State"]["Status"] == "created" and info["Config"]["Cmd"] == ["true"]
    assert api.call("GET", f"/v1.45/containers/{cid[:12]}/json")[1]["Id"] == cid

    status, body, _ = api.call("POST", "/v1.45/containers/create?name=inproc-one",
                               json={"Image": "busybox"})
    assert status == 409
    assert body["message"] == (
        f'Conflict. The container name "/inproc-one" is already in use by container "{cid}".'
        " You have to remove (or rename) that container to be able to reuse that name.")

    assert api.call("POST", f"/v1.45/containers/{cid}/rename?name=inproc-two")[0] == 204
    assert api.call("GET", "/v1.45/containers/inproc-two/json")[1]["Id"] == cid
    status, body, _ = api.call("GET", "/v1.45/containers/inproc-one/json")
    assert status == 404 and body["message"] == "No such container: inproc-one"

    assert api.call("DELETE", "/v1.45/containers/inproc-two")[0] == 204
    status, body, _ = api.call("DELETE", "/v1.45/containers/inproc-two")
    assert status == 404 and body["message"] == "No such container: inproc-two"


def test_create_refuses_bad_input_with_no_partial_state(api: InProcessAPI) -> None:
    before = api.call("GET", "/v1.45/containers/json?all=1")[1]
    status, body, _ = api.call("POST", "/v1.45/containers/create",
                               json={"Image": "nothere:v1"})
    assert status == 404 and body["message"] == "No such image: nothere:v1"
    status, body, _ = api.call("POST", "/v1.45/containers/create?name=bad%20name",
                               json={"Image": "busybox"})
    assert status == 400
    assert body["message"] == ("Invalid container name (bad name), only "
                               "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    status, body, _ = api.call("POST", "/v1.45/containers/create",
                               data=b"{not json", headers={"Content-Type": "application/json"})
    assert status == 400
    assert api.call("GET", "/v1.45/containers/json?all=1")[1] == before


def test_list_filters(api: InProcessAPI) -> None:
    _, created, _ = api.call("POST", "/v1.45/containers/create?name=inproc-labelled",
                             json={"Image": "busybox", "Labels": {"tier": "web"}})
    try:
        def ids(filters: dict[str, list[str]]) -> list[str]:
            status, body, _ = api.call("GET", "/v1.45/containers/json",
                                       params={"all": "1", "filters": json.dumps(filters)})
            assert status == 200, body
            return [c["Id"] for c in body]
        assert ids({"label": ["tier=web"]}) == [created["Id"]]
        assert ids({"label": ["tier=db"]}) == []
        assert ids({"name": ["inproc-labelled"]}) == [created["Id"]]
        assert created["Id"] in ids({"status": ["created"]})
        status, body, _ = api.call("GET", "/v1.45/containers/json",
                                   params={"filters": json.dumps({"bogus": ["x"]})})
        assert status == 400 and body["message"] == "invalid filter 'bogus'"
        # running containers only, unless all=1
        running = api.call("GET", "/v1.45/containers/json")[1]
        assert created["Id"] not in [c["Id"] for c in running]
    finally:
        api.call("DELETE", f"/v1.45/containers/{created['Id']}")


def test_image_removal_conflicts_use_dockers_words(api: InProcessAPI) -> None:
    assert api.call("POST", "/v1.45/images/busybox/tag?repo=inproc&tag=v1")[0] == 201
    _, created, _ = api.call("POST", "/v1.45/containers/create", json={"Image": "inproc:v1"})
    image_id = api.call("GET", "/v1.45/images/inproc:v1/json")[1]["Id"]
    try:
        status, body, _ = api.call("DELETE", f"/v1.45/images/{image_id}")
        assert status == 409 and body["message"] == (
            f"conflict: unable to delete {image_id[7:19]} (must be forced) - image is "
            "referenced in multiple repositories")
        # one of two tags may go even while a container uses the image; the last may not
        status, body, _ = api.call("DELETE", "/v1.45/images/inproc:v1")
        assert status == 200 and body == [{"Untagged": "inproc:v1"}]
        status, body, _ = api.call("DELETE", "/v1.45/images/busybox:latest")
        assert status == 409 and body["message"] == (
            'conflict: unable to remove repository reference "busybox:latest" (must force) - '
            f"container {created['Id'][:12]} is using its referenced image {image_id[7:19]}")
    finally:
        api.call("DELETE", f"/v1.45/containers/{created['Id']}")
    assert api.call("GET", "/v1.45/images/busybox/json")[0] == 200


def test_events_since_until_replay_and_bad_filters(api: InProcessAPI) -> None:
    _, created, _ = api.call("POST", "/v1.45/containers/create?name=inproc-events",
                             json={"Image": "busybox"})
    api.call("DELETE", f"/v1.45/containers/{created['Id']}")
    status, body, _ = api.call("GET", "/v1.45/events", params={
        "since": "0", "until": f"{time.time():.9f}",
        "filters": json.dumps({"container": ["inproc-events"]})})
    assert status == 200
    events = [json.loads(line) for line in body.splitlines()] if isinstance(body, str) \
        else [body]
    assert [e["Action"] for e in events] == ["create", "destroy"]
    assert all(e["Type"] == "container" and e["Actor"]["ID"] == created["Id"] for e in events)
    status, body, _ = api.call("GET", "/v1.45/events", params={
        "since": "0", "until": "1", "filters": json.dumps({"nonsense": ["1"]})})
    assert status == 400 and body["message"] == "invalid filter 'nonsense'"


def test_info_and_df_count_what_exists(api: InProcessAPI) -> None:
    _, created, _ = api.call("POST", "/v1.45/containers/create", json={"Image": "busybox"})
    try:
        status, info, _ = api.call("GET", "/v1.45/info")
        assert status == 200
        assert info["Containers"] == info["ContainersStopped"] + info["ContainersRunning"] \
            + info["ContainersPaused"] >= 1
        assert info["Images"] >= 1 and info["Driver"] == "overlay2"
        status, df, _ = api.call("GET", "/v1.45/system/df")
        assert status == 200
        assert {"LayersSize", "Images", "Containers", "Volumes", "BuildCache"} <= set(df)
        mine = [c for c in df["Containers"] if c["Id"] == created["Id"]]
        assert len(mine) == 1 and mine[0]["SizeRw"] == 0
        busybox = [i for i in df["Images"] if "busybox:latest" in (i["RepoTags"] or [])]
        assert busybox and busybox[0]["Containers"] >= 1
    finally:
        api.call("DELETE", f"/v1.45/containers/{created['Id']}")


def test_verbs_on_a_container_that_is_not_running_are_409(api: InProcessAPI) -> None:
    _, created, _ = api.call("POST", "/v1.45/containers/create", json={"Image": "busybox"})
    cid = created["Id"]
    try:
        status, body, _ = api.call("POST", f"/v1.45/containers/{cid}/exec",
                                   json={"Cmd": ["true"]})
        assert status == 409 and body["message"] == f"Container {cid} is not running"
        status, body, _ = api.call("POST", f"/v1.45/containers/{cid}/kill")
        assert status == 409
        assert body["message"] == f"Cannot kill container: {cid}: Container {cid} is not running"
        status, body, _ = api.call("POST", f"/v1.45/containers/{cid}/pause")
        assert status == 409 and body["message"] == f"Container {cid} is not running"
        # stop of a container that is not running is 304 with no body, as Docker answers
        assert api.call("POST", f"/v1.45/containers/{cid}/stop")[0] == 304
        status, body, _ = api.call("GET", f"/v1.45/containers/{cid}/logs?stdout=1")
        assert status == 200 and not body
    finally:
        api.call("DELETE", f"/v1.45/containers/{cid}")


def test_an_answer_waits_until_the_records_it_changed_are_on_disk(api: InProcessAPI) -> None:
    """Record saves run on the database's writer thread; the API answers only once those a
    request queued have committed, so a daemon killed right after an answer keeps them."""
    import concurrent.futures
    import os
    import sqlite3

    status, body, _ = api.call("POST", "/containers/create?name=durable",
                               json={"Image": "busybox", "Cmd": ["true"]})
    assert status == 201, body
    cid = body["Id"]
    gate = threading.Event()
    api.engine.db.submit(gate.wait, 30)        # the writer is busy: saves queue behind this
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(api.call, "POST", f"/containers/{cid}/rename?name=durable2")
        with pytest.raises(concurrent.futures.TimeoutError):   # a window with no answer
            answer.result(timeout=0.5)
        gate.set()
        assert answer.result(timeout=10)[0] == 204
    path = os.path.join(api.engine.config.data_root, "metadata.db")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        name = db.execute("SELECT name FROM containers WHERE id = ?", (cid,)).fetchone()[0]
    assert name == "/durable2"
    assert api.call("DELETE", f"/containers/{cid}")[0] == 204
