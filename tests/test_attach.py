"""stdin without a TTY, attach over the API (hijacked and websocket), exec with stdin and a
TTY through docker-py, resize, signal proxying, and the errors of these endpoints."""
from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Iterator

import pytest

from conftest import Daemon, inspect

docker = pytest.importorskip("docker")


@pytest.fixture
def name(daemon: Daemon) -> Iterator[str]:
    name = f"att{os.getpid()}{time.monotonic_ns() % 100000}"
    try:
        yield name
    finally:
        daemon.cli("rm", "-f", name)


def _read_until(sock: socket.socket, needle: bytes, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while needle not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _demux(data: bytes) -> list[tuple[int, bytes]]:
    frames = []
    while len(data) >= 8:
        size = int.from_bytes(data[4:8], "big")
        frames.append((data[0], data[8:8 + size]))
        data = data[8 + size:]
    return frames


def test_stdin_pipe_our_cli(daemon: Daemon) -> None:
    result = daemon.cli("run", "-i", "--rm", "busybox", "cat", input=b"hi\n")
    assert (result.returncode, result.stdout) == (0, "hi\n")
    # EOF on the client's stdin is EOF in the container (StdinOnce), so wc ends
    result = daemon.cli("run", "-i", "--rm", "busybox", "sh", "-c", "wc -l; exit 9",
                        input=b"a\nb\nc\n")
    assert (result.returncode, result.stdout.strip()) == (9, "3")


def test_stdin_pipe_docker_cli(daemon: Daemon) -> None:
    env = {**daemon.env(), "DOCKER_CONFIG": os.path.join(daemon.base, "dockercfg")}
    result = subprocess.run(["docker", "run", "-i", "--rm", "busybox", "cat"], input=b"hi\n",
                            env=env, capture_output=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, b"hi\n")
    big = os.urandom(1_500_000).hex().encode()  # more than a pipe and the daemon hold
    result = subprocess.run(["docker", "run", "-i", "--rm", "busybox", "md5sum"], input=big,
                            env=env, capture_output=True, timeout=60)
    assert result.stdout.split()[0].decode() == hashlib.md5(big).hexdigest()


def test_without_i_stdin_is_null(daemon: Daemon) -> None:
    result = daemon.cli("run", "--rm", "busybox", "cat", input=b"ignored\n")
    assert (result.returncode, result.stdout) == (0, "")


def test_attach_socket_docker_py(daemon: Daemon, docker_client: Any, name: str) -> None:
    container = docker_client.containers.run("busybox", "cat", stdin_open=True, detach=True,
                                             name=name)
    sock = container.attach_socket(params={"stdin": 1, "stream": 1, "stdout": 1,
                                           "stderr": 1})
    raw = sock._sock
    raw.sendall(b"hello\n")
    assert _demux(_read_until(raw, b"hello\n")) == [(1, b"hello\n")]
    raw.close()
    time.sleep(0.3)
    # StdinOnce is false for docker-py's stdin_open: the next attach still writes to cat
    sock = container.attach_socket(params={"stdin": 1, "stream": 1, "stdout": 1})
    raw = sock._sock
    raw.sendall(b"again\n")
    assert _demux(_read_until(raw, b"again\n")) == [(1, b"again\n")]
    # logs=1 without stream: just the replay (read through docker-py's own HTTP parser,
    # which may buffer past the upgrade headers)
    replay = docker_client.api.attach(container.id, stream=False, logs=True)
    assert replay == b"hello\nagain\n"
    raw.close()
    assert inspect(daemon, name)["State"]["Running"]


def test_attach_detach_keys_api(daemon: Daemon, docker_client: Any, name: str) -> None:
    container = docker_client.containers.run("busybox", "sh", stdin_open=True, tty=True,
                                             detach=True, name=name)
    sock = container.attach_socket(params={"stdin": 1, "stream": 1, "stdout": 1,
                                           "detachKeys": "ctrl-a"})
    raw = sock._sock
    raw.sendall(b"echo $((7*6))\n")
    assert b"42" in _read_until(raw, b"42")
    raw.sendall(b"\x01")
    raw.settimeout(10)
    while raw.recv(65536):  # the daemon ends the stream on the detach key
        pass
    raw.close()
    assert inspect(daemon, name)["State"]["Running"]
    api = docker_client.api
    with pytest.raises(docker.errors.APIError) as err:
        api.attach_socket(container.id, params={"stdin": 1, "stream": 1,
                                                "detachKeys": "ctrl-"})
    assert err.value.status_code == 400
    assert "Invalid detach keys (ctrl-) provided" in str(err.value)


def test_resize(daemon: Daemon, docker_client: Any, name: str) -> None:
    api = docker_client.api
    container = docker_client.containers.run("busybox", "sh", stdin_open=True, tty=True,
                                             detach=True, name=name)
    api.resize(container.id, 33, 77)
    deadline = time.time() + 10
    while container.exec_run("stty size -F /dev/pts/0").output != b"33 77\n":
        assert time.time() < deadline
        time.sleep(0.1)
    with pytest.raises(docker.errors.APIError) as err:
        api.resize(container.id, "x", 10)
    assert err.value.status_code == 400
    assert 'strconv.Atoi: parsing "x": invalid syntax' in str(err.value)
    container.kill()
    container.wait()
    with pytest.raises(docker.errors.APIError) as err:
        api.resize(container.id, 10, 10)
    assert err.value.status_code == 409
    assert f"Container {container.id} is not running" in str(err.value)


def test_exec_with_docker_py(daemon: Daemon, docker_client: Any, name: str) -> None:
    api = docker_client.api
    container = docker_client.containers.run("busybox", ["sleep", "1000"], detach=True,
                                             name=name)
    result = container.exec_run(["sh", "-c", "echo out; echo err >&2; exit 2"], demux=True)
    assert (result.exit_code, result.output) == (2, (b"out\n", b"err\n"))
    result = container.exec_run(["sh", "-c", "tty; echo err >&2"], tty=True)
    assert (result.exit_code, result.output) == (0, b"/dev/pts/0\r\nerr\r\n")

    exec_id = api.exec_create(container.id, ["sh", "-c", "cat; exit 3"], stdin=True)["Id"]
    sock = api.exec_start(exec_id, socket=True)
    raw = sock._sock
    raw.sendall(b"piped\n")
    raw.shutdown(socket.SHUT_WR)  # EOF: the exec's stdin closes, cat ends
    data = b""
    raw.settimeout(10)
    while chunk := raw.recv(65536):
        data += chunk
    raw.close()
    assert _demux(data) == [(1, b"piped\n")]
    deadline = time.time() + 10
    while api.exec_inspect(exec_id)["Running"]:
        assert time.time() < deadline
        time.sleep(0.05)
    info = api.exec_inspect(exec_id)
    assert (info["ExitCode"], info["OpenStdin"]) == (3, True)

    exec_id = api.exec_create(container.id, ["sh", "-c", "sleep 0.3; stty size"],
                              tty=True)["Id"]
    api.exec_resize(exec_id, height=11, width=22)  # before start: applied at start
    assert api.exec_start(exec_id, tty=True) == b"11 22\r\n"
    assert api.exec_inspect(exec_id)["ProcessConfig"]["tty"] is True


def test_attach_websocket(daemon: Daemon, name: str) -> None:
    aiohttp = pytest.importorskip("aiohttp")
    daemon.ok("run", "-di", "--name", name, "busybox", "cat")

    async def talk() -> bytes:
        connector = aiohttp.UnixConnector(path=daemon.sock)
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.ws_connect(
                    f"http://localhost/v1.45/containers/{name}/attach/ws"
                    "?stream=1&stdin=1&stdout=1&stderr=1") as ws:
                await ws.send_bytes(b"over ws\n")
                message = await asyncio.wait_for(ws.receive(), 10)
                return message.data

    assert asyncio.run(talk()) == b"over ws\n"


def test_sig_proxy(daemon: Daemon, name: str) -> None:
    script = 'trap "echo got INT; exit 7" INT; echo ready; while true; do sleep 0.1; done'
    proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli", "run", "--name", name,
                             "busybox", "sh", "-c", script], env=daemon.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGINT)  # forwarded to the container through the kill API
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert (proc.returncode, out) == (7, b"got INT\n")


def test_attach_without_stdin_and_sig_proxy_off(daemon: Daemon, name: str) -> None:
    daemon.ok("run", "-di", "--name", name, "busybox", "sh", "-c",
              'trap "exit 5" TERM; while true; do sleep 0.1; done')
    proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli", "attach", "--no-stdin",
                             "--sig-proxy=false", name], env=daemon.env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)  # not forwarded: only the CLI ends
        proc.wait(20)
        assert inspect(daemon, name)["State"]["Running"]
    finally:
        proc.kill()
    stopped = daemon.cli("kill", "-s", "TERM", name)
    assert stopped.returncode == 0
    assert daemon.ok("wait", name).strip() == "5"
    result = daemon.cli("attach", name)
    assert result.returncode == 1
    assert result.stderr.strip() == "You cannot attach to a stopped container, start it first"


def test_exec_stdin_pipe_both_clis(daemon: Daemon, name: str) -> None:
    daemon.ok("run", "-d", "--name", name, "busybox", "sleep", "1000")
    result = daemon.cli("exec", "-i", name, "sh", "-c", "cat; exit 4", input=b"via exec\n")
    assert (result.returncode, result.stdout) == (4, "via exec\n")
    env = {**daemon.env(), "DOCKER_CONFIG": os.path.join(daemon.base, "dockercfg")}
    result = subprocess.run(["docker", "exec", "-i", name, "sh", "-c", "cat; exit 4"],
                            input=b"via docker\n", env=env, capture_output=True, timeout=60)
    assert (result.returncode, result.stdout) == (4, b"via docker\n")
