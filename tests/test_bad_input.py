"""Bodies of the wrong shape answer 400 in Go's decoder wording, and odd values never 500:
raw HTTP over the daemon's unix socket, so no client library tidies the bodies first."""
from __future__ import annotations

import json
import random
from typing import Any, Iterator

import pytest

from dockyard.api import schema
from rawapi import post, request


@pytest.fixture(scope="module")
def running(daemon: Any) -> Iterator[str]:
    cid = daemon.ok("run", "-d", "busybox", "sleep", "300").strip()
    yield cid
    daemon.cli("rm", "-f", cid)


PREFIX = "invalid JSON: json: cannot unmarshal "
CASES = [
    ("/containers/create", {"Image": 5},
     "number into Go struct field CreateRequest.Image of type string"),
    ("/containers/create", [1], "array into Go value of type container.CreateRequest"),
    ("/containers/create", '"x"', "string into Go value of type container.CreateRequest"),
    ("/containers/create", {"Image": "busybox", "Env": ["A=1", 2]},
     "number into Go struct field CreateRequest.Env of type string"),
    ("/containers/create", {"Image": "busybox", "Cmd": {"a": 1}},
     "object into Go struct field CreateRequest.Cmd of type string"),
    ("/containers/create", {"Image": "busybox", "Tty": "yes"},
     "string into Go struct field CreateRequest.Tty of type bool"),
    ("/containers/create", {"Image": "busybox", "Labels": {"a": 1}},
     "number into Go struct field CreateRequest.Labels of type string"),
    ("/containers/create", {"Image": "busybox", "HostConfig": 5},
     "number into Go struct field CreateRequest.HostConfig of type container.HostConfig"),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"Memory": "1g"}},
     "string into Go struct field HostConfig.HostConfig.Memory of type int64"),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"BlkioWeight": -1}},
     "number -1 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16"),
    ("/containers/create", {"Image": "busybox", "HostConfig": {"ShmSize": 1 << 70}},
     f"number {1 << 70} into Go struct field HostConfig.HostConfig.ShmSize of type int64"),
    ("/containers/create",
     {"Image": "busybox", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 80}]}}},
     "number into Go struct field PortBinding.HostConfig.PortBindings.HostPort of type string"),
    ("/containers/create",
     {"Image": "busybox", "NetworkingConfig": {"EndpointsConfig": {"n": {"Aliases": "a"}}}},
     "string into Go struct field EndpointSettings.NetworkingConfig.EndpointsConfig.Aliases"
     " of type []string"),
    ("/commit?container={cid}", {"Labels": []},
     "array into Go struct field Config.Labels of type map[string]string"),
    ("/commit?container={cid}", [1], "array into Go value of type container.Config"),
    ("/containers/{cid}/exec", {"Cmd": ["true"], "Tty": 1},
     "number into Go struct field ExecOptions.Tty of type bool"),
    ("/containers/{cid}/exec", "[1]", "array into Go value of type container.ExecOptions"),
    ("/containers/{cid}/update", {"Memory": "x"},
     "string into Go struct field UpdateConfig.Memory of type int64"),
    ("/containers/{cid}/update", {"RestartPolicy": {"MaximumRetryCount": "3"}},
     "string into Go struct field RestartPolicy.RestartPolicy.MaximumRetryCount of type int"),
    ("/auth", {"username": 1},
     "number into Go struct field AuthConfig.Username of type string"),
    ("/auth", '"x"', "string into Go value of type registry.AuthConfig"),
]


@pytest.mark.parametrize("path,body,message", CASES)
def test_wrong_type_is_400(daemon: Any, running: str, path: str, body: Any,
                           message: str) -> None:
    status, answer = post(daemon, path.format(cid=running), body)
    assert status == 400, answer
    assert answer["message"] == PREFIX + message


@pytest.mark.parametrize("path,body,message", [
    ("/containers/create", {"Image": "busybox", "HostConfig": {"CpusetCpus": " "}},
     "Invalid value   for cpuset cpus"),
    ("/containers/{cid}/update", {"CpusetCpus": "0-"}, "Invalid value 0- for cpuset cpus"),
    ("/containers/{cid}/update", {"CpusetMems": "4096"},
     "Requested Memory nodes are not available - requested 4096, available: "),
])
def test_bad_cpuset_is_400(daemon: Any, running: str, path: str, body: Any,
                           message: str) -> None:
    status, answer = post(daemon, path.format(cid=running), body)
    assert status == 400, answer
    assert answer["message"].startswith(message)


def test_exec_cmd_as_string_runs_as_one_word(daemon: Any, running: str) -> None:
    status, answer = post(daemon, f"/containers/{running}/exec", {"Cmd": "true"})
    assert status == 201, answer
    details = json.loads(request(daemon, "GET", f"/exec/{answer['Id']}/json")[2])
    assert (details["ProcessConfig"]["entrypoint"], details["ProcessConfig"]["arguments"]) \
        == ("true", [])


def test_null_fields_and_unknown_fields_are_accepted(daemon: Any) -> None:
    status, answer = post(daemon, "/containers/create",
                          {"Image": "busybox", "Env": None, "HostConfig": None,
                           "NoSuchField": [1, {}], "cmd": "true"})
    assert status == 201, answer
    daemon.ok("rm", answer["Id"])


_ODD = [0, -1, 1, -(1 << 63), 1 << 63, 1 << 70, 2 ** 31, 1.5, "", " ", "x", "-1", True, False,
        None, [], [""], ["x", "y"], {}, {"": ""}, {"a": "b"}, [{}], "0:0", "/", "80/tcp"]


def _value(rng: random.Random, shape: schema.Shape, depth: int = 0) -> Any:
    """Mostly a value of the right kind (odd ones: empty, negative, huge), sometimes anything."""
    if rng.random() < 0.25 or depth > 3:
        return rng.choice(_ODD)
    if isinstance(shape, schema.Scalar):
        if shape.kind is int:
            return rng.choice([0, -1, 1, -(1 << 63), (1 << 63) - 1, 4096, 1 << 40,
                               shape.bounds[1], shape.bounds[0]])
        return rng.choice(["", "x", "0", "none", "host", "/", ":", "a=b"]) \
            if shape.kind is str else rng.choice([True, False])
    if isinstance(shape, schema.StrSlice):
        return rng.choice(["", "true", [], [""], ["true"], ["sh", "-c", "exit 3"]])
    if isinstance(shape, (schema.ListOf, schema.ArrayOf)):
        return [_value(rng, shape.item, depth + 1) for _ in range(rng.randint(0, 2))]
    if isinstance(shape, schema.MapOf):
        return {rng.choice(["", "a", "80/tcp", "/tmp"]): _value(rng, shape.value, depth + 1)
                for _ in range(rng.randint(0, 2))}
    names = rng.sample(sorted(shape.fields), min(len(shape.fields), rng.randint(0, 4)))
    return {name: _value(rng, shape.fields[name], depth + 1) for name in names}


def test_random_bodies_never_500(daemon: Any, running: str) -> None:
    rng = random.Random(20261203)
    targets = [("/containers/create", schema.CREATE), ("/containers/{cid}/exec", schema.EXEC),
               ("/containers/{cid}/update", schema.UPDATE),
               ("/commit?container={cid}&pause=0", schema.COMMIT)]
    before = set(daemon.container_ids())
    failures, images = [], []
    for i in range(200):
        path, shape = targets[i % len(targets)]
        body = _value(rng, shape)
        if isinstance(body, dict) and shape is schema.CREATE and rng.random() < 0.7:
            body["Image"] = "busybox"
        status, answer = post(daemon, path.format(cid=running), body)
        if status >= 500:
            failures.append((path, body, status, answer))
        elif status == 201 and path.startswith("/commit"):
            images.append(answer["Id"])
    for cid in set(daemon.container_ids()) - before:
        daemon.cli("rm", "-f", cid)
    for image in images:
        daemon.cli("rmi", image)
    assert not failures, failures[:5]
    assert daemon.proc is not None and daemon.proc.poll() is None
    assert post(daemon, "/containers/create", {"Image": 5})[0] == 400


# --- found by tests/test_fuzz_api.py ----------------------------------------------------------

@pytest.mark.parametrize("path,body,message", [
    # json.loads guessed UTF-32 from the NUL bytes and failed with a UnicodeDecodeError
    ("/commit?container={cid}", b"\x00\x00\x00\x00\x00",
     "invalid JSON: invalid character '\\x00' looking for beginning of value"),
    # Python's json reads NaN, Infinity and 1e999 (as inf); Go refuses all three
    ("/containers/create", b'{"Image": "busybox", "StopTimeout": NaN}',
     "invalid JSON: invalid character 'N' looking for beginning of value"),
    ("/containers/create", b'{"Image": "busybox", "StopTimeout": -Infinity}',
     "invalid JSON: invalid character 'I' in numeric literal"),
    ("/containers/create", b'{"Image": "busybox", "HostConfig": {"CpuPercent": 1e999}}',
     "invalid JSON: json: cannot unmarshal number 1e999 into Go value of type float64"),
    # nesting beyond the parser's recursion limit raised RecursionError
    ("/containers/create", b"[" * 5000 + b"]" * 5000, "invalid JSON: exceeded max depth"),
    # exec start's body was used unchecked: a list had no .get
    ("/exec/nosuch/start", b'[false, "x"]',
     PREFIX + "array into Go value of type container.ExecStartOptions"),
    ("/exec/nosuch/start", {"ConsoleSize": "x"},
     PREFIX + "string into Go struct field ExecStartOptions.ConsoleSize of type [2]uint"),
    ("/exec/nosuch/start", {"Detach": 1},
     PREFIX + "number into Go struct field ExecStartOptions.Detach of type bool"),
    # a legacy `auth` field of non-ASCII text made base64 raise a ValueError
    ("/auth", {"auth": "\u00c9Q"}, "invalid auth configuration: invalid auth field"),
])
def test_fuzz_findings_are_400(daemon: Any, running: str, path: str, body: Any,
                               message: str) -> None:
    status, answer = post(daemon, path.format(cid=running), body)
    assert status == 400, answer
    assert answer["message"].startswith(message), answer


def test_exec_console_size_is_two_numbers(daemon: Any, running: str) -> None:
    """Go decodes ConsoleSize into [2]uint: a short array is zero-filled, a long one cut
    (a one-item array used to raise IndexError when the spec was built)."""
    status, answer = post(daemon, f"/containers/{running}/exec", {"Cmd": ["true"], "Tty": True})
    assert status == 201, answer
    status, answer = post(daemon, f"/exec/{answer['Id']}/start",
                          {"Detach": True, "ConsoleSize": [5]})
    assert status == 200, answer
    status, answer = post(daemon, f"/containers/{running}/exec",
                          {"Cmd": ["true"], "Tty": True, "ConsoleSize": [24, 80, 1]})
    assert status == 201, answer
    assert post(daemon, f"/exec/{answer['Id']}/start", {"Detach": True})[0] == 200


@pytest.mark.parametrize("method", ["HEAD", "GET", "PUT"])
@pytest.mark.parametrize("path,message", [
    ("/tmp/a%00b", "invalid path"),                     # ValueError: embedded null byte
    ("/etc/passwd/", "not a directory"),                # ENOTDIR was a 500
])
def test_archive_bad_path_is_400(daemon: Any, running: str, method: str, path: str,
                                 message: str) -> None:
    status, _, data = request(daemon, method, f"/containers/{running}/archive?path={path}",
                              b"" if method == "PUT" else None)
    assert status == 400, data
    if method != "HEAD":
        assert message in json.loads(data)["message"].lower()


@pytest.mark.parametrize("query", ["until=abc", "since=2020-13-45T99:99:99Z", "since=nan",
                                   "until=1e999"])
def test_bad_log_times_are_400(daemon: Any, running: str, query: str) -> None:
    """A time parse_timestamp could not read raised ValueError (a 500)."""
    status, _, data = request(daemon, "GET", f"/containers/{running}/logs?stdout=1&{query}")
    assert status == 400, data
    assert json.loads(data)["message"].startswith("failed to parse value as time or duration")


def _tar_with_owner(uid: int) -> bytes:
    import io
    import tarfile
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("f")
        info.uid = info.gid = uid           # GNU base-256 can hold any number
        tar.addfile(info, io.BytesIO(b""))
    return out.getvalue()


@pytest.mark.parametrize("uid", [-5, 1 << 40])
def test_tar_owner_out_of_range_is_400(daemon: Any, running: str, uid: int) -> None:
    """os.lchown raised OverflowError (not an OSError) for these owners: a 500."""
    status, _, data = request(daemon, "POST", "/images/create?fromSrc=-", _tar_with_owner(uid))
    assert status == 400, data
    assert "out of range" in json.loads(data)["message"]
    status, _, data = request(daemon, "PUT", f"/containers/{running}/archive?path=/tmp",
                              _tar_with_owner(uid))
    assert status == 400, data
    assert "out of range" in json.loads(data)["message"]


def _pax_tar(name: str, link: str = "") -> bytes:
    import io
    import tarfile
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("x")
        info.pax_headers = {"path": name}   # PAX records keep a NUL that ustar fields cut
        if link:
            info.type = tarfile.SYMTYPE
            info.pax_headers["linkpath"] = link
        tar.addfile(info, io.BytesIO(b""))
    return out.getvalue()


@pytest.mark.parametrize("tar", [_pax_tar("a\x00b"), _pax_tar("l", "x\x00y")],
                         ids=["name", "link"])
def test_tar_names_with_nul_are_refused(daemon: Any, running: str, tar: bytes) -> None:
    """os calls raised ValueError('embedded null byte'): a 500 from PUT archive, import and
    load (which answers 200 and puts the error in its stream, as dockerd does)."""
    for path in (f"/containers/{running}/archive?path=/tmp", "/images/create?fromSrc=-"):
        status, _, data = request(daemon, "PUT" if "archive" in path else "POST", path, tar)
        assert status == 400, (path, data)
        assert "NUL byte" in json.loads(data)["message"]
    status, _, data = request(daemon, "POST", "/images/load", tar)
    assert status == 200 and b"NUL byte" in data, data


@pytest.mark.parametrize("key", ["since", "before"])
def test_empty_since_before_filters_are_ignored(daemon: Any, running: str, key: str) -> None:
    """{"since": []} took values[0] of an empty list: IndexError, a 500."""
    import urllib.parse
    query = urllib.parse.quote(json.dumps({key: []}))
    status, _, data = request(daemon, "GET", f"/containers/json?all=1&filters={query}")
    assert status == 200, data
    assert running in {c["Id"] for c in json.loads(data)}


def test_unknown_filters_are_refused(docker_client: Any, daemon: Any) -> None:
    """As dockerd: a filter key a list does not know is a 400 "invalid filter", for
    containers, container prune and events, before any stream starts."""
    import docker

    api = docker_client.api
    for call in (lambda: api.containers(all=True, filters={"colour": "red"}),
                 lambda: api.prune_containers(filters={"colour": "red"})):
        with pytest.raises(docker.errors.APIError) as err:
            call()
        assert err.value.status_code == 400 and "invalid filter 'colour'" in str(err.value)
    status, _, data = request(daemon, "GET", '/events?filters={"colour":["red"]}')
    assert status == 400 and json.loads(data) == {"message": "invalid filter 'colour'"}
    assert isinstance(api.containers(all=True, filters={"label": "x", "status": "exited"}),
                      list)


def test_container_prune_label_not(docker_client: Any, daemon: Any) -> None:
    """`container prune --filter label!=keep` spares the containers with that label."""
    kept = docker_client.containers.create("busybox", "true", labels={"keep": "1"})
    gone = docker_client.containers.create("busybox", "true", labels={"prunetest": "1"})
    try:
        result = docker_client.api.prune_containers(filters={"label!": "keep",
                                                             "label": "prunetest"})
        assert result["ContainersDeleted"] == [gone.id]
        kept.reload()
    finally:
        kept.remove(force=True)
