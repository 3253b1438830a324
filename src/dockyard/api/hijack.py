"""Hijacked connections (attach, exec start): answer with `101 UPGRADED` (or `200 OK` when
the client did not ask to upgrade), then write raw or multiplexed frames on the socket."""
from __future__ import annotations

import asyncio
import struct
from typing import Any

from aiohttp import web

RAW = "application/vnd.docker.raw-stream"
MUX = "application/vnd.docker.multiplexed-stream"


def frame(kind: int, payload: bytes, tty: bool) -> bytes:
    return payload if tty else struct.pack(">B3xI", kind, len(payload)) + payload


class _HijackedProtocol(asyncio.Protocol):
    """Takes the connection over from aiohttp. A client without stdin half-closes its side
    (the docker CLI does): keep the transport open for output. Client input is dropped for
    now; stdin for attached processes comes with the interactive-containers work."""

    def __init__(self, original: Any) -> None:
        self.original = original

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.original is not None:  # lets aiohttp finish its own bookkeeping
            self.original.connection_lost(exc)


class Hijacked(web.HTTPException):
    """Ends a handler whose connection was taken over; nothing more is written."""
    status_code = 200


def take_over(request: web.Request, tty: bool) -> asyncio.Transport:
    transport = request.transport
    assert transport is not None
    content_type = (RAW if tty else MUX).encode()
    if request.headers.get("Upgrade", "").lower() == "tcp":
        head = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: " + content_type +
                b"\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
    else:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\n\r\n"
    transport.set_protocol(_HijackedProtocol(request.protocol))
    transport.write(head)
    return transport  # type: ignore[return-value]


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
