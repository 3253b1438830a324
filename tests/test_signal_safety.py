"""A signal meant for a container never reaches the daemon (issue 8).

docker-py's StopTest/KillTest stop or kill a container the moment start returns. The
container's first process is then still a forked copy of the daemon that has not exec'd yet;
before linux/forking.py it carried the daemon's signal handlers and wakeup fd, and the SIGTERM
for the container shut the daemon down. These loops repeat that sequence many times.
Signals go only through the container's monitor, which holds a pidfd of its process: the
last tests check that under both runtimes, with the monitor gone, and with the pid reused."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from typing import Any, Callable

import pytest

from conftest import Daemon
from dockyard.shim.launcher import SHIM_BINARY

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


@pytest.mark.parametrize("runtime", ["dockyard", "runc"])
def test_signals_go_through_the_monitor(own_daemon: Daemon, runtime: str) -> None:
    """A signal reaches the container's process (through its monitor's pidfd) under both
    runtimes."""
    if runtime == "runc" and not shutil.which("runc"):
        pytest.skip("SKIPPED LOUDLY: runc not installed (apt-get install runc)")
    api = _client(own_daemon)
    cid = api.create_container(
        "busybox", ["sh", "-c", "trap 'exit 7' USR1; echo ready; while true; do sleep 0.1; done"],
        host_config=api.create_host_config(runtime=runtime))["Id"]
    try:
        api.start(cid)
        _poll(lambda: b"ready" in api.logs(cid))
        api.kill(cid, signal="SIGUSR1")
        assert api.wait(cid, timeout=10)["StatusCode"] == 7
    finally:
        api.remove_container(cid, force=True)
        api.close()


def test_no_signal_once_the_monitor_is_gone(own_daemon: Daemon) -> None:
    """With its monitor gone the container is gone: kill answers Docker's "is not running"
    (never a kill(pid) that could hit whatever has the pid now), and what was left in the
    container's cgroup is killed."""
    docker = pytest.importorskip("docker")
    api = _client(own_daemon)
    cid = api.create_container("busybox", ["sleep", "9999"])["Id"]
    try:
        api.start(cid)
        pid = api.inspect_container(cid)["State"]["Pid"]
        os.kill(_monitor_pid(cid), signal.SIGKILL)
        _poll(lambda: not api.inspect_container(cid)["State"]["Running"])
        with pytest.raises(docker.errors.APIError) as caught:
            api.kill(cid)
        assert caught.value.status_code == 409
        assert f"Container {cid} is not running" in str(caught.value)
        _poll(lambda: not _is_sleep(pid))
        _alive(own_daemon, api, "its monitor vanished")
    finally:
        api.remove_container(cid, force=True)
        api.close()


def _poll(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _monitor_pid(cid: str) -> int:
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"dockyard-shim") and cid.encode() in argv:
            return int(entry)
    raise AssertionError(f"no monitor for {cid}")


def _is_sleep(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().startswith(b"sleep\0")
    except OSError:
        return False


# In its own PID (and network, for the abstract socket) namespace the monitor is pid 1 and
# nothing else forks, so ns_last_pid hands the watched process's pid to a decoy for certain.
_PID_REUSE = r'''
import json, os, socket, struct, sys, time
shim, exit_file = sys.argv[1], sys.argv[2]
ours, theirs = socket.socketpair()
out_r, out_w = os.pipe()
err_r, err_w = os.pipe()
child = os.fork()
if child == 0:  # exits at once; the background sleep keeps the monitor draining for 2 s
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.execvp("sh", ["sh", "-c", "sleep 30 & sleep 0.2"])
os.close(out_w)
os.close(err_w)
if os.fork() == 0:
    theirs.close()
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{child}"):  # until the monitor has reaped it
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(child - 1))
    decoy = os.fork()
    if decoy == 0:
        os.execvp("sleep", ["sleep", "30"])
    ours.sendall(struct.pack(">B3xI", 6, 1) + b"9")
    kind, size = struct.unpack(">B3xI", ours.recv(8, socket.MSG_WAITALL))
    answer = ours.recv(size, socket.MSG_WAITALL) if size else b""
    time.sleep(0.1)
    alive = os.waitpid(decoy, os.WNOHANG) == (0, 0)
    print(json.dumps({"child": child, "decoy": decoy, "kind": kind,
                      "answer": answer.decode(), "decoy_alive": alive}), flush=True)
    os._exit(0)
ours.close()
for fd in (out_r, err_r, theirs.fileno()):
    os.set_inheritable(fd, True)
os.execv(shim, [shim, "--id", "pid-reuse", "--exit-file", exit_file, "--stdout-fd",
                str(out_r), "--stderr-fd", str(err_r), "--pid", str(child),
                "--control-fd", str(theirs.fileno())])
'''


def test_monitor_never_signals_a_reused_pid(tmp_path: Any) -> None:
    """The monitor has reaped its process and still drains output; another process now has
    that pid. A SIGKILL asked for then is answered ESRCH and the other process lives (with
    kill(pid) instead of the pidfd it dies: checked by hand)."""
    if not shutil.which("unshare"):
        pytest.skip("SKIPPED LOUDLY: unshare (util-linux) not installed")
    result = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "--net", "python3", "-c", _PID_REUSE,
         SHIM_BINARY, str(tmp_path / "exit.json")],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["decoy"] == report["child"], report   # the pid was reused
    assert report["kind"] == 7 and report["answer"] == "3", report   # ESRCH
    assert report["decoy_alive"], report
