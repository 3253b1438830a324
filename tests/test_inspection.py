"""pause/unpause, top, diff, export."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tarfile
import time

from conftest import Daemon, inspect, wait_for


def test_pause_unpause(daemon: Daemon) -> None:
    daemon.ok("run", "-d", "--name", "frozen", "busybox", "sh", "-c",
              "while true; do echo tick >> /tmp/n; sleep 0.05; done")
    def ticks() -> int:
        return int(daemon.ok("exec", "frozen", "sh", "-c", "cat /tmp/n 2>/dev/null | wc -l"))
    try:
        wait_for(lambda: ticks() > 0, what="the first tick")
        daemon.ok("pause", "frozen")
        info = inspect(daemon, "frozen")
        assert info["State"]["Paused"] and info["State"]["Status"] == "paused"
        assert "(Paused)" in daemon.ok("ps", "--filter", "name=frozen")
        assert "is already paused" in daemon.cli("pause", "frozen").stderr
        assert "unpause the container before exec" in daemon.cli("exec", "frozen",
                                                                 "true").stderr
        daemon.ok("unpause", "frozen")
        first = ticks()
        wait_for(lambda: ticks() > first, what="ticks after unpause")
        assert "is not paused" in daemon.cli("unpause", "frozen").stderr
        daemon.ok("pause", "frozen")
        daemon.ok("stop", "-t", "1", "frozen")   # a paused container still stops
        assert inspect(daemon, "frozen")["State"]["Status"] == "exited"
    finally:
        daemon.cli("rm", "-f", "frozen")


def test_top(daemon: Daemon) -> None:
    daemon.ok("run", "-d", "--name", "topper", "busybox", "sleep", "1000")
    try:
        out = daemon.ok("top", "topper").splitlines()
        assert out[0].split()[:3] == ["UID", "PID", "PPID"]
        assert len(out) == 2 and out[1].split()[-2:] == ["sleep", "1000"]
        pid = inspect(daemon, "topper")["State"]["Pid"]
        assert out[1].split()[1] == str(pid)
        aux = daemon.ok("top", "topper", "aux").splitlines()
        assert aux[0].split()[:2] == ["USER", "PID"]
    finally:
        daemon.cli("rm", "-f", "topper")


def test_diff_and_export(daemon: Daemon) -> None:
    daemon.ok("run", "--name", "changed", "busybox", "sh", "-c",
              "rm /etc/passwd; echo x > /newfile; echo >> /etc/group")
    try:
        lines = daemon.ok("diff", "changed").splitlines()
        assert "D /etc/passwd" in lines and "A /newfile" in lines
        assert "C /etc/group" in lines and "C /etc" in lines
        assert not any(line.endswith(("/etc/hostname", "/etc/hosts")) for line in lines)
        data = subprocess.run([sys.executable, "-m", "dockyard.cli", "export", "changed"],
                              env=daemon.env(), capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            names = set(tar.getnames())
            assert tar.extractfile("newfile").read() == b"x\n"
        assert "etc/passwd" not in names and "bin/busybox" in names
        assert "etc/group" in names
    finally:
        daemon.ok("rm", "changed")


def test_docker_py_top_diff_pause(docker_client) -> None:
    container = docker_client.containers.run("busybox", ["sleep", "100"], detach=True)
    try:
        top = container.top()
        assert top["Titles"][1] == "PID" and len(top["Processes"]) == 1
        container.pause()
        container.reload()
        assert container.status == "paused"
        container.unpause()
        container.exec_run(["touch", "/made"])
        assert {"Path": "/made", "Kind": 1} in container.diff()
    finally:
        container.remove(force=True)


def test_stats(daemon: Daemon, docker_client) -> None:
    daemon.ok("run", "-d", "--name", "busyloop", "-m", "64m", "busybox", "sh", "-c",
              "while true; do :; done")
    try:
        out = daemon.ok("stats", "--no-stream", "busyloop").splitlines()
        assert re.match(r"CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE / LIMIT\s+MEM %\s+"
                        r"NET I/O\s+BLOCK I/O\s+PIDS$", out[0])
        fields = out[1].split()
        assert fields[1] == "busyloop" and float(fields[2].rstrip("%")) > 20
        assert "/ 64MiB" in out[1]
        container = docker_client.containers.get("busyloop")
        sample = container.stats(stream=False)
        assert sample["memory_stats"]["limit"] == 64 * 1024 * 1024
        assert sample["cpu_stats"]["cpu_usage"]["total_usage"] > 0
        assert sample["pids_stats"]["current"] == 1
        stream = container.stats(stream=True, decode=True)
        first, second = next(stream), next(stream)
        assert second["precpu_stats"]["cpu_usage"]["total_usage"] == \
            first["cpu_stats"]["cpu_usage"]["total_usage"]
        stream.close()
    finally:
        daemon.cli("rm", "-f", "busyloop")


def test_events_stream(daemon: Daemon) -> None:
    import json as _json
    since = str(time.time() - 0.5)
    daemon.ok("run", "--rm", "--name", "evented", "busybox", "true")
    out = daemon.ok("events", "--since", since, "--until", str(time.time() + 0.5),
                    "--filter", "container=evented", "--format", "{{json .}}")
    actions = [_json.loads(line)["Action"] for line in out.splitlines()]
    assert actions[:3] == ["create", "start", "die"] and actions[-1] == "destroy"
    event = _json.loads(out.splitlines()[0])
    assert event["Type"] == "container" and event["Actor"]["Attributes"]["name"] == "evented"


def test_update_live(daemon: Daemon, docker_client) -> None:
    cid = daemon.ok("run", "-d", "--name", "updatable", "-m", "64m", "busybox", "sleep",
                    "100").strip()
    try:
        assert daemon.ok("update", "-m", "128m", "--memory-swap", "256m", "--pids-limit",
                         "20", "--restart", "on-failure:3", "updatable") == "updatable\n"
        memory_dir = f"/sys/fs/cgroup/memory/dockyard/{cid}"
        if os.path.isdir(memory_dir):
            with open(f"{memory_dir}/memory.limit_in_bytes") as f:
                assert int(f.read()) == 128 * 1024 * 1024
        info = inspect(daemon, "updatable")["HostConfig"]
        assert info["Memory"] == 128 * 1024 * 1024 and info["PidsLimit"] == 20
        assert info["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        result = daemon.cli("update", "-m", "512m", "updatable")
        assert result.returncode == 1 and "update the memoryswap" in result.stderr
        docker_client.containers.get("updatable").update(cpu_shares=512)
        assert inspect(daemon, "updatable")["HostConfig"]["CpuShares"] == 512
    finally:
        daemon.cli("rm", "-f", "updatable")


def test_system_df_and_prune(daemon: Daemon) -> None:
    daemon.ok("run", "--name", "filler", "busybox", "sh", "-c",
              "dd if=/dev/zero of=/big bs=1k count=300 2>/dev/null")
    out = daemon.ok("system", "df").splitlines()
    assert re.match(r"TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$", out[0])
    assert out[1].startswith("Images ") and out[2].startswith("Containers ")
    pruned = daemon.ok("system", "prune", "-f")
    assert "Deleted Containers:" in pruned and inspect(daemon, "busybox")["Id"]
    reclaimed = pruned.strip().splitlines()[-1]
    assert reclaimed.startswith("Total reclaimed space: ") and reclaimed != \
        "Total reclaimed space: 0B"
    assert daemon.cli("inspect", "filler").returncode == 1
