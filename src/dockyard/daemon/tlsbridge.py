"""TLS for one API connection, bridged to aiohttp over a socket pair.

Why not asyncio's own TLS transport: it cannot half-close. The docker CLI ends stdin of an
attach or exec by closing its write side (over TLS, a close_notify alert) and then reads
the output until the daemon is done; asyncio's TLS transport takes the alert as the end of
the whole connection, so the output would be lost. Here the TLS records are handled with
an `ssl.SSLObject` on memory buffers, and the plain bytes travel over a socket pair to the
HTTP server, where a close_notify becomes an ordinary half-close (shutdown SHUT_WR) that
the hijacked-stream code already handles. Alerts (a refused client certificate, say) are
written to the client before the connection closes."""
from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Awaitable, Callable

log = logging.getLogger("dockyardd")

HANDSHAKE_TIMEOUT = 30.0
_READ = 1 << 16


class TLSConnection(asyncio.Protocol):
    """The client's side: TLS records in and out of `ssl.SSLObject`. Once the handshake is
    done, `serve` is given the plain end of a socket pair to hand to the HTTP server."""

    def __init__(self, context: ssl.SSLContext,
                 serve: Callable[[socket.socket], Awaitable[object]]) -> None:
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._serve = serve
        self._transport: asyncio.Transport | None = None
        self._plain: _PlainSide | None = None
        self._handshaken = False
        self._timer: asyncio.TimerHandle | None = None

    # --- the network side -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._timer = asyncio.get_running_loop().call_later(HANDSHAKE_TIMEOUT, transport.abort)

    def data_received(self, data: bytes) -> None:
        self._incoming.write(data)
        self._advance()

    def eof_received(self) -> bool:
        self._incoming.write_eof()      # a client that closed without close_notify
        self._advance()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._plain is not None:
            self._plain.close()

    def pause_writing(self) -> None:         # the client reads slowly: so does the server
        if self._plain is not None:
            self._plain.pause_reading()

    def resume_writing(self) -> None:
        if self._plain is not None:
            self._plain.resume_reading()

    def pause_reading(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None:
            self._transport.resume_reading()

    def _advance(self) -> None:
        if not self._handshaken and not self._handshake():
            return
        eof = False
        chunks = []
        while True:
            try:
                chunk = self._tls.read(_READ)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:      # close_notify: the client is done writing
                eof = True
                break
            except ssl.SSLError as exc:
                log.debug("TLS connection broken: %s", exc)
                self._close()
                return
            if not chunk:
                eof = True
                break
            chunks.append(chunk)
        self._flush()
        if self._plain is not None:
            if chunks:
                self._plain.write(b"".join(chunks))
            if eof:
                self._plain.write_eof()

    def _handshake(self) -> bool:
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return False
        except ssl.SSLError as exc:         # e.g. no client certificate: tell the client why
            log.debug("TLS handshake refused: %s", exc)
            self._close()
            return False
        self._handshaken = True
        if self._timer is not None:
            self._timer.cancel()
        self._flush()
        ours, theirs = socket.socketpair()
        self._plain = _PlainSide(self)
        loop = asyncio.get_running_loop()
        loop.create_task(self._connect(loop, ours, theirs))
        return True

    async def _connect(self, loop: asyncio.AbstractEventLoop, ours: socket.socket,
                       theirs: socket.socket) -> None:
        assert self._plain is not None
        plain = self._plain
        try:
            await loop.connect_accepted_socket(lambda: plain, ours)
            await self._serve(theirs)
        except OSError as exc:
            log.warning("TLS connection: cannot reach the API server: %s", exc)
            ours.close()
            theirs.close()
            self._close()

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _close(self) -> None:
        self._flush()                    # an alert, or our close_notify
        if self._transport is not None:
            self._transport.close()

    # --- called by the plain side -----------------------------------------------------------
    def send(self, data: bytes) -> None:
        try:
            self._tls.write(data)
        except ssl.SSLError as exc:
            log.debug("TLS write failed: %s", exc)
            self._close()
            return
        self._flush()

    def finish(self) -> None:
        """The server is done with the connection: close_notify, then close."""
        try:
            self._tls.unwrap()
        except ssl.SSLError:
            pass
        self._close()


class _PlainSide(asyncio.Protocol):
    """Our end of the socket pair: what the HTTP server writes goes out as TLS records."""

    def __init__(self, tls: TLSConnection) -> None:
        self._tls = tls
        self._transport: asyncio.Transport | None = None
        self._pending: list[bytes] = []
        self._eof_pending = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        for data in self._pending:
            transport.write(data)
        if self._eof_pending:
            transport.write_eof()

    def data_received(self, data: bytes) -> None:
        self._tls.send(data)

    def eof_received(self) -> bool:
        self._tls.finish()
        return False

    def pause_writing(self) -> None:         # the server reads slowly: so do we
        self._tls.pause_reading()

    def resume_writing(self) -> None:
        self._tls.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._tls.finish()

    def write(self, data: bytes) -> None:
        if self._transport is None:         # the socket pair is still being connected
            self._pending.append(data)
        elif not self._transport.is_closing():
            self._transport.write(data)

    def write_eof(self) -> None:
        if self._transport is None:
            self._eof_pending = True
        elif not self._transport.is_closing():
            self._transport.write_eof()

    def pause_reading(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None:
            self._transport.resume_reading()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
