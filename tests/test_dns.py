"""The embedded resolver (engine/networks/dns.py) serving 127.0.0.11:53 inside network
namespaces the tests make (and a real container's), queried from inside them with dnspython
and busybox nslookup; forwarding goes only to fake upstreams the tests run, inside the
namespace or on the host's loopback. No bridge needed: the names come from a fake table."""
from __future__ import annotations

import asyncio
import os
import secrets
import selectors
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Callable, Iterator

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rrset
import pytest

from conftest import ROOT, Daemon, inspect, wait_for
from dockyard.engine.networks.dns import Resolver
from dockyard.engine.networks.dnsnames import NameTable
from dockyard.engine.networks.etc_files import ExtServer
from dockyard.linux import netns

NAMES = {"web": ["10.9.0.2", "fd00::2"], "db": ["10.9.0.3"],
         "many": [f"10.8.{i // 250}.{i % 250 + 1}" for i in range(120)]}
REVERSE = {"10.9.0.2": "web.front"}


def lookup(name: str) -> list[str]:
    return list(NAMES.get(name, []))


def reverse(address: str) -> str | None:
    return REVERSE.get(address)


# --- the namespace, a loop of the test's own, fake upstreams -------------------------------
class Namespace:
    """A network namespace made by the test (ip netns), lo up; removed afterwards."""

    def __init__(self) -> None:
        self.name = f"dy-dns-{secrets.token_hex(4)}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.path = f"/run/netns/{self.name}"
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
        self.fd = netns.open_ns(self.path)

    def run(self, job: Callable[[], Any]) -> Any:
        return netns.run_in(self.fd, job)

    def query(self, name: str, kind: str = "A", tcp: bool = False,
              server: str = "127.0.0.11") -> dns.message.Message:
        q = dns.message.make_query(name, kind)
        send = dns.query.tcp if tcp else dns.query.udp
        return self.run(lambda: send(q, server, timeout=5))

    def close(self) -> None:
        os.close(self.fd)
        subprocess.run(["ip", "netns", "del", self.name], check=True)


class Loop:
    """An asyncio loop on a thread, as the daemon's: the resolver lives on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Upstream:
    """A fake DNS server (UDP and TCP) on `address:port`, in a namespace (`inside` runs a
    job there) or in the host's: answers A from `answers`, else `rcode`; records the names
    it was asked."""

    def __init__(self, address: str, port: int,
                 inside: Callable[[Callable[[], Any]], Any] | None = None,
                 answers: dict[str, str] | None = None,
                 rcode: dns.rcode.Rcode = dns.rcode.NXDOMAIN) -> None:
        self.answers, self.rcode, self.asked = answers or {}, rcode, []
        make = (lambda: self._sockets(address, port))
        self.udp, self.tcp = inside(make) if inside else make()
        self.port = self.udp.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @staticmethod
    def _sockets(address: str, port: int) -> tuple[socket.socket, socket.socket]:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((address, port))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((address, udp.getsockname()[1]))
        tcp.listen(8)
        return udp, tcp

    def _reply(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        name = query.question[0].name.to_text(omit_final_dot=True)
        self.asked.append(name)
        reply = dns.message.make_response(query)
        if name in self.answers:
            reply.answer.append(dns.rrset.from_text(name + ".", 30, "IN", "A",
                                                    self.answers[name]))
        else:
            reply.set_rcode(self.rcode)
        return reply.to_wire()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self.udp, selectors.EVENT_READ)
            sel.register(self.tcp, selectors.EVENT_READ)
            while not self.stopping:
                for key, _ in sel.select(0.1):
                    if key.fileobj is self.udp:
                        wire, peer = self.udp.recvfrom(65535)
                        self.udp.sendto(self._reply(wire), peer)
                    else:
                        conn, _ = self.tcp.accept()
                        with conn:
                            size, = struct.unpack("!H", conn.recv(2))
                            wire = b""
                            while len(wire) < size:
                                wire += conn.recv(size - len(wire))
                            reply = self._reply(wire)
                            conn.sendall(struct.pack("!H", len(reply)) + reply)

    def close(self) -> None:
        self.stopping = True
        self.thread.join(5)
        self.udp.close()
        self.tcp.close()


@pytest.fixture
def ns() -> Iterator[Namespace]:
    space = Namespace()
    try:
        yield space
    finally:
        space.close()


@pytest.fixture
def loop() -> Iterator[Loop]:
    runner = Loop()
    try:
        yield runner
    finally:
        runner.close()


@pytest.fixture
def resolver(loop: Loop) -> Iterator[Resolver]:
    r = Resolver()
    try:
        yield r
    finally:
        loop.run(r.close())


def _addresses(reply: dns.message.Message) -> list[str]:
    return sorted(item.to_text() for rrset in reply.answer for item in rrset)


# --- answers of its own --------------------------------------------------------------------
def test_answers_names_over_udp_and_tcp(ns: Namespace, loop: Loop, resolver: Resolver) -> None:
    loop.run(resolver.attach("c1", ns.path, lookup, reverse, []))
    for tcp in (False, True):
        a = ns.query("web", "A", tcp=tcp)
        assert a.rcode() == dns.rcode.NOERROR and _addresses(a) == ["10.9.0.2"]
        assert a.answer[0].ttl == 600 and a.flags & dns.flags.RA
        assert _addresses(ns.query("web.", "AAAA", tcp=tcp)) == ["fd00::2"]
        nodata = ns.query("db", "AAAA", tcp=tcp)
        assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
        ptr = ns.query("2.0.9.10.in-addr.arpa", "PTR", tcp=tcp)
        assert _addresses(ptr) == ["web.front."]
        mx = ns.query("db", "MX", tcp=tcp)
        assert mx.rcode() == dns.rcode.NOERROR and not mx.answer
    assert resolver.attached() == {"c1"}


def test_unknown_name_without_upstreams_is_servfail(ns: Namespace, loop: Loop,
                                                    resolver: Resolver) -> None:
    loop.run(resolver.attach("c1", ns.path, lookup, reverse, []))
    assert ns.query("nothing.example").rcode() == dns.rcode.SERVFAIL
    assert ns.query("9.9.9.10.in-addr.arpa", "PTR").rcode() == dns.rcode.SERVFAIL


def test_large_answer_truncated_over_udp_whole_over_tcp(ns: Namespace, loop: Loop,
                                                        resolver: Resolver) -> None:
    loop.run(resolver.attach("c1", ns.path, lookup, reverse, []))
    udp = ns.query("many")
    assert udp.flags & dns.flags.TC and len(_addresses(udp)) < 120
    assert len(_addresses(ns.query("many", tcp=True))) == 120


def test_garbage_gets_formerr_or_nothing_and_the_server_lives(ns: Namespace, loop: Loop,
                                                              resolver: Resolver) -> None:
    loop.run(resolver.attach("c1", ns.path, lookup, reverse, []))

    def exchange(payload: bytes) -> bytes | None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            s.sendto(payload, ("127.0.0.11", 53))
            try:
                return s.recv(512)
            except socket.timeout:
                return None

    assert ns.run(lambda: exchange(b"\x01")) is None              # shorter than a header
    bad = ns.run(lambda: exchange(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff"))
    assert bad is not None and bad[:2] == b"\x12\x34" and bad[3] & 0x0F == dns.rcode.FORMERR
    assert _addresses(ns.query("db")) == ["10.9.0.3"]


# --- forwarding ----------------------------------------------------------------------------
def test_forwards_from_the_containers_namespace(ns: Namespace, loop: Loop,
                                                resolver: Resolver) -> None:
    upstream = Upstream("127.0.0.1", 53, inside=ns.run, answers={"ext.example": "192.0.2.7"})
    try:
        loop.run(resolver.attach("c1", ns.path, lookup, reverse, [ExtServer("127.0.0.1")]))
        for tcp in (False, True):
            reply = ns.query("ext.example", tcp=tcp)
            assert reply.rcode() == dns.rcode.NOERROR and _addresses(reply) == ["192.0.2.7"]
        assert upstream.asked == ["ext.example", "ext.example"]
        assert ns.query("missing.example").rcode() == dns.rcode.NXDOMAIN
        assert ns.query("web").answer and "web" not in upstream.asked   # never forwarded
    finally:
        upstream.close()


def test_forwards_host_loopback_servers_from_the_daemons_namespace(
        ns: Namespace, loop: Loop, resolver: Resolver) -> None:
    upstream = Upstream("127.0.0.1", 0, answers={"host.example": "192.0.2.8"})
    try:
        server = ExtServer("127.0.0.1", host_loopback=True, port=upstream.port)
        loop.run(resolver.attach("c1", ns.path, lookup, reverse, [server]))
        assert _addresses(ns.query("host.example")) == ["192.0.2.8"]
        assert _addresses(ns.query("host.example", tcp=True)) == ["192.0.2.8"]
    finally:
        upstream.close()


def test_failing_upstreams_are_skipped_in_order(ns: Namespace, loop: Loop,
                                                resolver: Resolver) -> None:
    refusing = Upstream("127.0.0.2", 53, inside=ns.run, rcode=dns.rcode.REFUSED)
    failing = Upstream("127.0.0.3", 53, inside=ns.run, rcode=dns.rcode.SERVFAIL)
    good = Upstream("127.0.0.4", 53, inside=ns.run, answers={"x.example": "192.0.2.9"})
    try:
        servers = [ExtServer("127.0.0.5"),          # nothing listens: refused at once
                   ExtServer("127.0.0.2"), ExtServer("127.0.0.3"), ExtServer("127.0.0.4")]
        loop.run(resolver.attach("c1", ns.path, lookup, reverse, servers))
        start = time.monotonic()
        reply = ns.query("x.example")
        # Only the first three upstreams count (glibc's MAXNS, as Docker): SERVFAIL.
        assert reply.rcode() == dns.rcode.SERVFAIL and time.monotonic() - start < 3
        assert refusing.asked == ["x.example"] and failing.asked == ["x.example"]
        assert good.asked == []
        loop.run(resolver.attach("c1", ns.path, lookup, reverse, servers[1:]))
        assert _addresses(ns.query("x.example")) == ["192.0.2.9"]
    finally:
        for upstream in (refusing, failing, good):
            upstream.close()


# --- lifecycle -----------------------------------------------------------------------------
def _refused(ns: Namespace) -> bool:
    def probe() -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.connect(("127.0.0.11", 53))
            s.send(dns.message.make_query("web", "A").to_wire())
            try:
                s.recv(512)
            except ConnectionRefusedError:
                return True
            return False
    return ns.run(probe)


def _listening(ns: Namespace) -> str:
    """The namespace's sockets on 127.0.0.11:53, as ss lists them."""
    out = subprocess.run(["ip", "netns", "exec", ns.name, "ss", "-Hanut",
                          "src", "127.0.0.11"], capture_output=True, text=True, check=True)
    return out.stdout


def _holds(ns: Namespace) -> bool:
    """Whether this process holds an fd on the namespace besides the test's own."""
    target = os.stat(ns.path)
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            st = os.stat(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        held.append((st.st_dev, st.st_ino) == (target.st_dev, target.st_ino)
                    and int(fd) != ns.fd)
    return any(held)


def test_detach_closes_everything_and_reattach_serves(ns: Namespace, loop: Loop,
                                                      resolver: Resolver) -> None:
    loop.run(resolver.attach("c1", ns.path, lookup, reverse, []))
    loop.run(resolver.attach("c1", ns.path, lookup, reverse, []))     # replaces, no EADDRINUSE
    assert _addresses(ns.query("db", tcp=True)) == ["10.9.0.3"]
    assert _listening(ns).count("127.0.0.11:53") == 2 and _holds(ns)     # udp + tcp
    loop.run(resolver.detach("c1"))
    assert _refused(ns) and resolver.attached() == set()
    assert _listening(ns) == ""
    assert not _holds(ns)
    loop.run(resolver.detach("c1"))                                    # twice is fine
    loop.run(resolver.attach("c1", ns.path, lookup, reverse, []))
    assert _addresses(ns.query("db")) == ["10.9.0.3"]


def test_attach_again_after_the_daemon_was_killed(ns: Namespace, loop: Loop,
                                                  resolver: Resolver) -> None:
    """A daemon killed with SIGKILL takes its sockets along: the next daemon's attach for
    the same running container serves again."""
    script = textwrap.dedent(f"""
        import asyncio, sys
        from dockyard.engine.networks.dns import Resolver
        async def main():
            await Resolver().attach("c1", {ns.path!r}, lambda n: ["10.1.1.1"],
                                    lambda a: None, [])
            print("ready", flush=True)
            await asyncio.sleep(3600)
        asyncio.run(main())
    """)
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    old = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    try:
        assert old.stdout is not None and old.stdout.readline() == b"ready\n"
        assert _addresses(ns.query("anything")) == ["10.1.1.1"]
    finally:
        old.send_signal(signal.SIGKILL)
        old.wait()
    loop.run(resolver.attach("c1", ns.path, lookup, reverse, []))
    assert _addresses(ns.query("db")) == ["10.9.0.3"]
    assert _addresses(ns.query("db", tcp=True)) == ["10.9.0.3"]


def test_attach_to_a_missing_namespace_raises(loop: Loop, resolver: Resolver) -> None:
    with pytest.raises(OSError):
        loop.run(resolver.attach("c1", "/proc/0/ns/net", lookup, reverse, []))
    assert resolver.attached() == set()


# --- in a real container -------------------------------------------------------------------
def test_busybox_nslookup_in_a_container(daemon: Daemon, loop: Loop,
                                         resolver: Resolver) -> None:
    """A container's own namespace; names scoped per network through the name table."""
    cid = daemon.ok("run", "-d", "busybox", "sleep", "300").strip()
    upstream: Upstream | None = None
    try:
        pid = inspect(daemon, cid)["State"]["Pid"]
        path = f"/proc/{pid}/ns/net"
        table = NameTable()
        table.add("front", cid, "/me", ["me"], ["10.5.0.2"])
        table.add("front", "other", "/api", ["api", "api-alias"], ["10.5.0.3"])
        table.add("back", "stranger", "/hidden", ["hidden"], ["10.6.0.9"])
        ns_fd = netns.open_ns(path)
        try:
            upstream = Upstream("127.0.0.1", 53, inside=lambda job: netns.run_in(ns_fd, job),
                                answers={"ext.example": "192.0.2.1"})
        finally:
            os.close(ns_fd)
        name_lookup, name_reverse = table.resolvers_for(cid)
        loop.run(resolver.attach(cid, path, name_lookup, name_reverse,
                                 [ExtServer("127.0.0.1")]))

        def nslookup(*args: str) -> Any:
            return daemon.cli("exec", cid, "nslookup", *args, "127.0.0.11")

        out = nslookup("api-alias")
        assert out.returncode == 0 and "Address: 10.5.0.3" in out.stdout, out
        out = nslookup("api.front")
        assert out.returncode == 0 and "Address: 10.5.0.3" in out.stdout, out
        assert "10.6.0.9" not in nslookup("hidden").stdout          # another network's
        out = nslookup("10.5.0.3")
        assert "api.front" in out.stdout, out
        out = nslookup("ext.example")
        assert "192.0.2.1" in out.stdout and "ext.example" in upstream.asked, out
    finally:
        if upstream is not None:
            upstream.close()
        loop.run(resolver.close())
        daemon.cli("rm", "-f", cid)
        wait_for(lambda: cid not in daemon.container_ids(), what="container removed")


def test_the_engines_resolver_closes_with_the_engine(ns: Namespace, loop: Loop,
                                                     tmp_path: Any) -> None:
    from dockyard.daemon.config import DaemonConfig

    engine = loop.run(_started_engine(DaemonConfig(data_root=str(tmp_path / "root"),
                                                   hosts=[], dns=["10.0.0.9"])))
    assert engine.containers.dns_settings.servers == ("10.0.0.9",)
    loop.run(engine.dns_resolver.attach("c1", ns.path, lookup, reverse, []))
    assert _addresses(ns.query("db")) == ["10.9.0.3"]
    loop.run(engine.stop())
    assert _refused(ns) and engine.dns_resolver.attached() == set()


async def _started_engine(config: Any) -> Any:
    from dockyard.daemon.engine import Engine
    engine = Engine(config)
    await engine.start()
    return engine
