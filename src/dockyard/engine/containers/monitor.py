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

log = logging.getLogger(__name__)

FRAME_STDOUT, FRAME_STDERR, FRAME_EXIT = 1, 2, 3
_HEADER = struct.Struct(">B3xI")

ExitHandler = Callable[[int, int | None], Awaitable[None]]
Subscribers = set[asyncio.Queue[tuple[int, bytes] | None]]


async def follow(subscribers: Subscribers, exit_file: str, sock: socket.socket,
                 on_exit: ExitHandler) -> None:
    """Pump output frames to the subscribers until the watched process exits; then call
    on_exit(code, finished_ns). Used for containers and for exec processes alike."""
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
                    for queue in list(subscribers):
                        queue.put_nowait((kind, payload))
                elif kind == FRAME_EXIT:
                    code = int(payload or b"255")
                    break
        finally:
            writer.close()
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        pass
    finished_ns = None
    exit_info = read_exit_file(exit_file)
    if exit_info is not None:
        code, finished_ns = exit_info
    if code is None:
        log.warning("monitor went away without an exit status (%s)", exit_file)
        code = 255
    await on_exit(code, finished_ns)


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
