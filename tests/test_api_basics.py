"""The API surface every client depends on: ping, version, info, headers, errors."""
from __future__ import annotations

import json

from conftest import Daemon
from rawapi import request


def test_ping_get_and_head(daemon: Daemon) -> None:
    status, headers, body = request(daemon, "GET", "/_ping")
    assert (status, body) == (200, b"OK")
    assert headers["Api-Version"] == "1.45"
    assert headers["Ostype"] == "linux"
    assert headers["Builder-Version"] == "1"
    assert headers["Server"].startswith("Docker/")
    assert headers["Docker-Experimental"] == "false"
    status, headers, body = request(daemon, "HEAD", "/_ping")
    assert status == 200 and body == b"" and headers["Content-Length"] == "0"


def test_versioned_paths(daemon: Daemon) -> None:
    for prefix in ("", "/v1.24", "/v1.41", "/v1.45"):
        status, _, body = request(daemon, "GET", f"{prefix}/version")
        assert status == 200
        data = json.loads(body)
        assert data["ApiVersion"] == "1.45" and data["MinAPIVersion"] == "1.24"
        assert "GoVersion" in data and "Version" in data
    status, _, body = request(daemon, "GET", "/v1.99/version")
    assert status == 400
    assert json.loads(body)["message"].startswith("client version 1.99 is too new")
    status, _, body = request(daemon, "GET", "/v1.12/version")
    assert status == 400 and "is too old" in json.loads(body)["message"]


def test_info_has_clients_keys(daemon: Daemon) -> None:
    status, _, body = request(daemon, "GET", "/info")
    data = json.loads(body)
    assert status == 200
    for key in ("Containers", "Images", "Debug", "NCPU", "MemTotal", "DockerRootDir"):
        assert key in data
    assert data["DockerRootDir"] == daemon.root
    assert data["Images"] >= 1


def test_errors_use_docker_body(daemon: Daemon) -> None:
    status, headers, body = request(daemon, "GET", "/containers/nope/json")
    assert status == 404
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {"message": "No such container: nope"}
    status, _, body = request(daemon, "POST", "/containers/create", b"{not json",
                              {"Content-Type": "application/json"})
    assert status == 400 and "message" in json.loads(body)
    status, _, body = request(daemon, "GET", "/no/such/endpoint")
    assert status == 404 and json.loads(body) == {"message": "page not found"}


def test_socket_is_root_only(daemon: Daemon) -> None:
    import os
    import stat
    mode = stat.S_IMODE(os.stat(daemon.sock).st_mode)
    assert mode == 0o660
    assert os.stat(daemon.sock).st_uid == 0
