"""POST /auth, `dockyard login/logout`, config.json and credential helpers, against real
registries (token-protected and htpasswd) through the stock docker CLI, docker-py and our
CLI."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from dockyard.distribution.auth import Authorizer, decode_registry_auth
from credhelper import write_helper
from registry import Registry
from tokenserver import TokenServer

_PLAINTEXT_WARNING = "WARNING! Your credentials are stored unencrypted in"


def run(daemon: Any, config: str, *args: str, docker: bool = False, input: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Our CLI (or the docker CLI) with its own DOCKER_CONFIG and no terminal on stdin."""
    command = ["docker"] if docker else [sys.executable, "-m", "dockyard.cli"]
    return subprocess.run([*command, *args], input=input or "", capture_output=True, text=True,
                          env={**daemon.env(), "DOCKER_CONFIG": config, **(env or {})},
                          timeout=60)


def read_config(config: str) -> dict[str, Any]:
    path = os.path.join(config, "config.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as f:
        return json.load(f)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- POST /auth through the docker CLI and docker-py ------------------------------------------

def test_docker_cli_login_to_token_registry(daemon: Any, tmp_path: Any,
                                            token_registry: tuple[TokenServer, Registry]) -> None:
    server, reg = token_registry
    config = str(tmp_path / "cfg")
    result = run(daemon, config, "login", "-u", "alice", "--password-stdin", reg.host,
                 docker=True, input="s3cret\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Login Succeeded\n"
    entry = read_config(config)["auths"][reg.host]
    assert entry["auth"] == b64("alice:")                 # the refresh token replaced it
    assert server.refresh_tokens[entry["identitytoken"]] == "alice"
    asked = server.requests[-1]
    assert asked["query"]["offline_token"] == ["true"] and asked["query"]["account"] == ["alice"]

    wrong = run(daemon, config, "login", "-u", "alice", "--password-stdin", reg.host,
                docker=True, input="wrong\n")
    assert wrong.returncode == 1
    assert wrong.stderr == (f'Error response from daemon: Get "http://{reg.host}/v2/": '
                            "unauthorized: incorrect username or password\n")


def test_docker_cli_login_to_basic_registry(daemon: Any, tmp_path: Any,
                                            basic_registry: Registry) -> None:
    config = str(tmp_path / "cfg")
    result = run(daemon, config, "login", "-u", "alice", "-p", "s3cret", basic_registry.host,
                 docker=True)
    assert result.returncode == 0, result.stderr
    assert read_config(config)["auths"][basic_registry.host] == {"auth": b64("alice:s3cret")}
    wrong = run(daemon, config, "login", "-u", "alice", "--password-stdin",
                basic_registry.host, docker=True, input="nope\n")
    assert wrong.returncode == 1
    assert wrong.stderr == ("Error response from daemon: login attempt to "
                            f"http://{basic_registry.host}/v2/ failed with status: "
                            "401 Unauthorized\n")


def test_docker_py_login(docker_client: Any, tmp_path: Any,
                         token_registry: tuple[TokenServer, Registry],
                         basic_registry: Registry) -> None:
    import docker

    cfg = str(tmp_path / "config.json")
    answer = docker_client.login("alice", "s3cret", registry=token_registry[1].host,
                                 reauth=True, dockercfg_path=cfg)
    assert answer["Status"] == "Login Succeeded" and answer["IdentityToken"]
    assert docker_client.login("alice", "s3cret", registry=basic_registry.host, reauth=True,
                               dockercfg_path=cfg) == {"Status": "Login Succeeded",
                                                       "IdentityToken": ""}
    with pytest.raises(docker.errors.APIError) as err:
        docker_client.login("alice", "bad", registry=basic_registry.host, reauth=True,
                            dockercfg_path=cfg)
    assert err.value.status_code == 401
    assert "failed with status: 401 Unauthorized" in err.value.explanation


def test_unreachable_registry(daemon: Any, tmp_path: Any) -> None:
    result = run(daemon, str(tmp_path), "login", "-u", "a", "--password-stdin",
                 "127.0.0.1:1", input="x")
    assert result.returncode == 1
    assert result.stderr == ('Error response from daemon: Get "http://127.0.0.1:1/v2/": '
                             "dial tcp 127.0.0.1:1: connect: connection refused\n")
    assert not os.path.exists(os.path.join(str(tmp_path), "config.json"))


# --- our CLI ----------------------------------------------------------------------------------

def test_cli_login_logout_keep_the_file_in_dockers_format(daemon: Any, tmp_path: Any,
                                                          basic_registry: Registry) -> None:
    config = str(tmp_path / "cfg")
    os.makedirs(config)
    with open(os.path.join(config, "config.json"), "w") as f:
        json.dump({"psFormat": "table {{.ID}}", "auths": {"other:5000": {"auth": b64("b:c")}}},
                  f)
    host = basic_registry.host
    result = run(daemon, config, "login", "-u", "alice", "--password-stdin", host,
                 input="s3cret\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Login Succeeded\n"
    assert f"{_PLAINTEXT_WARNING} '{config}/config.json'." in result.stderr
    assert read_config(config) == {"psFormat": "table {{.ID}}", "auths": {
        "other:5000": {"auth": b64("b:c")}, host: {"auth": b64("alice:s3cret")}}}

    again = run(daemon, config, "login", f"http://{host}/v2/")
    assert again.returncode == 0, again.stderr
    assert "Authenticating with existing credentials... [Username: alice]" in again.stderr
    assert again.stdout == "Login Succeeded\n"

    out = run(daemon, config, "logout", f"https://{host}")
    assert out.returncode == 0 and out.stdout == f"Removing login credentials for {host}\n"
    assert read_config(config) == {"psFormat": "table {{.ID}}", "auths": {
        "other:5000": {"auth": b64("b:c")}}}
    hub = run(daemon, config, "logout")                 # Docker Hub, under its index URL
    assert hub.stdout == "Removing login credentials for https://index.docker.io/v1/\n"


def test_cli_login_to_token_registry_stores_the_identity_token(
        daemon: Any, tmp_path: Any, token_registry: tuple[TokenServer, Registry]) -> None:
    server, reg = token_registry
    config = str(tmp_path / "cfg")
    result = run(daemon, config, "login", "-u", "alice", "-p", "s3cret", reg.host)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(
        "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    assert _PLAINTEXT_WARNING not in result.stderr
    entry = read_config(config)["auths"][reg.host]
    assert entry["auth"] == b64("alice:")
    assert server.refresh_tokens[entry["identitytoken"]] == "alice"


def test_cli_login_errors(daemon: Any, tmp_path: Any, basic_registry: Registry) -> None:
    config = str(tmp_path / "cfg")
    host = basic_registry.host
    wrong = run(daemon, config, "login", "-u", "alice", "--password-stdin", host, input="no")
    assert (wrong.returncode, wrong.stdout) == (1, "")
    assert wrong.stderr == ("Error response from daemon: login attempt to "
                            f"http://{host}/v2/ failed with status: 401 Unauthorized\n")
    cases = {("-p", "x", "--password-stdin"): "conflicting options: cannot specify both "
             "--password and --password-stdin\n",
             ("--password-stdin",): "the --password-stdin option requires --username to "
             "be set\n",
             ("-u", "alice"): "Error: Cannot perform an interactive login from a non TTY "
             "device\n"}
    for flags, text in cases.items():
        result = run(daemon, config, "login", *flags, host, input="s3cret\n")
        docker = run(daemon, config, "login", *flags, host, input="s3cret\n", docker=True)
        assert (result.returncode, result.stderr) == (1, text)
        assert (docker.returncode, docker.stderr) == (1, text)
    assert not os.path.exists(os.path.join(config, "config.json"))


def test_cli_and_docker_cli_share_the_config(daemon: Any, tmp_path: Any,
                                             basic_registry: Registry) -> None:
    config = str(tmp_path / "cfg")
    host = basic_registry.host
    assert run(daemon, config, "login", "-u", "alice", "--password-stdin", host,
               input="s3cret").returncode == 0
    # the docker CLI reuses what we stored, and we remove what it stored
    reused = run(daemon, config, "login", host, docker=True)
    assert reused.returncode == 0, reused.stderr
    assert "Authenticating with existing credentials... [Username: alice]" in reused.stderr
    assert run(daemon, config, "logout", host).returncode == 0
    assert host not in read_config(config)["auths"]


# --- registry_auth_header and credential helpers ----------------------------------------------

@pytest.fixture
def helper_dir(tmp_path: Any) -> str:
    """A directory holding docker-credential-test (tests/credhelper.py)."""
    directory = str(tmp_path / "bin")
    write_helper(directory, "test")
    return directory


def test_credential_helper_and_registry_auth_header(
        daemon: Any, tmp_path: Any, helper_dir: str, basic_registry: Registry,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dockyard.cli.credentials import registry_auth_header

    config = str(tmp_path / "cfg")
    os.makedirs(config)
    with open(os.path.join(config, "config.json"), "w") as f:
        json.dump({"credHelpers": {basic_registry.host: "test"}}, f)
    env = {"PATH": f"{helper_dir}:{os.environ['PATH']}"}
    result = run(daemon, config, "login", "-u", "alice", "--password-stdin",
                 basic_registry.host, input="s3cret\n", env=env)
    assert result.returncode == 0, result.stderr
    assert _PLAINTEXT_WARNING not in result.stderr
    assert read_config(config)["auths"] == {basic_registry.host: {}}
    with open(os.path.join(helper_dir, "store.json")) as f:
        assert json.load(f) == {basic_registry.host: {
            "ServerURL": basic_registry.host, "Username": "alice", "Secret": "s3cret"}}

    monkeypatch.setenv("DOCKER_CONFIG", config)
    monkeypatch.setenv("PATH", env["PATH"])
    header = registry_auth_header(basic_registry.host)
    assert header is not None
    auth = decode_registry_auth(header)
    assert auth is not None
    assert (auth.username, auth.password, auth.serveraddress) == \
        ("alice", "s3cret", basic_registry.host)
    assert registry_auth_header("127.0.0.1:9") is None

    out = run(daemon, config, "logout", basic_registry.host, env=env)
    assert out.returncode == 0, out.stderr
    with open(os.path.join(helper_dir, "store.json")) as f:
        assert json.load(f) == {}
    assert registry_auth_header(basic_registry.host) is None


def test_missing_credential_helper(daemon: Any, tmp_path: Any, basic_registry: Registry,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from dockyard.cli.credentials import CredentialsError, registry_auth_header

    config = str(tmp_path / "cfg")
    os.makedirs(config)
    with open(os.path.join(config, "config.json"), "w") as f:
        json.dump({"credsStore": "absent"}, f)
    text = ('error storing credentials - err: exec: "docker-credential-absent": executable '
            "file not found in $PATH, out: ``")
    for docker in (False, True):
        result = run(daemon, config, "login", "-u", "alice", "--password-stdin",
                     basic_registry.host, input="s3cret\n", docker=docker)
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.endswith(f"Error saving credentials: {text}\n")
    monkeypatch.setenv("DOCKER_CONFIG", config)
    with pytest.raises(CredentialsError, match="error getting credentials - err: exec: "):
        registry_auth_header(basic_registry.host)


def test_docker_cli_login_feeds_registry_auth_header(
        daemon: Any, tmp_path: Any, token_registry: tuple[TokenServer, Registry],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What the docker CLI stores after a token login is what our pull/push sends: the
    identity token, which gets a push token through the OAuth refresh flow."""
    from dockyard.cli.credentials import registry_auth_header

    server, reg = token_registry
    config = str(tmp_path / "cfg")
    assert run(daemon, config, "login", "-u", "alice", "--password-stdin", reg.host,
               docker=True, input="s3cret").returncode == 0
    monkeypatch.setenv("DOCKER_CONFIG", config)
    auth = decode_registry_auth(registry_auth_header(reg.host))
    assert auth is not None and auth.identitytoken and not auth.password

    async def push_token() -> str | None:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{reg.url}/v2/") as resp:
                challenge = resp.headers["WWW-Authenticate"]
            return await Authorizer(session, auth).authorize(
                challenge, ["repository:alice/app:pull,push"])
    posts = server.count("POST")
    header = asyncio.run(push_token())
    assert header is not None and header.startswith("Bearer ")
    assert server.count("POST") == posts + 1
    import jwt
    claims = jwt.decode(header[7:], options={"verify_signature": False})
    assert claims["access"] == [{"type": "repository", "name": "alice/app",
                                 "actions": ["pull", "push"]}]


def test_cli_login_prompts_on_a_terminal(daemon: Any, tmp_path: Any,
                                         basic_registry: Registry) -> None:
    import pty
    import select

    config = str(tmp_path / "cfg")
    env = {**daemon.env(), "DOCKER_CONFIG": config}
    pid, fd = pty.fork()
    if pid == 0:                                    # the child: our CLI on a terminal
        os.execve(sys.executable, [sys.executable, "-m", "dockyard.cli", "login",
                                   basic_registry.host], env)
    seen = b""

    def read_until(marker: bytes) -> None:
        nonlocal seen
        while marker not in seen:
            ready, _, _ = select.select([fd], [], [], 30)
            assert ready, seen
            try:
                seen += os.read(fd, 1024)
            except OSError:
                break
    try:
        read_until(b"Username: ")
        os.write(fd, b"alice\n")
        read_until(b"Password: ")
        os.write(fd, b"s3cret\n")
        read_until(b"Login Succeeded")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert b"s3cret" not in seen                    # the password is not echoed
    assert read_config(config)["auths"][basic_registry.host] == {"auth": b64("alice:s3cret")}


def test_credential_helper_keeps_identity_tokens(
        daemon: Any, tmp_path: Any, helper_dir: str,
        token_registry: tuple[TokenServer, Registry], monkeypatch: pytest.MonkeyPatch) -> None:
    from dockyard.cli.credentials import registry_auth_header

    server, reg = token_registry
    config = str(tmp_path / "cfg")
    os.makedirs(config)
    with open(os.path.join(config, "config.json"), "w") as f:
        json.dump({"credsStore": "test"}, f)
    env = {"PATH": f"{helper_dir}:{os.environ['PATH']}"}
    result = run(daemon, config, "login", "-u", "alice", "--password-stdin", reg.host,
                 input="s3cret", env=env)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(helper_dir, "store.json")) as f:
        stored = json.load(f)[reg.host]
    assert stored["Username"] == "<token>"            # docker's marker for identity tokens
    assert server.refresh_tokens[stored["Secret"]] == "alice"
    monkeypatch.setenv("DOCKER_CONFIG", config)
    monkeypatch.setenv("PATH", env["PATH"])
    auth = decode_registry_auth(registry_auth_header(reg.host))
    assert auth is not None
    assert (auth.username, auth.password, auth.identitytoken) == ("", "", stored["Secret"])
