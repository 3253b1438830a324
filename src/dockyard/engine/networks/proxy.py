"""The userland proxy: a listener on the host port that relays to the container, for what
DNAT can't serve (connections to 127.0.0.1, which never pass prerouting). In the daemon on
asyncio, as dockerd's docker-proxy is a process of its own: a restart reopens the listeners
for running containers. Holding the listener is also what reserves the host port."""
from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from typing import Any

from ...errors import DockyardError


class Proxies:
    def __init__(self) -> None:
        self._servers: dict[tuple[str, str, str, int], Any] = {}

    async def open(self, container_id: str, proto: str, host_ip: str, host_port: int,
                   target_ip: str, target_port: int) -> None:
        key = (container_id, proto, host_ip, host_port)
        if key in self._servers:
            return
        bind_ip = host_ip or "0.0.0.0"
        loop = asyncio.get_running_loop()
        try:
            if proto == "tcp":
                sock = listening_socket(socket.SOCK_STREAM, bind_ip, host_port)
                server: Any = await asyncio.start_server(
                    lambda r, w: _relay(r, w, target_ip, target_port), sock=sock)
            else:
                sock = listening_socket(socket.SOCK_DGRAM, bind_ip, host_port)
                server, _ = await loop.create_datagram_endpoint(
                    lambda: _UDPRelay(target_ip, target_port), sock=sock)
        except OSError as exc:
            raise DockyardError(f"Error starting userland proxy: "
                                f"{listen_text(proto, bind_ip, host_port)}: bind: "
                                f"{_text(exc)}") from None
        self._servers[key] = server

    def close(self, container_id: str) -> None:
        for key in [k for k in self._servers if k[0] == container_id]:
            self._servers.pop(key).close()

    def close_all(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()


def listen_text(proto: str, ip: str, port: int) -> str:
    """Go's words for a listen: "listen tcp4 0.0.0.0:80", "listen tcp6 [::1]:80"."""
    return f"listen {proto}6 [{ip}]:{port}" if ":" in ip else f"listen {proto}4 {ip}:{port}"


def listening_socket(kind: int, ip: str, port: int) -> socket.socket:
    """IPv6 sockets are v6-only, so [::] and 0.0.0.0 on one port are two listeners, as
    docker-proxy binds them."""
    sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, kind)
    try:
        if ":" in ip:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def port_free(proto: str, ip: str, port: int) -> bool:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    try:
        listening_socket(kind, ip or "0.0.0.0", port).close()
    except OSError:
        return False
    return True


def _text(exc: OSError) -> str:
    return "address already in use" if exc.errno == errno.EADDRINUSE else \
        (exc.strerror or str(exc)).lower()


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 target_ip: str, target_port: int) -> None:
    try:
        up_reader, up_writer = await asyncio.open_connection(target_ip, target_port)
    except OSError:
        writer.close()
        return

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            if dst.can_write_eof():
                dst.write_eof()
        except OSError:
            pass

    try:
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
    finally:
        for w in (writer, up_writer):
            with contextlib.suppress(OSError):
                w.close()


class _UDPRelay(asyncio.DatagramProtocol):
    """One upstream socket per client address, as docker-proxy keeps them."""

    def __init__(self, target_ip: str, target_port: int) -> None:
        self.target = (target_ip, target_port)
        self.transport: Any = None
        self.upstreams: dict[Any, Any] = {}

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        upstream = self.upstreams.get(addr)
        if upstream is None:
            asyncio.ensure_future(self._open(data, addr))
        else:
            upstream.sendto(data)

    async def _open(self, data: bytes, addr: Any) -> None:
        front = self.transport

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, reply: bytes, _: Any) -> None:
                front.sendto(reply, addr)

        upstream, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            Back, remote_addr=self.target)
        self.upstreams[addr] = upstream
        upstream.sendto(data)

    def connection_lost(self, exc: Exception | None) -> None:
        for upstream in self.upstreams.values():
            upstream.close()
