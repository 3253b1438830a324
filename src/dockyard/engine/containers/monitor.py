"""The daemon's side of a container monitor: reads frames from dockyard-shim.

Output frames go to attached clients; the exit frame (or the shim vanishing) ends the
container. The shim protocol is described in docs/architecture.md.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import struct
from typing import Awaitable, Callable

from .model import Container

log = logging.getLogger(__name__)

FRAME_STDOUT, FRAME_STDERR, FRAME_EXIT = 1, 2, 3
_HEADER = struct.Struct(">B3xI")

ExitHandler = Callable[[Container, int, int | None], Awaitable[None]]


async def follow(container: Container, sock: socket.socket, on_exit: ExitHandler) -> None:
    """Pump frames until the container exits; then call on_exit(container, code, finished_ns)."""
    code: int | None = None
    try:
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock)
        try:
            while True:
                header = await reader.readexactly(_HEADER.size)
                kind, size = _HEADER.unpack(header)
                payload = await reader.readexactly(size) if size else b""
                if kind in (FRAME_STDOUT, FRAME_STDERR):
                    for queue in list(container.subscribers):
                        queue.put_nowait((kind, payload))
                elif kind == FRAME_EXIT:
                    code = int(payload or b"255")
                    break
        finally:
            writer.close()
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        pass
    finished_ns = None
    exit_info = read_exit_file(container.exit_file)
    if exit_info is not None:
        code, finished_ns = exit_info
    if code is None:
        log.warning("monitor of %s went away without an exit status", container.id[:12])
        code = 255
    await on_exit(container, code, finished_ns)


def read_exit_file(path: str) -> tuple[int, int | None] | None:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
        return int(data["exit_code"]), int(data.get("finished_at") or 0) or None
    except (OSError, ValueError, KeyError):
        return None


def remove_exit_file(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
