"""Push and pull through credential-protected registries, end to end: login with our CLI or
the docker CLI, credentials in config.json sent as X-Registry-Auth, the daemon's Authorizer
getting tokens from the test token server (or answering basic auth)."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from typing import Any, Iterator

import pytest

from credhelper import write_helper
from registry import Registry
from tokenserver import TokenServer

DENIED = "denied: requested access to the resource is denied"


class Client:
    """Our CLI or the docker CLI against the shared daemon, with a DOCKER_CONFIG of its own."""

    def __init__(self, daemon: Any, config: str, docker: bool) -> None:
        self.daemon, self.config, self.docker = daemon, config, docker
        self.env = {**daemon.env(), "DOCKER_CONFIG": config}
        self.tags: list[str] = []

    def tag(self, name: str) -> None:
        """Tag the daemon's busybox as `name` (untagged again after the test)."""
        self.daemon.ok("tag", "busybox", name)
        self.tags.append(name)

    def __call__(self, *args: str, input: str = "") -> subprocess.CompletedProcess[str]:
        command = ["docker"] if self.docker else [sys.executable, "-m", "dockyard.cli"]
        return subprocess.run([*command, *args], input=input, capture_output=True, text=True,
                              env=self.env, timeout=120)

    def ok(self, *args: str, input: str = "") -> str:
        result = self(*args, input=input)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def login(self, host: str, password: str = "s3cret") -> None:
        self.ok("login", "-u", "alice", "--password-stdin", host, input=password)


@pytest.fixture(params=["dockyard", "docker"])
def client(request: pytest.FixtureRequest, daemon: Any, tmp_path: Any) -> Iterator[Client]:
    c = Client(daemon, str(tmp_path / "cfg"), request.param == "docker")
    yield c
    for name in c.tags:
        daemon.cli("rmi", name)


def test_push_and_pull_through_the_token_server(client: Client, daemon: Any,
                                                token_registry: tuple[TokenServer, Registry]
                                                ) -> None:
    server, reg = token_registry
    who = "dy" if not client.docker else "dk"
    private, public = f"{reg.host}/alice/{who}:1", f"{reg.host}/public/{who}:1"
    client.tag(private)
    client.tag(public)

    refused = client("push", private)
    assert refused.returncode == 1 and refused.stderr == f"{DENIED}\n"

    client.login(reg.host)
    before = len(server.requests)
    pushed = client.ok("push", private)
    assert "1: digest: sha256:" in pushed
    # one token for the whole push (layer, config, manifest), through the OAuth refresh
    # flow: login left an identity token in config.json instead of the password
    [asked] = server.requests[before:]
    assert asked["method"] == "POST"
    assert asked["form"]["grant_type"] == ["refresh_token"]
    # (plus pull on another repository holding the layer, for a cross-repository mount)
    assert f"repository:alice/{who}:pull,push" in asked["form"]["scope"][0].split()
    assert server.refresh_tokens[asked["form"]["refresh_token"][0]] == "alice"
    client.ok("push", public)

    daemon.ok("rmi", private, public)
    assert f"Downloaded newer image for {private}" in client.ok("pull", private)
    assert daemon.ok("run", "--rm", private, "echo", "pulled") == "pulled\n"

    client.ok("logout", reg.host)
    daemon.ok("rmi", private)
    denied = client("pull", private)
    assert denied.returncode == 1
    assert denied.stderr == (f"Error response from daemon: pull access denied for {reg.host}/"
                             f"alice/{who}, repository does not exist or may require 'docker "
                             f"login': {DENIED}\n")
    # anonymous tokens carry pull access to public/*
    assert f"Downloaded newer image for {public}" in client.ok("pull", public)


def test_push_and_pull_through_basic_auth(client: Client, daemon: Any,
                                          basic_registry: Registry) -> None:
    name = f"{basic_registry.host}/team/{'dk' if client.docker else 'dy'}:1"
    client.tag(name)
    refused = client("push", name)
    assert refused.returncode == 1
    assert refused.stderr == "unauthorized: authentication required\n"

    client.login(basic_registry.host)
    assert "1: digest: sha256:" in client.ok("push", name)
    daemon.ok("rmi", name)
    assert f"Downloaded newer image for {name}" in client.ok("pull", name)

    client.ok("logout", basic_registry.host)
    daemon.ok("rmi", name)
    anonymous = client("pull", name)
    assert anonymous.returncode == 1
    assert "unauthorized: authentication required" in anonymous.stderr


def test_refused_stored_password_names_the_request(client: Client, daemon: Any,
                                                   token_registry: tuple[TokenServer, Registry]
                                                   ) -> None:
    """A password the token server refuses, as Docker reports it during a pull."""
    _, reg = token_registry
    os.makedirs(client.config)
    with open(os.path.join(client.config, "config.json"), "w") as f:
        json.dump({"auths": {reg.host: {"auth": base64.b64encode(b"alice:wrong").decode()}}}, f)
    result = client("pull", f"{reg.host}/alice/any:1")    # (a 401 would make docker prompt)
    assert result.returncode == 1
    assert result.stderr == (f'Error response from daemon: Get "http://{reg.host}/v2/alice/'
                             'any/manifests/1": unauthorized: incorrect username or password\n')


def test_docker_py_sends_auth_config(docker_client: Any, daemon: Any,
                                     token_registry: tuple[TokenServer, Registry]) -> None:
    """docker-py's X-Registry-Auth (auth_config=...) for push and pull."""
    import docker

    _, reg = token_registry
    name = f"{reg.host}/alice/py"
    creds = {"username": "alice", "password": "s3cret"}
    daemon.ok("tag", "busybox", f"{name}:1")
    try:
        with pytest.raises(docker.errors.APIError, match="denied: requested access"):
            for line in docker_client.images.push(name, "1", stream=True, decode=True):
                if "error" in line:
                    raise docker.errors.APIError(line["error"])
        lines = list(docker_client.images.push(name, "1", stream=True, decode=True,
                                               auth_config=creds))
        assert not [line for line in lines if "error" in line], lines
        daemon.ok("rmi", f"{name}:1")
        image = docker_client.images.pull(name, "1", auth_config=creds)
        assert f"{name}:1" in image.tags
        with pytest.raises(docker.errors.APIError) as err:
            docker_client.images.pull(name, "1", auth_config={**creds, "password": "bad"})
        assert err.value.status_code == 500
        assert "unauthorized: incorrect username or password" in str(err.value)
    finally:
        daemon.cli("rmi", f"{name}:1")


def test_docker_cli_uses_a_credential_helper_we_filled(daemon: Any, tmp_path: Any,
                                                       basic_registry: Registry) -> None:
    """Our login stores through the helper; the docker CLI reads it back for its push."""
    bin_dir = str(tmp_path / "bin")
    write_helper(bin_dir, "e2e")
    config = str(tmp_path / "cfg")
    os.makedirs(config)
    with open(os.path.join(config, "config.json"), "w") as f:
        json.dump({"credHelpers": {basic_registry.host: "e2e"}}, f)
    env = {**daemon.env(), "DOCKER_CONFIG": config,
           "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    ours = Client(daemon, config, docker=False)
    theirs = Client(daemon, config, docker=True)
    ours.env = theirs.env = env
    name = f"{basic_registry.host}/helper/box:1"
    ours.tag(name)
    try:
        ours.login(basic_registry.host)
        assert "1: digest: sha256:" in theirs.ok("push", name)
        theirs.ok("logout", basic_registry.host)
        assert theirs("push", name).returncode == 1
    finally:
        daemon.cli("rmi", name)

