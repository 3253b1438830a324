"""The embedded DNS server containers on user-defined networks reach at 127.0.0.11.

The daemon serves it itself: for each attached container it opens a UDP and a TCP socket
inside the container's network namespace (linux/netns.py) bound straight to 127.0.0.11:53
and serves them on its event loop. Unlike Docker, which listens on random ports and has
iptables redirect port 53 to them, no firewall rule is involved (the daemon is root and
127.0.0.0/8 is local on the namespace's lo); the price is that a process in the container
cannot also listen on TCP port 53 of every address (0.0.0.0:53).

Answers: A and AAAA from `lookup(name) -> addresses`, PTR from `reverse(address) -> name`,
MX of a known name as an empty success (Docker's "implicit MX"); everything else, and names
the container's networks do not know, is forwarded to the upstreams, in order: queries to a
`host_loopback` upstream leave from the daemon's namespace, the others from the
container's, as in Docker. Upstreams that fail, refuse or time out are skipped; SERVFAIL
when none answers or there are none (internal networks).
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import struct
from dataclasses import dataclass, field
from typing import Callable

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.reversename

from ...linux import netns
from .etc_files import INTERNAL_NAMESERVER, ExtServer

log = logging.getLogger(__name__)

PORT = 53
TTL = 600                   # Docker's TTL for the names it answers itself
FORWARD_TIMEOUT = 4.0       # per upstream and exchange, as Docker's extIOTimeout
MAX_UPSTREAMS = 3           # glibc's MAXNS, which Docker also keeps to
MAX_FORWARDS = 1024         # concurrent forwarded queries per container, as Docker
TCP_IDLE_TIMEOUT = 8.0

Lookup = Callable[[str], list[str]]
Reverse = Callable[[str], "str | None"]


@dataclass(eq=False)
class _Attachment:
    container_id: str
    ns_fd: int
    lookup: Lookup
    reverse: Reverse
    upstreams: list[ExtServer]
    udp: asyncio.DatagramTransport | None = None
    tcp: asyncio.base_events.Server | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    forwards: int = 0

    def spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


class Resolver:
    """The daemon's embedded resolver: one listener pair per attached container."""

    def __init__(self, address: str = INTERNAL_NAMESERVER, port: int = PORT) -> None:
        self.address = address
        self.port = port
        self._attached: dict[str, _Attachment] = {}

    def attached(self) -> set[str]:
        return set(self._attached)

    async def attach(self, container_id: str, netns_path: str, lookup: Lookup,
                     reverse: Reverse, upstreams: list[ExtServer]) -> None:
        """Serve 127.0.0.11:53 inside the namespace at `netns_path` (/proc/<pid>/ns/net).
        Attaching an attached container replaces its listeners; after a daemon restart
        the old daemon's sockets died with it, so the same call serves again. Raises
        OSError when the namespace is gone or the port is taken there."""
        await self.detach(container_id)
        ns_fd = netns.open_ns(netns_path)
        att = _Attachment(container_id, ns_fd, lookup, reverse,
                          list(upstreams)[:MAX_UPSTREAMS])
        try:
            udp_sock, tcp_sock = await asyncio.to_thread(netns.run_in, ns_fd,
                                                         self._listeners)
        except BaseException:
            _close(att)
            raise
        try:
            loop = asyncio.get_running_loop()
            att.udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self, att),
                                                             sock=udp_sock)
            att.tcp = await asyncio.start_server(
                lambda r, w: self._serve_tcp(att, r, w), sock=tcp_sock)
        except BaseException:
            _close(att)
            udp_sock.close()
            tcp_sock.close()
            raise
        self._attached[container_id] = att

    async def detach(self, container_id: str) -> None:
        """Stop serving the container (it stopped or left its last user network). Until
        then the listeners and the held namespace fd keep its namespace alive."""
        att = self._attached.pop(container_id, None)
        if att is None:
            return
        _close(att)
        for task in list(att.tasks):
            task.cancel()
        if att.tcp is not None:
            await att.tcp.wait_closed()

    async def close(self) -> None:
        """Daemon shutdown: every listener closed (containers keep running)."""
        for container_id in list(self._attached):
            await self.detach(container_id)

    def _listeners(self) -> tuple[socket.socket, socket.socket]:
        """Runs inside the container's namespace (netns.run_in)."""
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            for sock in (udp, tcp):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self.address, self.port))
                sock.setblocking(False)
            tcp.listen(128)
        except BaseException:
            udp.close()
            tcp.close()
            raise
        return udp, tcp

    # --- serving ------------------------------------------------------------------------
    async def _serve_tcp(self, att: _Attachment, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            att.tasks.add(task)
            task.add_done_callback(att.tasks.discard)
        try:
            while True:
                size, = struct.unpack("!H", await asyncio.wait_for(
                    reader.readexactly(2), TCP_IDLE_TIMEOUT))
                wire = await asyncio.wait_for(reader.readexactly(size), TCP_IDLE_TIMEOUT)
                reply = await self.respond(att, wire, tcp=True)
                if reply is None:
                    continue
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def respond(self, att: _Attachment, wire: bytes, tcp: bool) -> bytes | None:
        """The reply to one query, or None for what gets no reply (responses, queries
        without a question, garbage shorter than a header)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return _format_error(wire)
        if query.flags & dns.flags.QR or (query.opcode() == dns.opcode.QUERY
                                          and not query.question):
            return None
        if query.opcode() != dns.opcode.QUERY:
            return _status(query, dns.rcode.NOTIMP)
        try:
            reply = answer(query, att.lookup, att.reverse)
        except Exception:  # noqa: BLE001 - a broken table must not kill the server
            log.exception("dns: lookup failed for %s", att.container_id[:12])
            return _status(query, dns.rcode.SERVFAIL)
        if reply is None:
            forwarded = await self._forward(att, wire, tcp)
            return forwarded if forwarded is not None else \
                _status(query, dns.rcode.SERVFAIL)
        limit = 65535 if tcp else max(512, query.payload if query.edns >= 0 else 512)
        try:
            return reply.to_wire(max_size=limit, prefer_truncation=not tcp)
        except dns.exception.TooBig:   # TCP only: more than 64 KiB of answers
            return _status(query, dns.rcode.SERVFAIL)

    async def _forward(self, att: _Attachment, wire: bytes, tcp: bool) -> bytes | None:
        if att.forwards >= MAX_FORWARDS:
            log.warning("dns: more than %d concurrent queries from %s", MAX_FORWARDS,
                        att.container_id[:12])
            return None
        att.forwards += 1
        try:
            for upstream in att.upstreams:
                try:
                    raw = await asyncio.wait_for(self._exchange(att, upstream, wire, tcp),
                                                 FORWARD_TIMEOUT)
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                    log.debug("dns: upstream %s: %s", upstream, exc)
                    continue
                if raw[3] & 0x0F in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                    return raw
            return None
        finally:
            att.forwards -= 1

    async def _exchange(self, att: _Attachment, upstream: ExtServer, wire: bytes,
                        tcp: bool) -> bytes:
        """One query to one upstream over the client's protocol, from the namespace that
        upstream belongs to; the reply must carry the query's ID."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ipaddress.ip_address(
            upstream.address.partition("%")[0]).version == 6 else socket.AF_INET
        kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
        if upstream.host_loopback:
            sock = socket.socket(family, kind)
        else:
            sock = await asyncio.to_thread(netns.run_in, att.ns_fd,
                                           lambda: socket.socket(family, kind))
        with sock:
            sock.setblocking(False)
            await loop.sock_connect(sock, (upstream.address, upstream.port))
            if tcp:
                await loop.sock_sendall(sock, struct.pack("!H", len(wire)) + wire)
                size, = struct.unpack("!H", await _recv_exactly(loop, sock, 2))
                raw = await _recv_exactly(loop, sock, size)
                if raw[:2] != wire[:2] or len(raw) < 12:
                    raise OSError("reply does not match the query")
                return raw
            await loop.sock_sendall(sock, wire)
            while True:   # a connected socket only gets the upstream's datagrams
                raw = await loop.sock_recv(sock, 65535)
                if len(raw) >= 12 and raw[:2] == wire[:2] and raw[2] & 0x80:
                    return raw


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver, att: _Attachment) -> None:
        self.resolver = resolver
        self.att = att
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.att.spawn(self._reply(data, addr))

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = await self.resolver.respond(self.att, data, tcp=False)
        except Exception:  # noqa: BLE001 - one bad query must not stop the others
            log.exception("dns: query from %s failed", self.att.container_id[:12])
            return
        if reply is not None and self.transport is not None \
                and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


def answer(query: dns.message.Message, lookup: Lookup, reverse: Reverse
           ) -> dns.message.Message | None:
    """The embedded server's own answer, or None when the query is to be forwarded."""
    question = query.question[0]
    if question.rdclass != dns.rdataclass.IN:
        return None
    name = question.name.to_text(omit_final_dot=True)
    qtype = question.rdtype
    if qtype in (dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.MX):
        addresses = lookup(name)
        if not addresses:
            return None
        reply = _reply(query)
        version = {dns.rdatatype.A: 4, dns.rdatatype.AAAA: 6}.get(qtype)
        matching = [a for a in addresses if ipaddress.ip_address(a).version == version]
        if matching:   # a known name without an address of that family: empty success
            rrset = reply.find_rrset(reply.answer, question.name, dns.rdataclass.IN, qtype,
                                     create=True)
            for address in matching:
                rrset.add(dns.rdata.from_text(dns.rdataclass.IN, qtype, address), TTL)
        return reply
    if qtype == dns.rdatatype.PTR:
        try:
            address = dns.reversename.to_address(question.name)
        except (dns.exception.SyntaxError, ValueError):
            return None
        target = reverse(address)
        if not target:
            return None
        reply = _reply(query)
        rrset = reply.find_rrset(reply.answer, question.name, dns.rdataclass.IN,
                                 dns.rdatatype.PTR, create=True)
        rrset.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.PTR,
                                      target.rstrip(".") + "."), TTL)
        return reply
    return None


def _reply(query: dns.message.Message) -> dns.message.Message:
    """A reply with recursion available and no EDNS, as Docker's createRespMsg."""
    reply = dns.message.make_response(query, recursion_available=True)
    reply.use_edns(False)
    return reply


def _status(query: dns.message.Message, rcode: dns.rcode.Rcode) -> bytes:
    reply = _reply(query)
    reply.set_rcode(rcode)
    return reply.to_wire()


def _format_error(wire: bytes) -> bytes | None:
    """FORMERR for a message whose header parses but whose body does not."""
    if len(wire) < 12 or wire[2] & 0x80:
        return None
    flags = 0x8000 | (wire[2] & 0x79) << 8 | 0x80 | dns.rcode.FORMERR
    return wire[:2] + struct.pack("!HHHHH", flags, 0, 0, 0, 0)


async def _recv_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket,
                        size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = await loop.sock_recv(sock, size - len(data))
        if not chunk:
            raise asyncio.IncompleteReadError(data, size)
        data += chunk
    return data


def _close(att: _Attachment) -> None:
    if att.udp is not None:
        att.udp.close()
    if att.tcp is not None:
        att.tcp.close()
    try:
        os.close(att.ns_fd)
    except OSError:
        pass
