"""Containers outlive the daemon: SIGKILL it while containers run, restart, find them again."""
from __future__ import annotations

import os
import time

from conftest import Daemon, inspect


def test_containers_survive_daemon_kill(own_daemon: Daemon) -> None:
    d = own_daemon
    d.ok("run", "-d", "--name", "long", "busybox", "sh", "-c",
         "i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.1; done")
    d.ok("run", "-d", "--name", "short", "busybox", "sh", "-c", "sleep 1; exit 4")
    long_pid = inspect(d, "long")["State"]["Pid"]
    d.kill9()
    time.sleep(1.5)  # "short" exits while the daemon is down; "long" keeps logging
    assert os.path.exists(f"/proc/{long_pid}")
    d.start()
    info = inspect(d, "long")
    assert info["State"]["Running"] and info["State"]["Pid"] == long_pid
    short = inspect(d, "short")
    assert short["State"]["Status"] == "exited" and short["State"]["ExitCode"] == 4
    logs = d.ok("logs", "long").split()
    assert len(logs) >= 10, "output written while the daemon was down is in the log"
    assert logs == [f"tick{i}" for i in range(len(logs))], "no line lost or duplicated"
    # the restarted daemon still controls the container and sees its exit
    d.ok("stop", "-t", "1", "long")
    assert inspect(d, "long")["State"]["ExitCode"] == 137
    assert d.ok("wait", "short").strip() == "4"


def test_images_survive_daemon_kill_during_import(own_daemon: Daemon, busybox_tar: str
                                                  ) -> None:
    d = own_daemon
    before = d.ok("images", "-q").split()
    for delay in (0.01, 0.05, 0.1, 0.2):
        import subprocess
        import sys
        proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli", "import", busybox_tar,
                                 f"crash:{int(delay * 1000)}"], env=d.env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        d.kill9()
        proc.wait(30)
        d.start()
        assert set(before) <= set(d.ok("images", "-q").split())
        assert d.ok("run", "--rm", "busybox", "echo", "fine") == "fine\n"


def test_images_survive_daemon_kill_during_load(own_daemon: Daemon, tmp_path) -> None:
    import subprocess
    import sys
    d = own_daemon
    archive = tmp_path / "bb.tar"
    d.ok("save", "-o", str(archive), "busybox")
    d.ok("tag", "busybox", "keep:1")
    d.ok("rmi", "busybox")
    for delay in (0.02, 0.1, 0.3):
        proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli", "load", "-i",
                                 str(archive)], env=d.env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        d.kill9()
        proc.wait(30)
        d.start()
        images = d.ok("images", "--format", "{{.Repository}}:{{.Tag}}").split()
        assert "keep:1" in images
        if "busybox:latest" in images:  # the load completed before the kill: it must work
            assert d.ok("run", "--rm", "busybox", "true") == ""
            d.ok("rmi", "busybox")
    assert d.ok("load", "-i", str(archive)) == "Loaded image: busybox:latest\n"
    assert d.ok("run", "--rm", "busybox", "echo", "intact") == "intact\n"
