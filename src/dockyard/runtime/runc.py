"""Run the same bundle with runc: keeps our config.json honest against the reference runtime."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from typing import Any, Iterator

from . import RuntimeCreateError


class RuncRuntime:
    name = "runc"

    def __init__(self, state_root: str) -> None:
        self.root = os.path.join(state_root, "runc")
        self.binary = shutil.which("runc") or "runc"

    def _cmd(self, *args: str) -> list[str]:
        return [self.binary, "--root", self.root, *args]

    def prepare(self, cid: str, bundle: str, spec: dict[str, Any]) -> None:
        os.makedirs(self.root, mode=0o700, exist_ok=True)

    def create_in_child(self, cid: str, bundle: str, spec: dict[str, Any], stdin_fd: int,
                        stdout_fd: int, stderr_fd: int,
                        console: socket.socket | None = None) -> int:
        pid_file = os.path.join(bundle, "runc.pid")
        log_file = os.path.join(bundle, "runc.log")
        for path in (pid_file, log_file):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        with _console_socket(console) as console_args:
            result = subprocess.run(
                self._cmd("--log", log_file, "--log-format", "json", "create", "--bundle",
                          bundle, "--pid-file", pid_file, *console_args, cid),
                stdin=stdin_fd, stdout=stdout_fd, stderr=stderr_fd, close_fds=True)
            if result.returncode != 0:
                raise RuntimeCreateError(*_runc_error(log_file))
        with open(pid_file) as f:
            return int(f.read().strip())

    def exec_in_child(self, cid: str, bundle: str, spec: dict[str, Any],
                      process_spec: dict[str, Any], container_pid: int, stdin_fd: int,
                      stdout_fd: int, stderr_fd: int,
                      console: socket.socket | None = None) -> int:
        """`runc exec` in the foreground: its exit status is the process's. With a terminal
        it runs detached (runc hands the pty out only then); the process is reparented to
        the launcher, a child subreaper, so the monitor still reaps it."""
        path = os.path.join(bundle, f"exec-{os.getpid()}.json")
        with open(path, "w") as f:
            json.dump(process_spec, f)
        if console is None:
            proc = subprocess.Popen(self._cmd("exec", "--process", path, cid), stdin=stdin_fd,
                                    stdout=stdout_fd, stderr=stderr_fd, close_fds=True)
            return proc.pid
        pid_file = f"{path}.pid"
        with _console_socket(console) as console_args:
            result = subprocess.run(
                self._cmd("exec", "--detach", "--pid-file", pid_file, *console_args,
                          "--process", path, cid),
                stdin=stdin_fd, stdout=stdout_fd, stderr=subprocess.PIPE, close_fds=True)
            if result.returncode != 0:
                message = result.stderr.decode(errors="replace").strip() or "runc exec failed"
                raise RuntimeCreateError(message, 126)
        with open(pid_file) as f:
            pid = int(f.read().strip())
        os.unlink(pid_file)
        return pid

    def start(self, cid: str, bundle: str) -> None:
        subprocess.run(self._cmd("start", cid), check=True, capture_output=True)

    def pause(self, cid: str, spec: dict[str, Any], paused: bool) -> None:
        subprocess.run(self._cmd("pause" if paused else "resume", cid), check=True,
                       capture_output=True)

    def pids(self, cid: str, spec: dict[str, Any]) -> list[int]:
        out = subprocess.run(self._cmd("ps", "--format", "json", cid), check=True,
                             capture_output=True, text=True).stdout
        return [int(p) for p in json.loads(out or "[]")]

    def delete(self, cid: str, bundle: str, spec: dict[str, Any]) -> None:
        subprocess.run(self._cmd("delete", "--force", cid), capture_output=True)


@contextmanager
def _console_socket(console: socket.socket | None) -> Iterator[list[str]]:
    """runc's --console-socket: a listening socket runc sends the pty master to; we pass the
    master on over `console` (our launcher's contract). Without a console: no arguments."""
    if console is None:
        yield []
        return
    directory = tempfile.mkdtemp(prefix="dockyard-console-")
    path = os.path.join(directory, "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        listener.listen(1)
        yield ["--console-socket", path]
        listener.settimeout(10)
        conn, _ = listener.accept()
        with conn:
            _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
        if not fds:
            raise RuntimeCreateError("runc sent no console", 125)
        socket.send_fds(console, [b"pty"], fds[:1])
        for fd in fds:
            os.close(fd)
    finally:
        listener.close()
        shutil.rmtree(directory, ignore_errors=True)


def _runc_error(log_file: str) -> tuple[str, int]:
    """The last error runc logged, with Docker's exit code for it."""
    message = "runc create failed"
    try:
        with open(log_file) as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("level") in ("error", "fatal"):
                    message = entry.get("msg", message)
    except OSError:
        pass
    code = 127 if ("executable file not found" in message or "no such file" in message) \
        else 126 if "permission denied" in message else 125
    return f"runc create failed: {message}", code
