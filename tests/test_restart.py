"""Restart policies, including what happens across a daemon restart."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import time

from conftest import Daemon, inspect, wait_for


def test_on_failure_with_limit(daemon: Daemon) -> None:
    daemon.ok("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh",
              "-c", "echo run; exit 3")
    try:
        wait_for(lambda: inspect(daemon, "flaky")["RestartCount"] == 2 and
                  inspect(daemon, "flaky")["State"]["Status"] == "exited")
        info = inspect(daemon, "flaky")
        assert info["State"]["ExitCode"] == 3
        assert info["HostConfig"]["RestartPolicy"] == {"Name": "on-failure",
                                                       "MaximumRetryCount": 2}
        assert daemon.ok("logs", "flaky") == "run\nrun\nrun\n"
    finally:
        daemon.ok("rm", "-f", "flaky")


def test_on_failure_leaves_success_alone(daemon: Daemon) -> None:
    daemon.ok("run", "-d", "--name", "fine", "--restart", "on-failure", "busybox", "true")
    try:
        assert daemon.ok("wait", "fine").strip() == "0"
        time.sleep(0.5)     # a window in which no restart may happen: nothing to poll for
        assert inspect(daemon, "fine")["RestartCount"] == 0
    finally:
        daemon.ok("rm", "-f", "fine")


def test_always_restarts_until_stopped(daemon: Daemon) -> None:
    daemon.ok("run", "-d", "--name", "phoenix", "--restart", "always", "busybox", "sh", "-c",
              "sleep 0.2; exit 0")
    try:
        wait_for(lambda: inspect(daemon, "phoenix")["RestartCount"] >= 2)
        daemon.ok("stop", "-t", "1", "phoenix")
        count = inspect(daemon, "phoenix")["RestartCount"]
        time.sleep(1)       # a window in which no restart may happen: nothing to poll for
        info = inspect(daemon, "phoenix")
        assert info["RestartCount"] == count and not info["State"]["Running"]
    finally:
        daemon.ok("rm", "-f", "phoenix")


def test_invalid_policies(daemon: Daemon) -> None:
    result = daemon.cli("create", "--restart", "sometimes", "busybox")
    assert result.returncode == 125 and "invalid restart policy" in result.stderr
    result = daemon.cli("create", "--restart", "always:3", "busybox")
    assert "maximum retry count can only be used with 'on-failure'" in result.stderr
    result = daemon.cli("create", "--rm", "--restart", "always", "busybox")
    assert "AutoRemove" in result.stderr


def test_policies_across_daemon_restart(own_daemon: Daemon) -> None:
    d = own_daemon
    d.ok("run", "-d", "--name", "keep", "--restart", "always", "busybox", "sleep", "1000")
    d.ok("run", "-d", "--name", "stopped-always", "--restart", "always", "busybox", "sleep",
         "1000")
    d.ok("run", "-d", "--name", "stopped-unless", "--restart", "unless-stopped", "busybox",
         "sleep", "1000")
    d.ok("run", "-d", "--name", "plain", "busybox", "sleep", "1000")
    d.ok("stop", "-t", "0", "stopped-always", "stopped-unless", "plain")
    d.kill9()
    # the host reboots in effect: every container process goes away with the daemon down
    pid = _record(d, "keep")["State"]["Pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: _gone(pid), what="the container's end")
    d.start()
    wait_for(lambda: inspect(d, "keep")["State"]["Running"])
    assert inspect(d, "stopped-always")["State"]["Running"], "always: back at daemon start"
    assert not inspect(d, "stopped-unless")["State"]["Running"], "unless-stopped stays down"
    assert not inspect(d, "plain")["State"]["Running"]


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _record(d: Daemon, name: str) -> dict:
    """The container's record as the (stopped) daemon left it in its metadata database."""
    with sqlite3.connect(f"file:{d.root}/metadata.db?mode=ro", uri=True) as db:
        row = db.execute("SELECT record FROM containers WHERE name = ?",
                         (f"/{name}",)).fetchone()
    if row is None:
        raise KeyError(name)
    return json.loads(row[0])
