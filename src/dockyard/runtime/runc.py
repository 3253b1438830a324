"""Run the same bundle with runc: keeps our config.json honest against the reference runtime."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

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
                        stdout_fd: int, stderr_fd: int) -> int:
        pid_file = os.path.join(bundle, "runc.pid")
        log_file = os.path.join(bundle, "runc.log")
        for path in (pid_file, log_file):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        result = subprocess.run(
            self._cmd("--log", log_file, "--log-format", "json", "create", "--bundle", bundle,
                      "--pid-file", pid_file, cid),
            stdin=stdin_fd, stdout=stdout_fd, stderr=stderr_fd, close_fds=True)
        if result.returncode != 0:
            raise RuntimeCreateError(*_runc_error(log_file))
        with open(pid_file) as f:
            return int(f.read().strip())

    def exec_in_child(self, cid: str, bundle: str, spec: dict[str, Any],
                      process_spec: dict[str, Any], container_pid: int, stdin_fd: int,
                      stdout_fd: int, stderr_fd: int) -> int:
        """`runc exec` in the foreground: its exit status is the process's."""
        path = os.path.join(bundle, f"exec-{os.getpid()}.json")
        with open(path, "w") as f:
            json.dump(process_spec, f)
        proc = subprocess.Popen(self._cmd("exec", "--process", path, cid), stdin=stdin_fd,
                                stdout=stdout_fd, stderr=stderr_fd, close_fds=True)
        return proc.pid

    def start(self, cid: str, bundle: str) -> None:
        subprocess.run(self._cmd("start", cid), check=True, capture_output=True)

    def kill(self, cid: str, pid: int, sig: int) -> None:
        result = subprocess.run(self._cmd("kill", cid, str(sig)), capture_output=True)
        if result.returncode != 0 and pid > 0:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def pause(self, cid: str, spec: dict[str, Any], paused: bool) -> None:
        subprocess.run(self._cmd("pause" if paused else "resume", cid), check=True,
                       capture_output=True)

    def pids(self, cid: str, spec: dict[str, Any]) -> list[int]:
        out = subprocess.run(self._cmd("ps", "--format", "json", cid), check=True,
                             capture_output=True, text=True).stdout
        return [int(p) for p in json.loads(out or "[]")]

    def delete(self, cid: str, bundle: str, spec: dict[str, Any]) -> None:
        subprocess.run(self._cmd("delete", "--force", cid), capture_output=True)


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
