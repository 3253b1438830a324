"""A minimal rtnetlink client for the hot path of joining a container to a bridge.

Why not pyroute2 here: each of its requests costs ~0.3-0.8 ms of Python around a kernel call
of a few microseconds, and a join needs about ten. These few messages are encoded by hand
and sent as one batch (one sendmsg, the acks read back together), so the join costs what
the kernel spends. Everything else keeps using pyroute2 (plumbing.py).

The socket belongs to the network namespace of the thread that opened it: open it on a
thread inside a container's namespace (linux/netns.py) to configure that namespace."""
from __future__ import annotations

import ipaddress
import os
import socket
import struct

NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
NLMSG_ERROR = 2
RTM_NEWLINK, RTM_DELLINK, RTM_SETLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 17, 19, 20, 24
IFF_UP = 0x1
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER = 1, 3, 4, 10
IFLA_LINKINFO, IFLA_NET_NS_FD = 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
IFA_F_NODAD = 0x02
RTA_OIF, RTA_GATEWAY = 4, 5
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1

_HDR = struct.Struct("=IHHII")          # nlmsghdr
_IFINFO = struct.Struct("=BxHiII")      # ifinfomsg
_IFADDR = struct.Struct("=BBBBI")       # ifaddrmsg
_RTMSG = struct.Struct("=BBBBBBBBI")    # rtmsg


def attr(kind: int, payload: bytes) -> bytes:
    """One rtattr, padded to 4 bytes."""
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _ifinfo(index: int = 0, up: bool = False) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, IFF_UP if up else 0,
                        IFF_UP if up else 0)


def _name(name: str) -> bytes:
    return name.encode() + b"\0"


def _mac(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def veth(host_ifname: str, peer_ifname: str, mtu: int, master: int, peer_mac: str,
         peer_ns_fd: int) -> tuple[int, int, bytes]:
    """RTM_NEWLINK for a veth pair: the host end up on bridge `master`, the peer made
    directly inside the namespace `peer_ns_fd` with its name, MAC and MTU, down (the
    kernel refuses to open it before the pair is whole: ENOTCONN)."""
    peer = _ifinfo() + attr(IFLA_IFNAME, _name(peer_ifname)) + \
        attr(IFLA_MTU, struct.pack("=I", mtu)) + attr(IFLA_ADDRESS, _mac(peer_mac)) + \
        attr(IFLA_NET_NS_FD, struct.pack("=I", peer_ns_fd))
    info = attr(IFLA_INFO_KIND, b"veth") + attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer))
    body = _ifinfo(up=True) + attr(IFLA_IFNAME, _name(host_ifname)) + \
        attr(IFLA_MTU, struct.pack("=I", mtu)) + attr(IFLA_MASTER, struct.pack("=I", master)) + \
        attr(IFLA_LINKINFO, info)
    return RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body


def delete(ifname: str) -> tuple[int, int, bytes]:
    """RTM_DELLINK by name (a veth's peer goes with it)."""
    return RTM_DELLINK, 0, _ifinfo() + attr(IFLA_IFNAME, _name(ifname))


def link_up(index: int) -> tuple[int, int, bytes]:
    return RTM_SETLINK, 0, _ifinfo(index, up=True)


def address(index: int, addr: str, prefixlen: int, nodad: bool = False) -> tuple[int, int, bytes]:
    """RTM_NEWADDR; an IPv4 address gets its subnet's broadcast, as `ip addr add ... brd +`."""
    ip = ipaddress.ip_address(addr)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    body = _IFADDR.pack(family, prefixlen, IFA_F_NODAD if nodad else 0, RT_SCOPE_UNIVERSE,
                        index) + attr(IFA_LOCAL, ip.packed) + attr(IFA_ADDRESS, ip.packed)
    if ip.version == 4 and prefixlen < 31:
        net = ipaddress.IPv4Network(f"{addr}/{prefixlen}", strict=False)
        body += attr(IFA_BROADCAST, net.broadcast_address.packed)
    return RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body


def default_route(gateway: str, oif: int) -> tuple[int, int, bytes]:
    """RTM_NEWROUTE replacing the main table's default route with one via `gateway`."""
    ip = ipaddress.ip_address(gateway)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    body = _RTMSG.pack(family, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE,
                       RTN_UNICAST, 0) + attr(RTA_GATEWAY, ip.packed) + \
        attr(RTA_OIF, struct.pack("=I", oif))
    return RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, body


def batch(requests: list[tuple[int, int, bytes]]) -> None:
    """Send the requests in one message on a fresh socket of this thread's namespace and
    wait for every ack; the first failure raises OSError with its errno. The kernel handles
    them in order and goes on after a failure, so callers undo what a failed batch made."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                       socket.NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        data = b"".join(_HDR.pack(_HDR.size + len(body), kind,
                                  NLM_F_REQUEST | NLM_F_ACK | flags, seq, 0) + body
                        for seq, (kind, flags, body) in enumerate(requests, 1))
        sock.send(data)
        pending, failure = set(range(1, len(requests) + 1)), 0
        while pending:
            buf = sock.recv(65536)
            offset = 0
            while offset + _HDR.size <= len(buf):
                length, kind, _, seq, _ = _HDR.unpack_from(buf, offset)
                if kind == NLMSG_ERROR and seq in pending:
                    pending.discard(seq)
                    code = -struct.unpack_from("=i", buf, offset + _HDR.size)[0]
                    if code and not failure:
                        failure = code
                offset += (length + 3) & ~3 if length else len(buf)
        if failure:
            raise OSError(failure, os.strerror(failure))
