"""Stop signal/timeout from flags and image config; `info` with real figures; the daemon's
default log driver."""
from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from typing import Any

import pytest

from conftest import TRAPPED, Daemon, inspect, wait_trapped



def test_stop_signal_from_image_and_flag(daemon: Daemon, busybox_tar: str) -> None:
    image = f"sig-{uuid.uuid4().hex[:6]}"
    daemon.ok("import", "-c", "STOPSIGNAL SIGUSR1", "-c", 'CMD ["sh"]', busybox_tar, image)
    a, b = f"sa-{uuid.uuid4().hex[:6]}", f"sb-{uuid.uuid4().hex[:6]}"
    try:
        daemon.ok("run", "-d", "--name", a, image, "sh", "-c", TRAPPED.format(code=7, sig="USR1"))
        daemon.ok("run", "-d", "--name", b, "--stop-signal", "HUP", image, "sh", "-c",
                  TRAPPED.format(code=9, sig="HUP"))
        wait_trapped(daemon, a)
        wait_trapped(daemon, b)
        assert inspect(daemon, a)["Config"]["StopSignal"] == "SIGUSR1"
        assert inspect(daemon, b)["Config"]["StopSignal"] == "HUP"
        assert daemon.docker("stop", a, b).returncode == 0
        assert inspect(daemon, a)["State"]["ExitCode"] == 7
        assert inspect(daemon, b)["State"]["ExitCode"] == 9
        bad = daemon.docker("create", "--stop-signal", "FOO", "busybox")
        assert bad.returncode == 1 and "Invalid signal: FOO" in bad.stderr
    finally:
        daemon.cli("rm", "-f", a, b)
        daemon.cli("rmi", "-f", image)


def test_stop_timeout(daemon: Daemon) -> None:
    name = f"st-{uuid.uuid4().hex[:6]}"
    try:
        daemon.ok("run", "-d", "--name", name, "--stop-timeout", "1", "busybox", "sh", "-c",
                  "trap '' TERM; touch /trapped; while true; do sleep 0.1; done")
        wait_trapped(daemon, name)
        assert inspect(daemon, name)["Config"]["StopTimeout"] == 1
        started = time.time()
        assert daemon.docker("stop", name).returncode == 0
        assert 0.9 < time.time() - started < 5
        assert inspect(daemon, name)["State"]["ExitCode"] == 137
    finally:
        daemon.cli("rm", "-f", name)


@pytest.fixture
def configured_daemon(busybox_tar: str) -> Any:
    """A daemon whose daemon.json sets the default log driver."""
    base = tempfile.mkdtemp(prefix="dy-", dir="/tmp")
    d = Daemon(base)
    d.write_config({"log-driver": "local", "log-opts": {"max-size": "1m"}})
    try:
        d.start()
        d.ok("import", "-c", 'CMD ["sh"]', busybox_tar, "busybox:latest")
        yield d
    finally:
        d.cleanup()


def test_info_figures_and_default_log_driver(configured_daemon: Daemon) -> None:
    d = configured_daemon
    d.ok("run", "-d", "--name", "run1", "busybox", "sleep", "1000")
    d.ok("run", "-d", "--name", "paused1", "busybox", "sleep", "1000")
    d.ok("pause", "paused1")
    d.ok("create", "--name", "stopped1", "--log-driver", "json-file", "busybox")
    import docker
    client = docker.DockerClient(base_url=d.host, version="1.45")
    try:
        info = client.info()
    finally:
        client.close()
    assert (info["Containers"], info["ContainersRunning"], info["ContainersPaused"],
            info["ContainersStopped"]) == (3, 1, 1, 1)
    assert info["Images"] == 1 and info["Driver"] == "overlay2"
    assert info["NCPU"] == os.cpu_count() and info["MemTotal"] > 0
    assert info["KernelVersion"] == os.uname().release
    assert info["CgroupVersion"] in ("1", "2") and info["CgroupDriver"] == "cgroupfs"
    assert info["DockerRootDir"] == d.root and info["Name"] == os.uname().nodename
    assert info["LoggingDriver"] == "local" and len(info["ID"]) == 36
    text = d.docker("info").stdout
    for line in ("Containers: 3", "Running: 1", "Paused: 1", "Stopped: 1", "Images: 1",
                 "Storage Driver: overlay2", "Logging Driver: local",
                 f"Docker Root Dir: {d.root}", f"Kernel Version: {os.uname().release}"):
        assert line in text, (line, text)
    assert inspect(d, "run1")["HostConfig"]["LogConfig"] == {"Type": "local",
                                                          "Config": {"max-size": "1m"}}
    assert inspect(d, "stopped1")["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert d.docker("logs", "run1").returncode == 0
