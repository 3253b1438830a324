"""Interactive containers through a real pseudo-terminal: our CLI and the stock docker CLI
driven by pexpect (prompt, typing, window size, Ctrl-C, detach keys, exec -it, exit codes)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any, Iterator

import pytest

from conftest import Daemon, inspect, wait_for

pexpect = pytest.importorskip("pexpect")

PROMPT = "/ # "
CLIS = ["dockyard", "docker"]


def spawn(daemon: Daemon, cli: str, *args: str, rows: int = 30, cols: int = 100,
          env: dict[str, str] | None = None) -> Any:
    if cli == "docker" and not shutil.which("docker"):
        pytest.skip("SKIPPED LOUDLY: the docker CLI is not installed")
    command = ["docker"] if cli == "docker" else [sys.executable, "-m", "dockyard.cli"]
    environment = {**daemon.env(), "DOCKER_CONFIG": os.path.join(daemon.base, "dockercfg"),
                   **(env or {})}
    child = pexpect.spawn(command[0], [*command[1:], *args], env=environment, timeout=20,
                          dimensions=(rows, cols), encoding="utf-8", codec_errors="replace")
    return child


def wait_attached(child: Any, timeout: float = 20) -> None:
    """Until the container's shell answers through this CLI. Input typed before the CLI
    relays it may be lost, so ask again until a sum comes back that only the shell can
    compute (the local echo of the typed line never matches it)."""
    deadline = time.monotonic() + timeout
    for n in range(1, 1000):
        child.sendline(f"echo $(({n} * 1000 + 7))")
        try:
            child.expect(rf"\r\n{n * 1000 + 7}\r\n", timeout=1)
            return
        except pexpect.TIMEOUT:
            assert time.monotonic() < deadline, "the attach never relayed input"


def finish(child: Any) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


@pytest.fixture
def name(daemon: Daemon) -> Iterator[str]:
    name = f"tty{os.getpid()}{time.monotonic_ns() % 100000}"
    try:
        yield name
    finally:
        daemon.cli("rm", "-f", name)


@pytest.mark.parametrize("cli", CLIS)
def test_shell_in_a_terminal(daemon: Daemon, cli: str, name: str) -> None:
    child = spawn(daemon, cli, "run", "-it", "--name", name, "busybox", rows=30, cols=100)
    child.expect_exact(PROMPT)
    child.sendline("echo $((6*7)); tty")
    child.expect(r"\r\n42\r\n/dev/pts/0\r\n")
    child.sendline("stty size")
    child.expect(r"\r\n30 100\r\n")
    child.setwinsize(40, 120)  # SIGWINCH: the CLI sends the new size to the daemon
    deadline = time.time() + 10
    while True:
        child.sendline("stty size")
        index = child.expect([r"\r\n40 120\r\n", r"\r\n30 100\r\n"])
        if index == 0:
            break
        assert time.time() < deadline, "resize never reached the container"
        time.sleep(0.2)
    child.sendline("sleep 60")
    wait_for(lambda: "sleep 60" in daemon.cli("top", name).stdout, what="the foreground sleep")
    started = time.monotonic()
    child.sendcontrol("c")  # the terminal's line discipline interrupts the foreground job
    child.expect_exact(PROMPT)
    assert time.monotonic() - started < 15
    child.sendline("echo still $((1+1))")
    child.expect(r"still 2\r\n")
    child.sendline("exit 3")
    assert finish(child) == 3
    state = inspect(daemon, name)["State"]
    assert (state["Running"], state["ExitCode"]) == (False, 3)
    logs = daemon.ok("logs", name)
    assert "/dev/pts/0" in logs and "still 2" in logs


@pytest.mark.parametrize("cli", CLIS)
def test_detach_and_reattach(daemon: Daemon, cli: str, name: str) -> None:
    child = spawn(daemon, cli, "run", "-it", "--name", name, "busybox")
    child.expect_exact(PROMPT)
    child.sendline("export MARK=kept")
    child.expect_exact(PROMPT)
    child.sendcontrol("p")
    child.sendcontrol("q")
    assert finish(child) == 0
    assert inspect(daemon, name)["State"]["Running"], "detaching leaves it running"

    child = spawn(daemon, cli, "attach", name)
    wait_attached(child)
    child.sendline("echo $MARK $((2*21))")
    child.expect(r"kept 42\r\n")
    child.sendcontrol("p")
    child.sendcontrol("q")
    child.expect_exact("read escape sequence")
    assert finish(child) == 1, "attach exits 1 after a detach, as the docker CLI does"
    assert inspect(daemon, name)["State"]["Running"]

    child = spawn(daemon, cli, "attach", name)
    wait_attached(child)
    child.sendline("exit 3")
    assert finish(child) == 3
    assert inspect(daemon, name)["State"]["ExitCode"] == 3


@pytest.mark.parametrize("cli", CLIS)
def test_exec_it(daemon: Daemon, cli: str, name: str) -> None:
    daemon.ok("run", "-dit", "--name", name, "busybox", "sh")
    child = spawn(daemon, cli, "exec", "-it", name, "sh", rows=25, cols=90)
    child.expect_exact(PROMPT)
    child.sendline("tty; stty size; echo $((5*5))x")
    child.expect(r"/dev/pts/1\r\n25 90\r\n25x\r\n")  # pts/0 is the container's own
    child.sendline("exit 5")
    assert finish(child) == 5
    assert inspect(daemon, name)["State"]["Running"], "the container's own shell goes on"
    child = spawn(daemon, cli, "exec", "-it", name, "sh", "-c", "exit 6")
    assert finish(child) == 6


@pytest.mark.parametrize("cli", CLIS)
def test_create_then_start_attached(daemon: Daemon, cli: str, name: str) -> None:
    daemon.ok("create", "-it", "--name", name, "busybox", "sh")
    child = spawn(daemon, cli, "start", "-ai", name)
    child.expect_exact(PROMPT)
    child.sendline("echo started $((3*3))")
    child.expect(r"started 9\r\n")
    child.sendline("exit 2")
    assert finish(child) == 2


def test_detach_keys_from_flag_and_config(daemon: Daemon, name: str) -> None:
    child = spawn(daemon, "dockyard", "run", "-it", "--detach-keys", "ctrl-x,x", "--name",
                  name, "busybox")
    child.expect_exact(PROMPT)
    child.sendcontrol("p")  # the default keys no longer detach: this reaches the shell
    child.sendcontrol("q")
    child.sendline("echo $((4*4))")
    child.expect(r"16\r\n")
    child.sendcontrol("x")
    child.send("x")
    assert finish(child) == 0
    assert inspect(daemon, name)["State"]["Running"]
    config = os.path.join(daemon.base, "tty-config")
    os.makedirs(config, exist_ok=True)
    with open(os.path.join(config, "config.json"), "w") as f:
        json.dump({"detachKeys": "ctrl-e"}, f)
    child = spawn(daemon, "dockyard", "attach", name, env={"DOCKER_CONFIG": config})
    wait_attached(child)
    child.sendcontrol("e")
    child.expect_exact("read escape sequence")
    assert finish(child) == 1
    result = daemon.cli("attach", "--detach-keys", "ctrl-1", name)
    assert result.returncode == 125
    assert "Invalid detach keys (ctrl-1) provided" in result.stderr


def test_input_must_be_a_terminal(daemon: Daemon) -> None:
    result = daemon.cli("run", "-it", "--rm", "busybox", "true", input=b"")
    assert result.returncode == 1
    assert result.stderr.strip() == "the input device is not a TTY"


def test_tty_only_merges_streams(daemon: Daemon) -> None:
    result = subprocess.run([sys.executable, "-m", "dockyard.cli", "run", "-t", "--rm",
                             "busybox", "sh", "-c", "echo out; echo err >&2"],
                            env=daemon.env(), capture_output=True, timeout=60)
    assert result.returncode == 0
    # one raw stream, through the terminal's output processing (\n becomes \r\n)
    assert (result.stdout, result.stderr) == (b"out\r\nerr\r\n", b"")


@pytest.mark.skipif(not shutil.which("runc"), reason="SKIPPED LOUDLY: runc is not installed")
def test_runc_terminal(daemon: Daemon, name: str) -> None:
    child = spawn(daemon, "docker", "run", "-it", "--runtime", "runc", "--name", name,
                  "busybox", rows=22, cols=80)
    child.expect_exact(PROMPT)
    child.sendline("tty; stty size")
    child.expect(r"/dev/pts/0\r\n22 80\r\n")
    child.sendcontrol("p")
    child.sendcontrol("q")
    assert finish(child) == 0
    child = spawn(daemon, "docker", "exec", "-it", name, "sh", rows=24, cols=81)
    child.expect_exact(PROMPT)
    child.sendline("tty; stty size")
    child.expect(r"/dev/pts/1\r\n24 81\r\n")
    child.sendline("exit 4")
    assert finish(child) == 4
    child = spawn(daemon, "docker", "attach", name)
    wait_attached(child)
    child.sendline("exit 3")
    assert finish(child) == 3


def test_terminal_survives_daemon_restart(own_daemon: Daemon) -> None:
    d = own_daemon
    d.ok("run", "-dit", "--name", "keep", "busybox", "sh")
    pid = inspect(d, "keep")["State"]["Pid"]
    d.stop()
    d.start()
    assert inspect(d, "keep")["State"]["Pid"] == pid
    child = spawn(d, "dockyard", "attach", "keep", rows=21, cols=71)
    wait_attached(child)
    child.sendline("stty size; echo $((6*7))")
    child.expect(r"21 71\r\n42\r\n")
    child.sendline("exit 4")
    assert finish(child) == 4
    assert inspect(d, "keep")["State"]["ExitCode"] == 4
