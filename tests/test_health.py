"""Health checks: probes run inside the container; State.Health, ps and events follow."""
from __future__ import annotations

import json
import time

from conftest import Daemon, inspect


def _status(daemon: Daemon, name: str) -> str:
    return (inspect(daemon, name)["State"].get("Health") or {}).get("Status", "")


def _wait_status(daemon: Daemon, name: str, want: str, timeout: float = 10) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if _status(daemon, name) == want:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never became {want}: {_status(daemon, name)}")


def test_healthy_then_unhealthy(daemon: Daemon) -> None:
    since = str(time.time())
    daemon.ok("run", "-d", "--name", "checked", "--health-cmd", "cat /tmp/ok",
              "--health-interval", "100ms", "--health-retries", "2", "busybox", "sh", "-c",
              "echo fine > /tmp/ok; sleep 1000")
    try:
        _wait_status(daemon, "checked", "healthy")
        assert "(healthy)" in daemon.ok("ps", "-f", "name=checked")
        health = inspect(daemon, "checked")["State"]["Health"]
        assert health["Log"][-1]["ExitCode"] == 0 and health["Log"][-1]["Output"] == "fine\n"
        assert len(health["Log"]) <= 5
        daemon.ok("exec", "checked", "rm", "/tmp/ok")
        _wait_status(daemon, "checked", "unhealthy")
        assert inspect(daemon, "checked")["State"]["Health"]["FailingStreak"] >= 2
        events = daemon.ok("events", "--since", since, "--until", str(time.time()),
                           "--filter", "container=checked", "--format", "{{json .}}")
        actions = [json.loads(line)["Action"] for line in events.splitlines()]
        assert "health_status: healthy" in actions and "health_status: unhealthy" in actions
    finally:
        daemon.cli("rm", "-f", "checked")


def test_timeout_and_no_healthcheck(daemon: Daemon, docker_client) -> None:
    container = docker_client.containers.run(
        "busybox", ["sleep", "100"], detach=True, name="slowcheck",
        healthcheck={"test": ["CMD", "sleep", "5"], "interval": 200_000_000,
                     "timeout": 100_000_000, "retries": 1})
    try:
        _wait_status(daemon, "slowcheck", "unhealthy")
        last = inspect(daemon, "slowcheck")["State"]["Health"]["Log"][-1]
        assert last["ExitCode"] == -1 and "exceeded timeout" in last["Output"]
        # Each timed-out probe is killed (through its monitor): they never pile up.
        deadline = time.time() + 1.5
        while time.time() < deadline:
            probes = [p for p in container.top()["Processes"] if p[-1] == "sleep 5"]
            assert len(probes) <= 1, probes
            time.sleep(0.3)
    finally:
        container.remove(force=True)
    daemon.ok("run", "-d", "--name", "unchecked", "--no-healthcheck", "busybox", "sleep", "10")
    try:
        assert "Health" not in inspect(daemon, "unchecked")["State"]
    finally:
        daemon.cli("rm", "-f", "unchecked")
