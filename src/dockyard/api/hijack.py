"""Hijacked connections (attach, exec start): answer with `101 UPGRADED` (or `200 OK` when
the client did not ask to upgrade), then write raw or multiplexed frames on the socket and
hand what the client sends to the process's stdin relay (engine/containers/stdin.py)."""
from __future__ import annotations

import asyncio
import fcntl
import socket
import struct
import termios
from typing import Any, Callable

from aiohttp import web

from ..engine.containers.stdin import StdinRelay

RAW = "application/vnd.docker.raw-stream"
MUX = "application/vnd.docker.multiplexed-stream"


def frame(kind: int, payload: bytes, tty: bool) -> bytes:
    return payload if tty else struct.pack(">B3xI", kind, len(payload)) + payload


class _HijackedProtocol(asyncio.Protocol):
    """Takes the connection over from aiohttp. A client without stdin half-closes its side
    (the docker CLI does): keep the transport open for output. Input goes to the relay, if
    the client attached stdin; otherwise it is dropped."""

    def __init__(self, original: Any, relay: StdinRelay | None,
                 on_lost: Callable[[], None] | None) -> None:
        self.original = original
        self.relay = relay
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None

    def data_received(self, data: bytes) -> None:
        if self.relay is not None:
            self.relay.feed(data, self.transport)

    def eof_received(self) -> bool:
        if self.relay is not None:
            self.relay.eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.relay is not None:
            self.relay.eof()
        if self.on_lost is not None:
            self.on_lost()
        if self.original is not None:  # lets aiohttp finish its own bookkeeping
            self.original.connection_lost(exc)


class Hijacked(web.HTTPException):
    """Ends a handler whose connection was taken over; nothing more is written."""
    status_code = 200


def take_over(request: web.Request, tty: bool, relay: StdinRelay | None = None,
              on_lost: Callable[[], None] | None = None) -> asyncio.Transport:
    """`on_lost`: called when the client goes away, to end the handler's relaying."""
    transport = request.transport
    assert transport is not None
    content_type = (RAW if tty else MUX).encode()
    if request.headers.get("Upgrade", "").lower() == "tcp":
        head = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: " + content_type +
                b"\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
    else:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\n\r\n"
    protocol = _HijackedProtocol(request.protocol, relay, on_lost)
    protocol.transport = transport  # type: ignore[assignment]
    transport.set_protocol(protocol)
    transport.write(head)
    return transport  # type: ignore[return-value]


async def until_read(transport: asyncio.Transport, timeout: float = 0.5) -> None:
    """Wait (briefly) until the client has read the upgrade headers. Clients such as
    docker-py read the stream from the raw socket after their HTTP parser is done, so
    stream bytes that parser buffered together with the headers would be lost. On a unix
    socket the kernel tells how much the peer has not read yet (SIOCOUTQ)."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family != socket.AF_UNIX:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline and not transport.is_closing():
        try:
            unread = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ,
                                                    b"\0" * 4))[0]
        except OSError:
            return
        if not unread and not transport.get_write_buffer_size():
            return
        await asyncio.sleep(0.001)


async def pump(transport: asyncio.Transport, queue: asyncio.Queue[tuple[int, bytes] | None],
               want: dict[int, bool], tty: bool) -> None:
    """Relay frames until the queue says the process ended."""
    while True:
        item = await queue.get()
        if item is None or transport.is_closing():
            return
        kind, data = item
        if want.get(kind):
            transport.write(frame(kind, data, tty))


async def finish(transport: asyncio.Transport) -> None:
    """Flush, half-close, close, and end the handler. The flush matters: aiohttp tears the
    transport down once the handler is gone, dropping whatever was still buffered."""
    for _ in range(3000):
        if transport.is_closing() or not transport.get_write_buffer_size():
            break
        await asyncio.sleep(0.01)
    if transport.can_write_eof():
        transport.write_eof()
    transport.close()
    raise Hijacked()
