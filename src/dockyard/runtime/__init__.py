"""Container runtimes: our own OCI runtime ("dockyard") and an adapter for runc.

Both take the same bundle (config.json + rootfs). The lifecycle is split as in
docs/architecture.md: prepare (daemon: cgroups), create_in_child (forked launcher: the
container init, blocked before exec), start (daemon: release it), delete. Signals do not go
through the runtime: the container's monitor sends them through a pidfd (shim.c). With
`process.terminal`, create_in_child/exec_in_child send the pty master over `console`.
"""
from __future__ import annotations

import socket
from typing import Any, Protocol

from ..errors import InvalidParameter


class RuntimeCreateError(Exception):
    def __init__(self, message: str, exit_code: int = 125) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class Runtime(Protocol):
    name: str

    def prepare(self, cid: str, bundle: str, spec: dict[str, Any]) -> None: ...

    def create_in_child(self, cid: str, bundle: str, spec: dict[str, Any], stdin_fd: int,
                        stdout_fd: int, stderr_fd: int,
                        console: socket.socket | None = None) -> int: ...

    def exec_in_child(self, cid: str, bundle: str, spec: dict[str, Any],
                      process_spec: dict[str, Any], container_pid: int, stdin_fd: int,
                      stdout_fd: int, stderr_fd: int,
                      console: socket.socket | None = None) -> int: ...

    def start(self, cid: str, bundle: str) -> None: ...

    def pause(self, cid: str, spec: dict[str, Any], paused: bool) -> None: ...

    def pids(self, cid: str, spec: dict[str, Any]) -> list[int]: ...

    def delete(self, cid: str, bundle: str, spec: dict[str, Any]) -> None: ...


def get_runtime(name: str, state_root: str) -> Runtime:
    if name == "dockyard":
        from .native import NativeRuntime
        return NativeRuntime()
    if name == "runc":
        from .runc import RuncRuntime
        return RuncRuntime(state_root)
    raise InvalidParameter(f"unknown or invalid runtime name: {name}")
