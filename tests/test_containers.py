"""Container lifecycle through our CLI against a real daemon and real containers."""
from __future__ import annotations

import json
import os
import re
import time

import pytest

from conftest import TRAPPED, Daemon, inspect, wait_trapped


def test_run_echo(daemon: Daemon) -> None:
    result = daemon.cli("run", "--rm", "busybox", "echo", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello\n"


def test_run_exit_code_and_stderr(daemon: Daemon) -> None:
    result = daemon.cli("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"


def test_rm_leaves_nothing(daemon: Daemon) -> None:
    before = set(daemon.container_ids())
    daemon.ok("run", "--rm", "--name", "gone", "busybox", "true")
    assert set(daemon.container_ids()) == before
    assert daemon.cli("inspect", "gone").returncode == 1


def test_detached_lifecycle(daemon: Daemon) -> None:
    cid = daemon.ok("run", "-d", "--name", "web", "busybox", "sleep", "1000").strip()
    try:
        assert re.fullmatch(r"[0-9a-f]{64}", cid)
        ps = daemon.ok("ps")
        header, *rows = ps.splitlines()
        assert re.match(r"CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES",
                        header)
        row = next(r for r in rows if r.startswith(cid[:12]))
        assert '"sleep 1000"' in row and "Up " in row and row.rstrip().endswith("web")
        info = inspect(daemon, "web")
        assert info["State"]["Running"] and info["State"]["Pid"] > 0
        assert info["Name"] == "/web" and info["Id"] == cid
        assert info["Path"] == "sleep" and info["Args"] == ["1000"]
        # the container is a real process in its own PID namespace
        pid = info["State"]["Pid"]
        assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
        assert daemon.ok("stop", "-t", "1", "web").strip() == "web"
        info = inspect(daemon, "web")
        assert not info["State"]["Running"]
        assert info["State"]["Status"] == "exited"
        ps_all = daemon.ok("ps", "-a")
        assert re.search(r"Exited \(\d+\) .* ago", ps_all)
        assert daemon.ok("start", "web").strip() == "web"
        assert inspect(daemon, "web")["State"]["Running"]
    finally:
        daemon.ok("rm", "-f", "web")
    assert daemon.cli("inspect", "web").returncode == 1


def test_stop_timeout_kills_with_sigkill(daemon: Daemon) -> None:
    # PID 1 ignores SIGTERM unless it installs a handler: stop must SIGKILL after -t.
    daemon.ok("run", "-d", "--name", "stubborn", "busybox", "sleep", "1000")
    try:
        t0 = time.time()
        daemon.ok("stop", "-t", "1", "stubborn")
        elapsed = time.time() - t0
        assert 0.9 < elapsed < 5
        assert inspect(daemon, "stubborn")["State"]["ExitCode"] == 137
    finally:
        daemon.cli("rm", "-f", "stubborn")


def test_stop_signal_honoured(daemon: Daemon) -> None:
    daemon.ok("run", "-d", "--name", "trap", "busybox", "sh", "-c",
              TRAPPED.format(code=42, sig="TERM"))
    try:
        wait_trapped(daemon, "trap")
        daemon.ok("stop", "trap")
        assert inspect(daemon, "trap")["State"]["ExitCode"] == 42
    finally:
        daemon.cli("rm", "-f", "trap")


def test_rm_running_refused(daemon: Daemon) -> None:
    daemon.ok("run", "-d", "--name", "busy", "busybox", "sleep", "1000")
    try:
        result = daemon.cli("rm", "busy")
        assert result.returncode == 1
        assert "You cannot remove a running container" in result.stderr or \
            "stop the container before removing or force remove" in result.stderr
    finally:
        daemon.ok("rm", "-f", "busy")


def test_kill_signal_and_wait(daemon: Daemon) -> None:
    assert "Invalid container name (k)" in daemon.cli("create", "--name", "k",
                                                       "busybox").stderr
    daemon.ok("run", "-d", "--name", "kk", "busybox", "sleep", "1000")
    try:
        daemon.ok("kill", "-s", "KILL", "kk")
        assert daemon.ok("wait", "kk").strip() == "137"
    finally:
        daemon.cli("rm", "-f", "kk")


def test_logs(daemon: Daemon) -> None:
    daemon.ok("run", "--name", "chatty", "busybox", "sh", "-c",
              "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2")
    try:
        result = daemon.cli("logs", "chatty")
        assert result.stdout == "line1\nline2\nline3\nline4\nline5\n"
        assert result.stderr == "oops\n"
        # --tail counts entries of both streams, as Docker does
        tail = daemon.cli("logs", "--tail", "2", "chatty")
        assert (tail.stdout, tail.stderr) == ("line5\n", "oops\n")
        stamped = daemon.ok("logs", "-t", "chatty").splitlines()
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line1$", stamped[0])
        assert daemon.ok("logs", "--since", "1h", "chatty") == result.stdout
        assert daemon.ok("logs", "--until", "2000-01-01T00:00:00Z", "chatty") == ""
        log_path = inspect(daemon, "chatty")["LogPath"]
        with open(log_path) as f:
            first = json.loads(f.readline())
        assert first["log"] == "line1\n" and first["stream"] == "stdout"
    finally:
        daemon.cli("rm", "-f", "chatty")


def test_logs_follow(daemon: Daemon) -> None:
    daemon.ok("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
              "for i in 1 2 3; do echo t$i; sleep 0.2; done")
    try:
        result = daemon.cli("logs", "-f", "ticker", timeout=20)
        assert result.stdout == "t1\nt2\nt3\n"
    finally:
        daemon.cli("rm", "-f", "ticker")


def test_env_workdir_user_hostname(daemon: Daemon) -> None:
    out = daemon.ok("run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "-u", "app",
                    "--hostname", "box", "busybox", "sh", "-c",
                    'echo $FOO $(pwd) $(id -u):$(id -g) $(hostname) $HOME')
    assert out.split() == ["bar", "/tmp", "1000:1000", "box", "/home/app"]
    assert daemon.ok("run", "--rm", "-u", "1234:55", "busybox", "id").startswith(
        "uid=1234 gid=55")


def test_env_file_and_entrypoint(daemon: Daemon, tmp_path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nA=1\nB=two words\n")
    out = daemon.ok("run", "--rm", "--env-file", str(env_file), "--entrypoint", "env",
                    "busybox")
    assert "B=two words" in out.splitlines() and "A=1" in out.splitlines()


def test_labels_and_ps_filters(daemon: Daemon) -> None:
    daemon.ok("run", "-d", "--name", "lab", "-l", "tier=web", "busybox", "sleep", "100")
    try:
        assert daemon.ok("ps", "-q", "--filter", "label=tier=web").strip() == \
            inspect(daemon, "lab")["Id"][:12]
        assert daemon.ok("ps", "-q", "--filter", "label=tier=db").strip() == ""
        assert daemon.ok("ps", "--format", "{{.Names}} {{.Status}}").count("lab Up") == 1
        assert inspect(daemon, "lab")["Config"]["Labels"] == {"tier": "web"}
    finally:
        daemon.ok("rm", "-f", "lab")


def test_names_generated_and_unique(daemon: Daemon) -> None:
    cid = daemon.ok("create", "busybox", "true").strip()
    try:
        name = inspect(daemon, cid)["Name"]
        assert re.fullmatch(r"/[a-z]+_[a-z]+\d*", name)
        result = daemon.cli("create", "--name", name.lstrip("/"), "busybox", "true")
        assert result.returncode == 125
        assert f'Conflict. The container name "{name}" is already in use' in result.stderr
        # any unique prefix works
        assert inspect(daemon, cid[:5])["Id"] == cid
    finally:
        daemon.ok("rm", cid)


def test_rename(daemon: Daemon) -> None:
    daemon.ok("create", "--name", "before", "busybox", "true")
    daemon.ok("rename", "before", "after")
    assert inspect(daemon, "after")["Name"] == "/after"
    assert daemon.cli("inspect", "before").returncode == 1
    daemon.ok("rm", "after")


def test_missing_executable(daemon: Daemon) -> None:
    result = daemon.cli("run", "--rm", "busybox", "nonexistent-cmd")
    assert result.returncode == 127
    assert "executable file not found in $PATH" in result.stderr


def test_missing_image(daemon: Daemon) -> None:
    from registry import free_port      # a registry nobody listens on: never Docker Hub

    name = f"127.0.0.1:{free_port()}/nosuchimage"
    result = daemon.cli("run", "--rm", name)
    assert result.returncode == 125
    assert f"Unable to find image '{name}:latest' locally" in result.stderr
    assert "connection refused" in result.stderr


def test_bad_name_and_resources(daemon: Daemon) -> None:
    result = daemon.cli("create", "--name", "bad name!", "busybox")
    assert result.returncode == 125 and "Invalid container name" in result.stderr
    result = daemon.cli("create", "-m", "1m", "busybox")
    assert result.returncode == 125
    assert "Minimum memory limit allowed is 6MB" in result.stderr
    result = daemon.cli("create", "--cpus", "99", "busybox")
    assert result.returncode == 125 and "Range of CPUs is from 0.01" in result.stderr
    result = daemon.cli("create", "--network", "nonet", "busybox")
    assert result.returncode == 125 and "network nonet not found" in result.stderr
    assert not any(c for c in daemon.container_ids()
                   if inspect(daemon, c)["Config"].get("Cmd") == ["sh"] and
                   inspect(daemon, c)["Name"].startswith("/bad")), "no partial state"


def test_resource_limits_in_cgroup(daemon: Daemon) -> None:
    cid = daemon.ok("run", "-d", "-m", "64m", "--pids-limit", "50", "--cpus", "0.5",
                    "busybox", "sleep", "100").strip()
    try:
        memory = f"/sys/fs/cgroup/memory/dockyard/{cid}/memory.limit_in_bytes"
        if not os.path.exists("/sys/fs/cgroup/memory"):
            memory = f"/sys/fs/cgroup/dockyard/{cid}/memory.max"
        with open(memory) as f:
            assert int(f.read()) == 64 * 1024 * 1024
        pids = f"/sys/fs/cgroup/pids/dockyard/{cid}/pids.max"
        if os.path.exists(pids):
            with open(pids) as f:
                assert f.read().strip() == "50"
    finally:
        daemon.ok("rm", "-f", cid)


def test_read_only_and_network_modes(daemon: Daemon) -> None:
    result = daemon.cli("run", "--rm", "--read-only", "busybox", "touch", "/x")
    assert result.returncode != 0 and "Read-only file system" in result.stderr
    out = daemon.ok("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net")
    assert out.split() == ["lo"]
    # veths come and go with other containers (a stopped one's goes after its exit), so the
    # host's other links are what both views must agree on
    host_links = sorted(n for n in os.listdir("/sys/class/net") if not n.startswith("veth"))
    out = daemon.ok("run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net")
    assert sorted(n for n in out.split() if not n.startswith("veth")) == host_links


def test_capabilities(daemon: Daemon) -> None:
    status = daemon.ok("run", "--rm", "busybox", "grep", "CapEff", "/proc/self/status")
    assert status.split()[1] == "00000000a80425fb"
    status = daemon.ok("run", "--rm", "--cap-drop", "ALL", "busybox", "grep", "CapEff",
                       "/proc/self/status")
    assert status.split()[1] == "0000000000000000"
    status = daemon.ok("run", "--rm", "--cap-add", "NET_ADMIN", "busybox", "grep", "CapEff",
                       "/proc/self/status")
    assert int(status.split()[1], 16) & (1 << 12)
    status = daemon.ok("run", "--rm", "--privileged", "busybox", "grep", "CapEff",
                       "/proc/self/status")
    assert int(status.split()[1], 16) >= 0x1ffffffff


def test_restart_and_prune(daemon: Daemon) -> None:
    daemon.ok("run", "-d", "--name", "rs", "busybox", "sleep", "100")
    pid1 = inspect(daemon, "rs")["State"]["Pid"]
    daemon.ok("restart", "-t", "0", "rs")
    info = inspect(daemon, "rs")
    assert info["State"]["Running"] and info["State"]["Pid"] != pid1
    daemon.ok("rm", "-f", "rs")
    cid = daemon.ok("create", "busybox", "true").strip()
    out = daemon.ok("container", "prune", "-f")
    assert cid in out and "Total reclaimed space:" in out


@pytest.mark.parametrize("runtime", ["runc"])
def test_same_bundle_under_runc(daemon: Daemon, runtime: str) -> None:
    import shutil
    if not shutil.which("runc"):
        pytest.skip("SKIPPED LOUDLY: runc not installed (apt-get install runc)")
    out = daemon.ok("run", "--rm", "--runtime", runtime, "-u", "app", "--hostname", "rc",
                    "busybox", "sh", "-c", "id -u; hostname; echo $$")
    assert out.split() == ["1000", "rc", "1"]
    result = daemon.cli("run", "--rm", "--runtime", runtime, "busybox", "sh", "-c", "exit 7")
    assert result.returncode == 7


def test_ulimit_and_no_new_privileges(daemon: Daemon) -> None:
    out = daemon.ok("run", "--rm", "--ulimit", "nofile=512:1024", "busybox", "sh", "-c",
                    "ulimit -n; ulimit -Hn")
    assert out.split() == ["512", "1024"]
    status = daemon.ok("run", "--rm", "--security-opt", "no-new-privileges", "busybox",
                       "grep", "NoNewPrivs", "/proc/self/status")
    assert status.split()[1] == "1"
    status = daemon.ok("run", "--rm", "busybox", "grep", "NoNewPrivs", "/proc/self/status")
    assert status.split()[1] == "0"


def test_masked_and_readonly_paths(daemon: Daemon) -> None:
    assert os.path.exists("/proc/timer_list"), "host /proc/timer_list needed for this check"
    out = daemon.ok("run", "--rm", "busybox", "sh", "-c",
                    "wc -c < /proc/timer_list; echo 1 > /proc/sys/kernel/domainname 2>&1 "
                    "|| echo ro")
    assert out.split() == ["0", "ro"]
    out = daemon.ok("run", "--rm", "--privileged", "busybox", "sh", "-c",
                    "wc -c < /proc/timer_list")
    assert int(out) > 0, "privileged containers see unmasked /proc"
    out = daemon.ok("run", "--rm", "busybox", "sh", "-c", "ls /dev | sort | tr '\\n' ' '")
    for node in ("full", "null", "pts", "random", "shm", "tty", "urandom", "zero"):
        assert node in out.split()


def test_daemon_config_file_rules(tmp_path) -> None:
    import subprocess
    import sys
    cfg = tmp_path / "daemon.json"
    cfg.write_text('{"data-root": "/tmp/x", "bogus-key": 1}')
    result = subprocess.run([sys.executable, "-m", "dockyard.daemon", "--config-file",
                             str(cfg)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "don't match any configuration option: bogus-key" in result.stderr
    cfg.write_text('{"data-root": "/tmp/x"}')
    result = subprocess.run([sys.executable, "-m", "dockyard.daemon", "--config-file",
                             str(cfg), "--data-root", "/tmp/y"], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode != 0
    assert "specified both as a flag and in the configuration file: data-root" in \
        result.stderr


def test_ps_last_latest_no_trunc(daemon: Daemon) -> None:
    first = daemon.ok("create", "--name", "older", "busybox", "echo",
                      "a-very-long-argument-list-here").strip()
    second = daemon.ok("create", "--name", "newer", "busybox", "true").strip()
    try:
        assert daemon.ok("ps", "-lq") == second[:12] + "\n"
        assert daemon.ok("ps", "-q", "-n", "2").split() == [second[:12], first[:12]]
        row = next(r for r in daemon.ok("ps", "-a").splitlines() if "older" in r)
        assert '"echo a-very-long-ar…"' in row and "Created" in row
        full = next(r for r in daemon.ok("ps", "-a", "--no-trunc").splitlines()
                    if "older" in r)
        assert first in full and '"echo a-very-long-argument-list-here"' in full
    finally:
        daemon.ok("rm", first, second)


def test_init_reaps_and_forwards_signals(daemon: Daemon) -> None:
    out = daemon.ok("run", "--rm", "--init", "busybox", "sh", "-c",
                    "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$")
    first, second = out.splitlines()
    assert first.startswith("/sbin/docker-init -- sh") and second != "1"
    # an orphaned zombie is reaped by the init
    out = daemon.ok("run", "--rm", "--init", "busybox", "sh", "-c",
                    "(sleep 0.1 &) ; sleep 0.5; ps -o stat,comm | grep -c '^Z' || true")
    assert out.strip() == "0"
    # SIGTERM reaches the command, which is not PID 1 and so dies of it at once
    daemon.ok("run", "-d", "--init", "--name", "initted", "busybox", "sleep", "1000")
    try:
        t0 = time.time()
        daemon.ok("stop", "initted")
        assert time.time() - t0 < 5
        assert inspect(daemon, "initted")["State"]["ExitCode"] == 143
    finally:
        daemon.cli("rm", "-f", "initted")


def test_pid_host_sees_the_hosts_processes(daemon: Daemon) -> None:
    """`--pid host` keeps the host's process table (no PID namespace): the container's
    shell is not PID 1 and sees this test's own process; by default it is PID 1."""
    me = os.getpid()
    script = f'echo $$; test -d /proc/{me} && echo sees-host'
    shared = daemon.docker("run", "--rm", "--pid", "host", "busybox", "sh", "-c", script)
    assert shared.returncode == 0, shared.stderr
    pid, *rest = shared.stdout.split()
    assert int(pid) != 1 and rest == ["sees-host"]
    private = daemon.docker("run", "--rm", "busybox", "sh", "-c", "echo $$")
    assert private.stdout.split() == ["1"]
    refused = daemon.docker("create", "--pid", "container:nothere", "busybox", "true")
    assert refused.returncode != 0 and "container PID mode is not supported yet" in \
        refused.stderr
