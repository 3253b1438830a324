"""Where the API listens: unix sockets, and TCP in the clear or with TLS, as dockerd's -H,
--tls, --tlsverify, --tlscacert, --tlscert and --tlskey.

With --tlsverify a client must present a certificate signed by the CA (mutual TLS); with
--tls alone the daemon only encrypts. A TLS port also answers a plain HTTP request the way
Go's server does ("Client sent an HTTP request to an HTTPS server."), so a client that
forgot --tls is told so instead of seeing a broken handshake: each accepted connection's
first byte is peeked (a TLS handshake starts with 0x16) before the connection goes to the
TLS bridge (tlsbridge.py), which hands the plain bytes to aiohttp."""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import ssl
import stat

from aiohttp import web

from .config import TLSSettings
from .tlsbridge import TLSConnection

log = logging.getLogger("dockyardd")

_HANDSHAKE = 0x16
_PLAIN_ANSWER = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
_FIRST_BYTE_TIMEOUT = 30.0
_DRAIN_SECONDS = 0.5


def server_context(tls: TLSSettings) -> ssl.SSLContext:
    """The daemon's TLS context; dockerd's texts when a file cannot be used."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    cert, key = tls.cert or "", tls.key or ""
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        missing = next((p for p in (cert, key) if not os.path.exists(p)), None)
        reason = f"open {missing}: no such file or directory" if missing is not None \
            else str(exc)
        raise SystemExit(f'Could not load X509 key pair (cert: "{cert}", key: "{key}"): '
                         f"{reason}") from None
    if tls.verify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        if tls.ca:
            try:
                ctx.load_verify_locations(tls.ca)
            except (OSError, ssl.SSLError) as exc:
                reason = f"open {tls.ca}: no such file or directory" \
                    if not os.path.exists(tls.ca) else str(exc)
                raise SystemExit(f'could not read CA certificate "{tls.ca}": '
                                 f"{reason}") from None
        else:
            ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    return ctx


def tcp_address(host: str, tls: bool) -> tuple[str, int]:
    """tcp://[host][:port]: localhost and 2376 with TLS (else 2375) where left out."""
    address = host[len("tcp://"):].rstrip("/")
    name, colon, port = address.rpartition(":")
    if not colon or "]" in port:
        name, port = address, ""
    try:
        number = int(port) if port else (2376 if tls else 2375)
    except ValueError:
        raise SystemExit(f"invalid daemon host: {host}: invalid port") from None
    return name.strip("[]") or "127.0.0.1", number


def warn_if_exposed(host: str, address: str, tls: TLSSettings | None) -> None:
    """dockerd's warning for an API anyone on the network may reach without a client
    certificate (loopback is exempt)."""
    if tls is not None and tls.verify:
        return
    try:
        loopback = address == "localhost" or ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        log.warning("Binding to IP address without --tlsverify is insecure and gives root "
                    "access on this machine to everyone who has access to your network. "
                    "host=%s", host)


def unix_listener(path: str) -> socket.socket:
    os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o660)  # root and (later) the docker group only
    sock.listen(128)
    return sock


class TLSSite(web.BaseSite):
    """A TCP site whose connections are TLS, or a plain HTTP request answered with Go's 400."""

    def __init__(self, runner: web.BaseRunner, address: tuple[str, int],
                 context: ssl.SSLContext) -> None:
        super().__init__(runner)
        self._address = address
        self._context = context
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def name(self) -> str:
        host, port = self._address
        return f"https://{host}:{port}"

    async def start(self) -> None:
        await super().start()
        infos = socket.getaddrinfo(*self._address, type=socket.SOCK_STREAM)
        family, _, _, _, sockaddr = infos[0]
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(sockaddr)
        listener.listen(128)
        listener.setblocking(False)
        self._listener = listener
        self._accepting = asyncio.create_task(self._accept())

    async def stop(self) -> None:
        for task in (self._accepting, *self._pending):
            if task is not None:
                task.cancel()
        if self._listener is not None:
            self._listener.close()
        await super().stop()

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._listener is not None
        while True:
            conn, _ = await loop.sock_accept(self._listener)
            task = asyncio.create_task(self._hand_over(conn))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _hand_over(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            first = await asyncio.wait_for(_peek(loop, conn), _FIRST_BYTE_TIMEOUT)
            if first and first[0] == _HANDSHAKE:
                server = self._runner.server
                assert server is not None

                async def serve(plain: socket.socket) -> object:
                    return await loop.connect_accepted_socket(server, plain)

                await loop.connect_accepted_socket(
                    lambda: TLSConnection(self._context, serve), conn)
                return
            if first:
                await _answer_plain(loop, conn)
        except (OSError, asyncio.TimeoutError) as exc:   # a failed handshake: a bad client
            log.debug("TLS connection refused: %s", exc)
        conn.close()


async def _answer_plain(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
    """Go's answer to plain HTTP on a TLS port. The request is still unread: closing at
    once would reset the connection and the client would never see the answer, so the
    write side is closed first and the request drained for a moment."""
    await loop.sock_sendall(conn, _PLAIN_ANSWER)
    conn.shutdown(socket.SHUT_WR)
    try:
        async with asyncio.timeout(_DRAIN_SECONDS):
            while await loop.sock_recv(conn, 65536):
                pass
    except (TimeoutError, OSError):
        pass


async def _peek(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> bytes:
    """The connection's first byte, left in the socket for the TLS handshake to read."""
    conn.setblocking(False)
    while True:
        try:
            return conn.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            ready = loop.create_future()
            loop.add_reader(conn.fileno(), ready.set_result, None)
            try:
                await ready
            finally:
                loop.remove_reader(conn.fileno())
