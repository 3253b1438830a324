"""Start a container under its monitor without starting a new Python interpreter.

The daemon forks; the child double-forks so the monitor is not the daemon's child, becomes a
child subreaper, asks the runtime to create the container init (blocked before exec), reports
the init's pid and execs dockyard-shim, which inherits the init as its child. With a TTY the
runtime sends the pseudo-terminal master over a console socket (as runc's --console-socket)
and the shim gets it instead of output pipes. See docs/architecture.md, "Data flow of run"
and "Interactive containers".
"""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Any, Callable

from ..linux import forking, syscalls

SHIM_BINARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dockyard-shim")
INIT_BINARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dockyard-init")
SHIM_ADDRESS = "\0dockyard-shim/{}"


class LaunchError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclass
class LogSettings:
    path: str | None          # None: log driver "none"
    max_size: int = 0
    max_file: int = 1
    compress: bool = False    # gzip rotated files


@dataclass
class Launched:
    pid: int
    control: socket.socket    # the daemon's end of the shim's control connection


CreateFn = Callable[[int, int, int, "socket.socket | None"], int]


def launch(create: CreateFn, monitor_id: str, *, log: LogSettings, exit_file: str,
           stdin: bool = False, tty: bool = False) -> Launched:
    """Fork the monitor and, through `create(stdin, stdout, stderr, console) -> pid` (a
    runtime's create_in_child or exec_in_child, run in the forked child), the process it
    watches. `stdin`: the process reads a pipe the monitor feeds (else /dev/null). `tty`:
    `console` is a socket on which the runtime sends the terminal master with SCM_RIGHTS.
    Returns once that process is ready. Blocking (tens of milliseconds): call it from a
    worker thread. Raises LaunchError.
    """
    if not os.access(SHIM_BINARY, os.X_OK):
        raise LaunchError(f"monitor binary missing: {SHIM_BINARY} (reinstall dockyard)", 125)
    report_r, report_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    daemon_end, shim_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    argv = [SHIM_BINARY, "--id", monitor_id, "--exit-file", exit_file]
    if log.path:
        argv += ["--log", log.path, "--log-max-size", str(log.max_size),
                 "--log-max-file", str(log.max_file)]
        if log.compress:
            argv.append("--log-compress")
    pid0 = forking.fork()
    if pid0 == 0:  # pragma: no cover - runs in the forked child
        _child(create, argv, report_r, report_w, (out_r, out_w, err_r, err_w), daemon_end,
               shim_end, stdin, tty)
    for fd in (report_w, out_w, err_w, out_r, err_r):
        os.close(fd)
    shim_end.close()
    os.waitpid(pid0, 0)
    # One line only: the container init holds a copy of the pipe until it execs, which
    # happens after runtime.start(), so waiting for EOF here would deadlock.
    with os.fdopen(report_r, "rb") as reader:
        line = reader.readline()
    try:
        report = json.loads(line)
    except ValueError:
        daemon_end.close()
        raise LaunchError("container monitor failed to start", 125) from None
    if "error" in report:
        daemon_end.close()
        raise LaunchError(report["error"], int(report.get("exitCode", 125)))
    return Launched(pid=int(report["pid"]), control=daemon_end)


def _child(create: CreateFn, argv: list[str], report_r: int, report_w: int,
           pipes: tuple[int, int, int, int], daemon_end: socket.socket,
           shim_end: socket.socket, stdin: bool, tty: bool) -> None:  # pragma: no cover
    """Forked child: never returns, always ends in os._exit or exec."""
    out_r, out_w, err_r, err_w = pipes
    def report(obj: dict[str, Any]) -> None:
        os.write(report_w, json.dumps(obj).encode() + b"\n")

    try:
        os.close(report_r)
        daemon_end.close()
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
        devnull = os.open("/dev/null", os.O_RDONLY)
        in_r, in_w = os.pipe() if stdin and not tty else (devnull, -1)
        console, console_peer = socket.socketpair() if tty else (None, None)
        pid = create(in_r, out_w, err_w, console_peer)
        for fd in {devnull, in_r, out_w, err_w}:
            os.close(fd)
        control = shim_end.detach()
        keep = [control]
        if console is not None:
            assert console_peer is not None
            console_peer.close()
            master = _receive_master(console)
            argv += ["--tty-fd", str(master)]
            keep.append(master)
            os.close(out_r)
            os.close(err_r)
        else:
            argv += ["--stdout-fd", str(out_r), "--stderr-fd", str(err_r)]
            keep += [out_r, err_r]
        if in_w >= 0:
            argv += ["--stdin-fd", str(in_w)]
            keep.append(in_w)
        for fd in keep:
            os.set_inheritable(fd, True)
        argv += ["--pid", str(pid), "--control-fd", str(control)]
        report({"pid": pid})
        os.close(report_w)
        os.execv(argv[0], argv)
    except BaseException as exc:  # noqa: BLE001 - everything must be reported, then _exit
        message = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
        code = getattr(exc, "exit_code", 125)
        try:
            report({"error": message, "exitCode": code})
        finally:
            os._exit(1)


def _receive_master(console: socket.socket) -> int:  # pragma: no cover - forked child
    """The terminal master the runtime sent (it did so before reporting ready)."""
    console.settimeout(10)
    _msg, fds, _flags, _addr = socket.recv_fds(console, 16, 1)
    console.close()
    if not fds:
        raise LaunchError("the runtime sent no terminal for the container", 125)
    return fds[0]


def connect(cid: str) -> socket.socket | None:
    """Reconnect to a running container's monitor (after a daemon restart)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(SHIM_ADDRESS.format(cid))
    except OSError:
        sock.close()
        return None
    return sock
