"""Log drivers json-file, local and none: options, defaults, rotation, errors, inspect."""
from __future__ import annotations

import gzip
import os
import uuid

from conftest import Daemon, inspect

_LINES = "i=0; while [ $i -lt 400 ]; do echo line-$i-padding-padding-padding; i=$((i+1)); done"


def _name() -> str:
    return f"lg-{uuid.uuid4().hex[:8]}"


def _run(daemon: Daemon, name: str, *flags: str) -> dict:
    daemon.ok("run", "--name", name, *flags, "busybox", "sh", "-c", _LINES)
    return inspect(daemon, name)


def test_json_file_rotation(daemon: Daemon) -> None:
    name = _name()
    try:
        info = _run(daemon, name, "--log-opt", "max-size=2k", "--log-opt", "max-file=3")
        assert info["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {
            "max-size": "2k", "max-file": "3"}}
        path = info["LogPath"]
        assert os.path.exists(path) and os.path.exists(path + ".1") and \
            os.path.exists(path + ".2") and not os.path.exists(path + ".3")
        assert all(os.path.getsize(p) <= 2000 for p in (path, path + ".1", path + ".2"))
        out = daemon.docker("logs", name).stdout.splitlines()
        assert out[-1].startswith("line-399-") and len(out) < 400
    finally:
        daemon.cli("rm", "-f", name)


def test_json_file_compress(daemon: Daemon) -> None:
    name = _name()
    try:
        info = _run(daemon, name, "--log-opt", "max-size=2k", "--log-opt", "max-file=2",
                    "--log-opt", "compress=true")
        path = info["LogPath"]
        assert os.path.exists(path + ".1.gz") and not os.path.exists(path + ".1")
        assert daemon.docker("logs", name).stdout.splitlines()[-1].startswith("line-399-")
    finally:
        daemon.cli("rm", "-f", name)


def test_none_driver(daemon: Daemon) -> None:
    name = _name()
    try:
        info = _run(daemon, name, "--log-driver", "none")
        assert info["HostConfig"]["LogConfig"]["Type"] == "none" and info["LogPath"] == ""
        container_dir = os.path.join(daemon.root, "containers", info["Id"])
        assert not any(f.endswith(".log") for f in os.listdir(container_dir))
        result = daemon.docker("logs", name)
        assert result.returncode == 1
        assert "configured logging driver does not support reading" in result.stderr
        ours = daemon.cli("logs", name)
        assert ours.returncode == 1 and "does not support reading" in ours.stderr
    finally:
        daemon.cli("rm", "-f", name)


def test_local_driver_defaults_and_options(daemon: Daemon) -> None:
    name, small = _name(), _name()
    try:
        info = _run(daemon, name, "--log-driver", "local")
        assert info["HostConfig"]["LogConfig"] == {"Type": "local", "Config": {}}
        assert info["LogPath"] == ""
        out = daemon.docker("logs", "--tail", "2", name).stdout.splitlines()
        assert [line.split("-")[1] for line in out] == ["398", "399"]
        log_dir = os.path.join(daemon.root, "containers", info["Id"], "local-logs")
        assert os.listdir(log_dir) == ["container.log"]     # 20 MB default: no rotation
        info = _run(daemon, small, "--log-driver", "local", "--log-opt", "max-size=2k",
                    "--log-opt", "max-file=3")
        log_dir = os.path.join(daemon.root, "containers", info["Id"], "local-logs")
        # rotated files are compressed by default, as Docker's local driver does
        assert sorted(os.listdir(log_dir)) == ["container.log", "container.log.1.gz",
                                               "container.log.2.gz"]
        with gzip.open(os.path.join(log_dir, "container.log.1.gz")) as f:
            assert b'"stream":"stdout"' in f.readline()
        lines = daemon.ok("logs", small).splitlines()
        assert lines[-1].startswith("line-399-")
        numbers = [int(line.split("-")[1]) for line in lines]
        assert numbers == list(range(numbers[0], 400)) and numbers[0] > 0
    finally:
        daemon.cli("rm", "-f", name, small)


def test_attach_logs_replays_the_local_driver(daemon: Daemon, docker_client) -> None:
    """attach with logs=1 replays what was logged, whatever file the driver writes (the
    local driver's has no LogPath)."""
    name = _name()
    try:
        daemon.ok("run", "--name", name, "--log-driver", "local", "busybox", "sh", "-c",
                  "echo one; echo two >&2")
        replayed = docker_client.api.attach(name, stdout=True, stderr=True, stream=False,
                                            logs=True)
        assert replayed == b"one\ntwo\n"
        only_out = docker_client.api.attach(name, stdout=True, stderr=False, stream=False,
                                            logs=True)
        assert only_out == b"one\n"
    finally:
        daemon.cli("rm", "-f", name)


def test_log_driver_errors(daemon: Daemon) -> None:
    cases = [
        (["--log-driver", "foo"], "logger: no log driver named 'foo' is registered"),
        (["--log-opt", "bogus=1"], "unknown log opt 'bogus' for json-file log driver"),
        (["--log-opt", "max-file=0"], "max-file cannot be less than 1"),
        (["--log-opt", "max-size=abc"], "invalid size: 'abc'"),
        (["--log-opt", "compress=true"],
         "compress cannot be true when max-file is less than 2 or max-size is not set"),
        (["--log-driver", "local", "--log-opt", "bogus=1"],
         "unknown log opt 'bogus' for log driver local"),
        (["--log-driver", "local", "--log-opt", "max-file=1"],
         "compression cannot be enabled when max file count is 1"),
    ]
    for flags, message in cases:
        result = daemon.docker("run", "--rm", *flags, "busybox", "true")
        assert result.returncode == 125 and message in result.stderr, (flags, result.stderr)
    assert daemon.cli("create", "--log-driver", "foo", "busybox").returncode != 0
    ok = daemon.docker("run", "--rm", "--log-driver", "local", "--log-opt", "max-file=1",
                       "--log-opt", "compress=false", "busybox", "echo", "fine")
    assert ok.returncode == 0 and ok.stdout == "fine\n"


def test_follow_never_repeats_a_line(daemon: Daemon, docker_client) -> None:
    """docker-py's run() follows the logs while the container writes: the lines read from
    the file and those the follower picks up must not overlap."""
    for _ in range(3):
        out = docker_client.containers.run(
            "busybox", ["sh", "-c", "i=0; while [ $i -lt 300 ]; do echo $i; i=$((i+1)); done"],
            remove=True)
        assert out.decode().split() == [str(i) for i in range(300)]
