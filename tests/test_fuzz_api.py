"""Property: no body or query string a client sends makes the daemon answer 5xx, die, or leave
a container or image behind from a request that failed. Hypothesis throws generated inputs
(tests/fuzzshapes.py) at create, exec, exec start, update, commit, auth, the list and logs
queries, the archive endpoints and import/load, over raw HTTP (tests/rawapi.py).

DOCKYARD_FUZZ_EXAMPLES=N runs N examples per test with a fresh random seed (an exploration);
by default each test runs a small fixed set, the same every run."""
from __future__ import annotations

import http.server
import json
import os
import threading
import urllib.parse
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import fuzzshapes as fz
from conftest import Daemon, new_daemon
from dockyard.api import schema
from rawapi import decoded, request

EXPLORE = int(os.environ.get("DOCKYARD_FUZZ_EXAMPLES", "0"))
# No shrinking: against a live daemon it takes minutes, past pytest's timeout; a failure
# reports the generated input as it was.
FUZZ = settings(max_examples=EXPLORE or 60, deadline=None, derandomize=not EXPLORE,
                database=None, print_blob=False, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
THROWN = {"requests": 0}


class Target:
    """The fuzzed daemon, its containers, and the checks run after every example."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.running = daemon.ok("run", "-d", "busybox", "sleep", "3600").strip()
        self.victim = daemon.ok("run", "-d", "busybox", "sleep", "3600").strip()  # /update
        self.exited = daemon.ok("create", "busybox", "sh", "-c", "echo out; echo err >&2"
                                ).strip()
        daemon.ok("start", "-a", self.exited)
        self.baseline = self.state()

    def throw(self, method: str, path: str, body: bytes | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, Any]:
        THROWN["requests"] += 1
        status, _, data = request(self.daemon, method, path, body,
                                  {"Content-Type": "application/json", **(headers or {})},
                                  timeout=60)
        assert status < 500, (method, path, body[:300] if body else body, status,
                              decoded(data))
        return status, decoded(data)

    def state(self) -> tuple[set[str], set[str]]:
        containers = json.loads(request(self.daemon, "GET", "/containers/json?all=1")[2])
        images = json.loads(request(self.daemon, "GET", "/images/json?all=1")[2])
        return {c["Id"] for c in containers}, {i["Id"] for i in images}

    def settle(self, succeeded: bool) -> None:
        """The daemon is alive; a failed request created nothing; what a successful one
        created is removed, so the next example starts from the baseline."""
        assert self.daemon.proc is not None and self.daemon.proc.poll() is None, \
            self.daemon.logs()
        assert request(self.daemon, "GET", "/_ping")[2] == b"OK"
        containers, images = self.state()
        new_containers = containers - self.baseline[0]
        new_images = images - self.baseline[1]
        for cid in new_containers:
            request(self.daemon, "DELETE", f"/containers/{cid}?force=1")
        for image in new_images:
            request(self.daemon, "DELETE", f"/images/{image}?force=1")
        assert succeeded or not (new_containers or new_images), (new_containers, new_images)
        assert self.baseline[0] <= containers, "a fuzzed request removed a fixture container"
        root = self.daemon.root
        assert set(os.listdir(os.path.join(root, "containers"))) == self.baseline[0]
        assert not os.listdir(os.path.join(root, "content", "ingest"))   # no half-written blob
        for place in ("/tmp", "/", self.daemon.base, self.daemon.root):
            assert not os.path.lexists(os.path.join(place, fz.ESCAPE)), place


@pytest.fixture(scope="module")
def target(busybox_tar: str) -> Iterator[Target]:
    """A daemon of this module's own: a daemon the fuzz kills takes no other test down."""
    daemon = new_daemon(busybox_tar)
    try:
        yield Target(daemon)
    finally:
        print(f"\nfuzz: {THROWN['requests']} generated requests")
        daemon.cleanup()


class _Registry(http.server.BaseHTTPRequestHandler):
    """Answers /v2/ with 200, as an anonymous registry does: logins succeed, offline."""

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/v2/" else 404)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def fake_registry() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _ok(status: int) -> bool:
    return 200 <= status < 300


@FUZZ
@given(fz.body(schema.CREATE), st.integers(0, 9),
       fz.query({"name": fz.choose(["x", "a_b", "/x", "bad name", "-x", "a" * 300]),
                 "platform": fz.choose(["linux", "linux/amd64", "windows", "bogus/x/y/z"])}))
def test_create(target: Target, raw: bytes, busybox: int, query: str) -> None:
    value = decoded(raw)
    if isinstance(value, dict) and busybox < 8:
        value["Image"] = "busybox"      # most bodies name an image that exists, to get deeper
        raw = json.dumps(value).encode()
    status, _ = target.throw("POST", f"/containers/create?{query}", raw)
    target.settle(_ok(status))


@FUZZ
@given(fz.body(schema.EXEC), st.sampled_from(["running", "exited", "nosuch"]))
def test_exec_create(target: Target, raw: bytes, which: str) -> None:
    ref = getattr(target, which, which)
    status, _ = target.throw("POST", f"/containers/{ref}/exec", raw)
    target.settle(_ok(status))


@FUZZ
@given(st.fixed_dictionaries({"Cmd": st.sampled_from([["true"], ["echo", "hi"]]),
                              "Tty": st.booleans(), "AttachStdin": st.booleans(),
                              "AttachStdout": st.booleans(), "AttachStderr": st.booleans()}),
       fz.body(schema.EXEC_START), st.integers(0, 9))
def test_exec_start(target: Target, config: dict[str, Any], raw: bytes, twice: int) -> None:
    _, answer = target.throw("POST", f"/containers/{target.running}/exec",
                             json.dumps(config).encode())
    for _ in range(2 if twice == 0 else 1):
        target.throw("POST", f"/exec/{answer['Id']}/start", raw)
    target.throw("POST", "/exec/nosuch/start", raw)
    target.settle(True)


@FUZZ
@given(fz.body(schema.UPDATE))
def test_update(target: Target, raw: bytes) -> None:
    status, _ = target.throw("POST", f"/containers/{target.victim}/update", raw)
    target.settle(_ok(status))


@FUZZ
@given(fz.body(schema.COMMIT), st.sampled_from(["running", "exited", "nosuch", ""]),
       fz.query({"repo": fz.choose(["x", "UPPER", "a/b", "a:b", "localhost:5000/x", "-x"]),
                 "tag": fz.choose(["1", "bad tag", "x" * 200, ":", "-x", "latest"]),
                 "changes": fz.choose(["CMD true", "CMD [", "EXPOSE abc", "ENV", "ENV A",
                                       "USER", "WORKDIR rel", "LABEL", "RUN x", "bogus",
                                       "STOPSIGNAL x", "VOLUME [", "HEALTHCHECK NONE",
                                       "ONBUILD RUN x", "ENTRYPOINT", "EXPOSE 80/bogus"]),
                 "pause": st.sampled_from(fz.BOOLS), "author": st.text(max_size=8),
                 "comment": st.text(max_size=8)}))
def test_commit(target: Target, raw: bytes, which: str, query: str) -> None:
    ref = getattr(target, which, which)
    status, _ = target.throw("POST", f"/commit?container={ref}&{query}", raw)
    target.settle(_ok(status))


@FUZZ
@given(fz.body(schema.AUTH), st.sampled_from(["{}", "http://{}", "https://{}", "{}/v2/",
                                              "http://{}/v1/"]))
def test_auth(target: Target, fake_registry: str, raw: bytes, address: str) -> None:
    value = decoded(raw)
    if isinstance(value, dict):
        # the only registry these logins may reach is the local one (the default is Hub)
        value = {k: v for k, v in value.items() if k.lower() != "serveraddress"}
        value["serveraddress"] = address.format(fake_registry)
        raw = json.dumps(value).encode()
    elif value is None:
        raw = json.dumps({"serveraddress": fake_registry}).encode()
    status, _ = target.throw("POST", "/auth", raw)
    target.settle(_ok(status))


_LIST = fz.query({"all": st.sampled_from(fz.BOOLS), "limit": st.sampled_from(fz.INTS),
                  "size": st.sampled_from(fz.BOOLS), "filters": fz.filters(),
                  "filter": fz.choose(["busybox", "[", "*", "a:b", "sha256:"]),
                  "digests": st.sampled_from(fz.BOOLS),
                  "shared-size": st.sampled_from(fz.BOOLS)})


@FUZZ
@given(st.sampled_from(["/containers/json", "/images/json"]), _LIST)
def test_list_queries(target: Target, path: str, query: str) -> None:
    target.throw("GET", f"{path}?{query}")
    target.settle(True)


@FUZZ
@given(fz.query({key: st.sampled_from(fz.BOOLS) for key in
                 ("stdout", "stderr", "timestamps", "follow", "details")}
                | {"tail": st.sampled_from(fz.INTS + ["all", "-5"]),
                   "since": st.sampled_from(fz.TIMES), "until": st.sampled_from(fz.TIMES)}),
       st.sampled_from(["exited", "nosuch"]))
def test_logs_queries(target: Target, query: str, which: str) -> None:
    # only the exited container: `follow` on a running one streams until it exits
    target.throw("GET", f"/containers/{getattr(target, which, which)}/logs?{query}")
    target.settle(True)


_PATHS = ["/", "/etc", "/etc/passwd", "/etc/passwd/", "/nonexistent", "relative", "..", "/..",
          "/../../..", "/proc", "/tmp", "/tmp/", "/tmp/.", "//", "/bin/sh", "/dev/null",
          "/etc/../etc", "", "/tmp/link", f"/{fz.ESCAPE}", "/tmp/a\x00b"]


@FUZZ
@given(st.sampled_from(["HEAD", "GET", "PUT", "PUT", "PUT"]), fz.choose(_PATHS),
       fz.tar_body(), fz.query({"copyUIDGID": st.sampled_from(fz.BOOLS),
                                "noOverwriteDirNonDir": st.sampled_from(fz.BOOLS)}))
def test_archive(target: Target, method: str, path: str, tar: bytes, query: str) -> None:
    where = urllib.parse.quote(path, safe="")
    target.throw(method, f"/containers/{target.running}/archive?path={where}&{query}",
                 tar if method == "PUT" else None, {"Content-Type": "application/x-tar"})
    target.settle(True)


@FUZZ
@given(st.sampled_from(["/images/create?fromSrc=-", "/images/load?"]), fz.tar_body(),
       fz.query({"repo": fz.choose(["x", "UPPER", "a/b", "a:b", "-x", "localhost:1/x"]),
                 "tag": fz.choose(["1", "bad tag", ":", "-x"]),
                 "message": st.text(max_size=8), "quiet": st.sampled_from(fz.BOOLS),
                 "platform": fz.choose(["linux", "linux/arm64", "windows", "a/b/c/d"]),
                 "changes": fz.choose(["CMD true", "CMD [", "EXPOSE abc", "ENV", "bogus",
                                       "USER", "VOLUME [", "ONBUILD"])}))
def test_import_and_load(target: Target, path: str, tar: bytes, query: str) -> None:
    # generated keys are at most 6 characters: never fromImage (a pull) or another fromSrc
    status, _ = target.throw("POST", f"{path}&{query}", tar,
                             {"Content-Type": "application/x-tar"})
    target.settle(_ok(status))
