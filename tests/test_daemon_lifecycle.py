"""Daemon lifetime: one daemon per data root, stale pid files, socket ownership at shutdown."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import Daemon, new_daemon


def _wait_for(predicate, what: str, timeout: float = 15) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _pidfile(d: Daemon) -> str:
    return os.path.join(d.base, "d.pid")


def test_second_daemon_on_same_root_refused() -> None:
    d = new_daemon(None)
    try:
        other_sock = os.path.join(d.base, "other.sock")
        started = time.time()
        second = subprocess.run(
            [sys.executable, "-m", "dockyard.daemon", "-H", f"unix://{other_sock}",
             "--data-root", d.root, "--pidfile", os.path.join(d.base, "other.pid"),
             "--config-file", d.config_file], capture_output=True, text=True, timeout=20)
        assert second.returncode != 0
        assert f"dockyardd: data root {d.root} is in use by dockyardd (pid {d.proc.pid})" \
            in second.stderr, second.stderr
        assert time.time() - started < 10
        assert not os.path.exists(other_sock)
        _assert_serves_and_holds_lock(d)
    finally:
        d.cleanup()


def test_kill9_releases_data_root() -> None:
    d = new_daemon(None)
    try:
        d.kill9()
        d.start()
        _assert_serves_and_holds_lock(d)
    finally:
        d.cleanup()


def test_zombie_or_dead_pidfile_does_not_block_start() -> None:
    d = new_daemon(None)
    zombie = subprocess.Popen(["true"])   # not reaped until below: a zombie of ours
    try:
        def is_zombie() -> bool:
            with open(f"/proc/{zombie.pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        _wait_for(is_zombie, "the child to become a zombie")
        d.stop()
        with open(_pidfile(d), "w") as f:
            f.write(str(zombie.pid))
        d.start()
        d.stop()
        zombie.wait()
        with open(_pidfile(d), "w") as f:
            f.write(str(zombie.pid))   # now a dead pid
        d.start()
        d.stop()
        with open(_pidfile(d), "w") as f:
            f.write(str(os.getpid()))   # a live process still blocks, as in dockerd
        try:
            d.start()
            raise AssertionError("a live pid file did not block the start")
        except RuntimeError as exc:
            assert "pid file found" in str(exc)
    finally:
        zombie.poll()
        d.cleanup()


def test_old_daemon_shutdown_keeps_newer_socket() -> None:
    old = new_daemon(None)
    new = Daemon(tempfile.mkdtemp(prefix="dy-", dir="/tmp"), sock=old.sock)
    try:
        old_ino = os.stat(old.sock).st_ino
        new.start()
        _wait_for(lambda: "API listening" in new.logs(), "the newer daemon to bind")
        assert os.stat(old.sock).st_ino != old_ino
        old.stop()
        assert os.path.exists(old.sock)
        assert not os.path.exists(_pidfile(old))   # its own pid file it does remove
        assert new.cli("version").returncode == 0
    finally:
        new.cleanup()
        old.cleanup()


def test_shutdown_timeout_bounds_a_stuck_shutdown() -> None:
    """An open `GET /events` stream keeps aiohttp's shutdown waiting; the watchdog ends the
    daemon `shutdown-timeout` seconds after SIGTERM."""
    base = tempfile.mkdtemp(prefix="dy-", dir="/tmp")
    d = Daemon(base)
    d.write_config({"shutdown-timeout": 1})
    events = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        d.start()
        _open_events_stream(d, events)
        started = time.time()
        d.proc.terminate()
        code = d.proc.wait(20)
        assert time.time() - started < 5
        if code != 0:
            assert "shutdown did not finish within 1s (shutdown-timeout)" in d.logs()
    finally:
        events.close()
        d.cleanup()


def test_shutdown_cancels_open_streams() -> None:
    """With the default shutdown-timeout an open `GET /events` stream is cancelled after a
    short grace: the daemon exits cleanly (code 0) well within the bound."""
    d = Daemon(tempfile.mkdtemp(prefix="dy-", dir="/tmp"))
    events = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        d.start()
        _open_events_stream(d, events)
        started = time.time()
        assert d.proc is not None
        d.proc.terminate()
        assert d.proc.wait(20) == 0, d.logs()
        assert time.time() - started < 5
        assert not os.path.exists(d.sock)
    finally:
        events.close()
        d.cleanup()


def _assert_serves_and_holds_lock(d: Daemon) -> None:
    """The daemon answers and the data root's lock file names it."""
    assert d.proc is not None and d.cli("version").returncode == 0
    with open(os.path.join(d.root, "dockyardd.lock")) as f:
        assert f.read().strip() == str(d.proc.pid)


def _open_events_stream(d: Daemon, events: socket.socket) -> None:
    """Leave `GET /events` streaming on `events`: a request in flight at shutdown."""
    events.settimeout(10)
    events.connect(d.sock)
    events.sendall(b"GET /events HTTP/1.1\r\nHost: docker\r\n\r\n")
    assert events.recv(64).startswith(b"HTTP/1.1 200")


def test_shutdown_timeout_flag() -> None:
    """`--shutdown-timeout` as dockerd's: the flag sets it, a negative value is refused, and
    giving it in daemon.json too is the usual flag/file clash."""
    from dockyard.daemon import config as daemon_config
    from dockyard.daemon.main import _parser

    def flags(*argv: str) -> dict:
        args = _parser().parse_args(list(argv))
        return {"shutdown-timeout": args.shutdown_timeout}

    set_by_flag = daemon_config.load(None, False, flags("--shutdown-timeout", "3"))
    assert set_by_flag.shutdown_timeout == 3
    assert daemon_config.load(None, False, flags()).shutdown_timeout == 15
    refused = subprocess.run([sys.executable, "-m", "dockyard.daemon", "--shutdown-timeout",
                              "-1"], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "want seconds >= 0" in refused.stderr
    base = tempfile.mkdtemp(prefix="dy-", dir="/tmp")
    try:
        path = os.path.join(base, "daemon.json")
        with open(path, "w") as f:
            f.write('{"shutdown-timeout": 1}')
        with pytest.raises(SystemExit, match="specified both as a flag and in the "
                                             "configuration file: shutdown-timeout"):
            daemon_config.load(path, True, flags("--shutdown-timeout", "2"))
    finally:
        shutil.rmtree(base, ignore_errors=True)
