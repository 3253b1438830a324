"""A signal meant for a container never reaches the daemon (issue 8).

docker-py's StopTest/KillTest stop or kill a container the moment start returns. The
container's first process is then still a forked copy of the daemon that has not exec'd yet;
before linux/forking.py it carried the daemon's signal handlers and wakeup fd, and the SIGTERM
for the container shut the daemon down. These loops repeat that sequence many times."""
from __future__ import annotations

import signal
from typing import Any

import pytest

from conftest import Daemon

ROUNDS = 12


def _client(d: Daemon) -> Any:
    docker = pytest.importorskip("docker")
    return docker.APIClient(base_url=d.host, version="1.41", timeout=20)


def _alive(d: Daemon, client: Any, what: str) -> None:
    assert d.proc is not None and d.proc.poll() is None, f"daemon died after {what}:\n{d.logs()}"
    assert client.ping(), what


def test_stop_right_after_start(own_daemon: Daemon) -> None:
    client = _client(own_daemon)
    try:
        for i in range(ROUNDS):
            cid = client.create_container("busybox", ["sleep", "9999"])["Id"]
            client.start(cid)
            client.stop(cid, timeout=1)
            _alive(own_daemon, client, f"stop #{i}")
            state = client.inspect_container(cid)["State"]
            assert state["Running"] is False
            client.remove_container(cid, force=True)
    finally:
        client.close()


@pytest.mark.parametrize("sig", [None, "SIGTERM", signal.SIGINT, "SIGHUP"])
def test_kill_right_after_start(own_daemon: Daemon, sig: Any) -> None:
    client = _client(own_daemon)
    try:
        for i in range(ROUNDS * 2 // 3):
            cid = client.create_container("busybox", ["sleep", "9999"])["Id"]
            client.start(cid)
            if sig is None:
                client.kill(cid)
            else:
                client.kill(cid, signal=sig)
            _alive(own_daemon, client, f"kill {sig} #{i}")
            if sig is not None:  # a PID-namespace init without a handler ignores these
                client.kill(cid)
            assert client.wait(cid, timeout=15)["StatusCode"] != 0
            assert client.inspect_container(cid)["State"]["Running"] is False
            client.remove_container(cid, force=True)
    finally:
        client.close()


def test_exec_killed_with_container(own_daemon: Daemon) -> None:
    """An exec started and its container stopped at once: the exec's fork is safe too."""
    client = _client(own_daemon)
    try:
        for i in range(ROUNDS * 2 // 3):
            cid = client.create_container("busybox", ["sleep", "9999"])["Id"]
            client.start(cid)
            exec_id = client.exec_create(cid, ["sleep", "100"])["Id"]
            client.exec_start(exec_id, detach=True)
            client.stop(cid, timeout=0)
            _alive(own_daemon, client, f"exec+stop #{i}")
            client.remove_container(cid, force=True)
    finally:
        client.close()
