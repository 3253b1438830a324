"""The daemon's side of a container monitor: reads frames from dockyard-shim.

Output frames go to attached clients; the exit frame (or the shim vanishing) ends the
container. Input (stdin, close stdin, resize) and signals go back on the same connection
through a ShimLink. The shim protocol is described in docs/architecture.md.
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import socket
import struct
from typing import Awaitable, Callable

from ...errors import DockyardError

log = logging.getLogger(__name__)

FRAME_STDIN, FRAME_STDOUT, FRAME_STDERR, FRAME_EXIT = 0, 1, 2, 3
FRAME_CLOSE_STDIN, FRAME_RESIZE, FRAME_SIGNAL, FRAME_SIGNALED = 4, 5, 6, 7
_HEADER = struct.Struct(">B3xI")
_MAX_STDIN_FRAME = 65536
SIGNAL_ANSWER_TIMEOUT = 10.0  # the monitor answers at once; this only bounds a wedged one

ExitHandler = Callable[[int, int | None], Awaitable[None]]
Subscribers = set[asyncio.Queue[tuple[int, bytes] | None]]


class ShimLink:
    """The daemon's way to a running monitor: stdin, close stdin, resize, signals. Frames
    sent before the connection is up (a resize right after start) wait for it."""

    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self._pending: list[bytes] = []
        self._up = asyncio.Event()
        self._gone = False     # the monitor of the last run ended: nothing to signal
        self._answers: collections.deque[asyncio.Future[int | None]] = collections.deque()
        self.size: tuple[int, int] | None = None   # last (rows, cols) asked for

    def connected(self, writer: asyncio.StreamWriter | None) -> None:
        self.writer = writer
        if writer is not None:
            for data in self._pending:
                writer.write(data)
            self._up.set()
        else:
            self._up.clear()
            self._gone = True
            while self._answers:
                answer = self._answers.popleft()
                if not answer.done():
                    answer.set_result(None)
        self._pending = []

    def _send(self, kind: int, payload: bytes = b"") -> None:
        data = _HEADER.pack(kind, len(payload)) + payload
        if self.writer is None:
            self._pending.append(data)
        elif not self.writer.is_closing():
            self.writer.write(data)

    def stdin(self, data: bytes) -> None:
        for start in range(0, len(data), _MAX_STDIN_FRAME):
            self._send(FRAME_STDIN, data[start:start + _MAX_STDIN_FRAME])

    def close_stdin(self) -> None:
        self._send(FRAME_CLOSE_STDIN)

    def resize(self, rows: int, cols: int) -> None:
        self.size = (rows, cols)
        self._send(FRAME_RESIZE, f"{rows} {cols}".encode())

    async def signal(self, number: int) -> int | None:
        """Have the monitor signal its process through the pidfd it took at launch, so the
        signal cannot reach a process that reused the pid. Returns 0, or the errno (ESRCH:
        it has just exited); None when the monitor is gone, and the process with it."""
        if self._gone:
            return None
        answer: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._answers.append(answer)
        self._send(FRAME_SIGNAL, str(number).encode())
        try:
            async with asyncio.timeout(SIGNAL_ANSWER_TIMEOUT):
                return await answer
        except TimeoutError:
            raise DockyardError("the container's monitor did not answer a signal") from None

    def _signaled(self, payload: bytes) -> None:
        """The monitor's answers come in the order of the requests."""
        if self._answers:
            answer = self._answers.popleft()
            if not answer.done():
                answer.set_result(int(payload or b"0"))

    def backlog(self) -> int:
        """Bytes not yet handed to the kernel (for flow control of attached clients)."""
        if self.writer is None:
            return sum(map(len, self._pending))
        return self.writer.transport.get_write_buffer_size()

    async def drain(self) -> None:
        """Until the monitor took what was sent; before it is connected, until it is."""
        await self._up.wait()
        if self.writer is not None and not self.writer.is_closing():
            try:
                await self.writer.drain()
            except ConnectionError:
                pass


def follow(subscribers: Subscribers, exit_file: str, sock: socket.socket,
           on_exit: ExitHandler, link: ShimLink) -> asyncio.Task[None]:
    """A task that pumps output frames to the subscribers until the watched process exits,
    then calls on_exit(code, finished_ns). Used for containers and for exec processes
    alike; `link` gets the connection for input and signals, at once: a signal asked for
    before the connection is up waits for it."""
    link._gone = False
    return asyncio.ensure_future(_follow(subscribers, exit_file, sock, on_exit, link))


async def _follow(subscribers: Subscribers, exit_file: str, sock: socket.socket,
                  on_exit: ExitHandler, link: ShimLink) -> None:
    code: int | None = None
    try:
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock)
        link.connected(writer)
        try:
            while True:
                header = await reader.readexactly(_HEADER.size)
                kind, size = _HEADER.unpack(header)
                payload = await reader.readexactly(size) if size else b""
                if kind in (FRAME_STDOUT, FRAME_STDERR):
                    for queue in list(subscribers):
                        queue.put_nowait((kind, payload))
                elif kind == FRAME_SIGNALED:
                    link._signaled(payload)
                elif kind == FRAME_EXIT:
                    code = int(payload or b"255")
                    break
        finally:
            writer.close()
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        pass
    finally:
        link.connected(None)
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
