"""The stock `docker` CLI and docker-py, unchanged, against our socket."""
from __future__ import annotations

import shutil

import pytest

from conftest import Daemon


def _docker(daemon: Daemon):
    if not shutil.which("docker"):
        pytest.skip("SKIPPED LOUDLY: the docker CLI is not installed")
    return daemon.docker


def test_docker_cli_run(daemon: Daemon) -> None:
    docker = _docker(daemon)
    result = docker("run", "--rm", "busybox", "echo", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello\n"
    result = docker("run", "--rm", "busybox", "sh", "-c", "echo e >&2; exit 5")
    assert result.returncode == 5 and result.stderr == "e\n"


def test_docker_cli_lifecycle(daemon: Daemon) -> None:
    docker = _docker(daemon)
    result = docker("run", "-d", "--name", "dweb", "busybox", "sleep", "1000")
    assert result.returncode == 0, result.stderr
    try:
        ps = docker("ps").stdout
        assert "dweb" in ps and '"sleep 1000"' in ps
        assert docker("ps", "--format", "{{.Names}}").stdout.split().count("dweb") == 1
        assert docker("stop", "-t", "1", "dweb").returncode == 0
        assert docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                      "dweb").stdout.strip() == "exited 137"
        assert docker("start", "dweb").returncode == 0
        assert docker("inspect", "-f", "{{.State.Running}}", "dweb").stdout.strip() == "true"
        result = docker("rm", "dweb")
        assert result.returncode != 0 and "stop the container before removing" in result.stderr
    finally:
        assert docker("rm", "-f", "dweb").returncode == 0
    assert docker("version", "--format", "{{.Server.APIVersion}}").stdout.strip() == "1.45"


def test_docker_cli_errors(daemon: Daemon) -> None:
    docker = _docker(daemon)
    result = docker("run", "--rm", "busybox", "no-such-binary")
    assert result.returncode == 127
    assert "executable file not found" in result.stderr
    result = docker("inspect", "no-such-thing")
    assert result.returncode == 1
    result = docker("rm", "no-such-container")
    assert "No such container: no-such-container" in result.stderr
    assert '{"message"' not in result.stderr, "the CLI must decode our error body"


def test_docker_py_run_and_logs(docker_client) -> None:
    out = docker_client.containers.run("busybox", ["echo", "hi"], remove=True)
    assert out == b"hi\n"
    container = docker_client.containers.run("busybox", ["sh", "-c", "echo a; echo b >&2"],
                                             detach=True)
    try:
        assert container.wait()["StatusCode"] == 0
        assert container.logs(stdout=True, stderr=False) == b"a\n"
        assert container.logs(stdout=False, stderr=True) == b"b\n"
        container.reload()
        assert container.status == "exited"
    finally:
        container.remove(force=True)


def test_docker_py_errors(docker_client) -> None:
    import docker

    container = docker_client.containers.run("busybox", ["sleep", "100"], detach=True)
    try:
        with pytest.raises(docker.errors.APIError) as info:
            container.remove()
        assert "stop the container before" in info.value.explanation
        assert '{"message":' not in info.value.explanation
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get("does-not-exist")
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get("no-such-image")
        assert docker_client.containers.list(filters={"id": container.id})[0].id == \
            container.id
    finally:
        container.remove(force=True)


def test_docker_py_ping_version_info(docker_client) -> None:
    assert docker_client.ping() is True
    assert docker_client.version()["ApiVersion"] == "1.45"
    info = docker_client.info()
    assert "Containers" in info and "Images" in info and "Debug" in info


def test_docker_py_attach_socket(docker_client) -> None:
    api = docker_client.api
    cid = api.create_container("busybox", ["sh", "-c", "sleep 0.3; echo attached"])["Id"]
    try:
        sock = api.attach_socket(cid, params={"stdout": 1, "stream": 1})
        api.start(cid)
        raw = sock._sock.recv(4096) if hasattr(sock, "_sock") else sock.recv(4096)
        while len(raw) < 8 + len(b"attached\n"):
            more = sock._sock.recv(4096) if hasattr(sock, "_sock") else sock.recv(4096)
            if not more:
                break
            raw += more
        assert raw[0] == 1
        assert int.from_bytes(raw[4:8], "big") == len(b"attached\n")
        assert raw[8:] == b"attached\n"
        sock.close()
        assert api.wait(cid)["StatusCode"] == 0
    finally:
        api.remove_container(cid, force=True)
