"""exec: processes started inside running containers (the interactive ones: test_tty.py, test_attach.py)."""
from __future__ import annotations

import shutil
import time

import pytest

from conftest import Daemon, inspect


@pytest.fixture
def box(daemon: Daemon):
    name = "execbox"
    daemon.ok("run", "-d", "--name", name, "-e", "BASE=1", "busybox", "sleep", "1000")
    try:
        yield name
    finally:
        daemon.cli("rm", "-f", name)


def test_exec_joins_the_container(daemon: Daemon, box: str) -> None:
    out = daemon.ok("exec", box, "sh", "-c", "echo $$ $(hostname) $BASE; cat /proc/1/cmdline")
    pid, hostname, base, cmdline = out.split()
    assert hostname == inspect(daemon, box)["Id"][:12]
    assert base == "1" and cmdline.startswith("sleep")
    assert int(pid) > 1, "in the container's PID namespace"
    result = daemon.cli("exec", box, "sh", "-c", "echo err >&2; exit 7")
    assert (result.returncode, result.stderr) == (7, "err\n")


def test_exec_options(daemon: Daemon, box: str) -> None:
    out = daemon.ok("exec", "-u", "app", "-w", "/tmp", "-e", "BASE=2", box, "sh", "-c",
                    "id -u; pwd; echo $BASE")
    assert out.split() == ["1000", "/tmp", "2"]
    status = daemon.ok("exec", box, "grep", "CapEff", "/proc/self/status")
    assert status.split()[1] == "00000000a80425fb"
    status = daemon.ok("exec", "--privileged", box, "grep", "CapEff", "/proc/self/status")
    assert int(status.split()[1], 16) > 0xa80425fb


def test_exec_errors(daemon: Daemon, box: str) -> None:
    result = daemon.cli("exec", box, "no-such-command")
    assert result.returncode == 126  # as docker exec: a failed exec start is 126
    assert "executable file not found in $PATH" in result.stdout + result.stderr
    daemon.ok("create", "--name", "idle", "busybox", "true")
    try:
        result = daemon.cli("exec", "idle", "true")
        assert result.returncode != 0 and "is not running" in result.stderr
    finally:
        daemon.ok("rm", "idle")


def test_exec_detached_and_inspect(daemon: Daemon, box: str, docker_client) -> None:
    api = docker_client.api
    exec_id = api.exec_create(box, ["sh", "-c", "exit 3"])["Id"]
    api.exec_start(exec_id, detach=True)
    for _ in range(200):
        info = api.exec_inspect(exec_id)
        if not info["Running"] and info["ExitCode"] is not None:
            break
        time.sleep(0.1)
    assert info["ExitCode"] == 3 and info["ContainerID"] == inspect(daemon, box)["Id"]
    container = docker_client.containers.get(box)
    result = container.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
    assert result.exit_code == 0 and result.output == (b"out\n", b"err\n")


def test_docker_cli_exec(daemon: Daemon, box: str) -> None:
    if not shutil.which("docker"):
        pytest.skip("SKIPPED LOUDLY: the docker CLI is not installed")
    result = daemon.docker("exec", box, "sh", "-c", "echo docker-exec; exit 2")
    assert (result.returncode, result.stdout) == (2, "docker-exec\n")


def test_exec_under_runc(daemon: Daemon) -> None:
    if not shutil.which("runc"):
        pytest.skip("SKIPPED LOUDLY: runc not installed (apt-get install runc)")
    daemon.ok("run", "-d", "--runtime", "runc", "--name", "runcbox", "busybox", "sleep",
              "1000")
    try:
        result = daemon.cli("exec", "-u", "app", "runcbox", "sh", "-c", "id -u; exit 5")
        assert (result.returncode, result.stdout) == (5, "1000\n")
    finally:
        daemon.cli("rm", "-f", "runcbox")
