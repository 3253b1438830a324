"""Links, veth pairs, addresses and routes over netlink (pyroute2), on the host and inside a
container's network namespace. Blocking: callers run these in a thread (pyroute2's
synchronous API also refuses a thread whose event loop is running).

Why a netlink socket opened in a short-lived thread: a network namespace is per thread, so
the thread enters the container's namespace, opens the socket and ends; the socket stays
bound to that namespace and serves any thread, and the daemon's own threads never move."""
from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ...linux import rtnl

CLONE_NEWNET = 0x40000000
IFA_F_NODAD = 0x02        # no duplicate address detection: the address is usable at once
_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")


def in_netns(netns_path: str, work: Callable[[], T]) -> T:
    """Run `work` on a thread that entered the namespace at `netns_path`."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {netns_path}: {os.strerror(err)}")
            finally:
                os.close(fd)
            result["value"] = work()
        except BaseException as exc:  # handed back to the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=run, name="netns")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def netns_route(netns_path: str, before: Callable[[], None] | None = None) -> IPRoute:
    """An IPRoute whose socket lives in the namespace at `netns_path`; `before` runs in the
    namespace first (sysctls), on the same short thread."""
    def work() -> int:
        if before is not None:
            before()
        return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 0).detach()
    return IPRoute(fileno=in_netns(netns_path, work))


def used_subnets() -> list[ipaddress.IPv4Network]:
    """Subnets the host already routes or has addresses in (any daemon's bridges, docker0)."""
    used = []
    with IPRoute() as ipr:
        for route in ipr.get_routes(family=socket.AF_INET):
            dst, length = route.get("RTA_DST"), route["dst_len"]
            if dst and length and route.get("RTA_TABLE") != 255:  # not the local table
                used.append(ipaddress.IPv4Network(f"{dst}/{length}", strict=False))
        for addr in ipr.get_addr(family=socket.AF_INET):
            address = addr.get("IFA_ADDRESS")
            if address and not address.startswith("127."):
                used.append(ipaddress.IPv4Network(f"{address}/{addr['prefixlen']}",
                                                  strict=False))
    return used


def bridge_address(name: str) -> ipaddress.IPv4Interface | None:
    """The first IPv4 address of an existing link `name`, else None: a new data root
    adopts the default bridge's address as dockerd adopts docker0's, instead of adding a
    second subnet to a bridge that has one."""
    with IPRoute() as ipr:
        index = link_index(ipr, name)
        if index is None:
            return None
        for addr in ipr.get_addr(family=socket.AF_INET, index=index):
            return ipaddress.IPv4Interface(f"{addr.get('IFA_ADDRESS')}/{addr['prefixlen']}")
    return None


def link_index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def ensure_bridge(name: str, gateway: str, prefixlen: int, mtu: int, gateway6: str = "",
                  prefixlen6: int = 0) -> None:
    """The bridge up with the gateway addresses (created when missing; kept as it is when a
    restart finds it). IPv6 only on networks that have it."""
    with IPRoute() as ipr:
        index = link_index(ipr, name)
        if index is None:
            try:
                ipr.link("add", ifname=name, kind="bridge", mtu=mtu)
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:
                    raise
            index = link_index(ipr, name)
        have = {(a.get("IFA_ADDRESS"), a["prefixlen"])
                for a in ipr.get_addr(index=index, family=socket.AF_INET)}
        if gateway and (gateway, prefixlen) not in have:
            ipr.addr("add", index=index, address=gateway, prefixlen=prefixlen)
        _write_sysctl(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "0" if gateway6 else "1")
        if gateway6:
            have6 = {a.get("IFA_ADDRESS") for a in ipr.get_addr(index=index,
                                                                family=socket.AF_INET6)}
            if gateway6 not in have6:
                ipr.addr("add", index=index, address=gateway6, prefixlen=prefixlen6,
                         flags=IFA_F_NODAD)
        ipr.link("set", index=index, state="up")


def delete_link(name: str) -> None:
    """Delete the link if it exists (one netlink request: this runs at every exit)."""
    try:
        rtnl.batch([rtnl.delete(name)])
    except OSError as exc:
        if exc.errno != errno.ENODEV:
            raise


def links_with_prefix(prefix: str) -> list[str]:
    with IPRoute() as ipr:
        return [l.get("IFLA_IFNAME") for l in ipr.get_links()
                if (l.get("IFLA_IFNAME") or "").startswith(prefix)]


def attach(netns_path: str, bridge: str, host_ifname: str, ifname: str, address: str,
           prefixlen: int, gateway: str, mac: str, mtu: int, default_route: bool,
           hairpin: bool = False, address6: str = "", prefixlen6: int = 0,
           gateway6: str = "") -> None:
    """A veth pair: `host_ifname` up on the bridge, its peer made inside the namespace as
    `ifname` with its MAC and MTU (made there, not moved: a move waits for an RCU grace
    period, ~20 ms); then, from a thread in the namespace, the sysctls and one netlink
    batch: its addresses, links up and (for the first network) the default routes."""
    ns_fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        rtnl.batch([rtnl.veth(host_ifname, ifname, mtu, socket.if_nametoindex(bridge), mac,
                              ns_fd)])
    finally:
        os.close(ns_fd)

    def configure() -> None:
        _container_sysctls(ifname, bool(address6))
        index = socket.if_nametoindex(ifname)
        requests = [rtnl.address(index, address, prefixlen)]
        if address6:
            requests.append(rtnl.address(index, address6, prefixlen6, nodad=True))
        requests += [rtnl.link_up(index), rtnl.link_up(socket.if_nametoindex("lo"))]
        if default_route and gateway:
            requests.append(rtnl.default_route(gateway, index))
        if default_route and gateway6:
            requests.append(rtnl.default_route(gateway6, index))
        rtnl.batch(requests)

    try:
        if hairpin:   # DNAT back to the port a packet came in on (no proxy)
            with open(f"/sys/class/net/{host_ifname}/brport/hairpin_mode", "w") as f:
                f.write("1")
        in_netns(netns_path, configure)
    except BaseException:
        delete_link(host_ifname)
        raise


_SUB_MODES = {"macvlan": {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8},
              "ipvlan": {"l2": 0, "l3": 1, "l3s": 2}}


def attach_sub(netns_path: str, kind: str, parent: str, mode: str, ifname: str,
               address: str, prefixlen: int, gateway: str, mac: str, mtu: int,
               default_route: bool) -> None:
    """A macvlan or ipvlan link on `parent`, made inside the container's namespace."""
    ns_fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with IPRoute() as ipr:
            extra: dict[str, Any] = {f"{kind}_mode": _SUB_MODES[kind][
                mode or ("bridge" if kind == "macvlan" else "l2")]}
            if kind == "macvlan":
                extra["address"] = mac
            ipr.link("add", ifname=f"dys{secrets.token_hex(5)}"[:15], kind=kind,
                     link=link_index(ipr, parent), net_ns_fd=ns_fd, **extra)
    finally:
        os.close(ns_fd)
    with netns_route(netns_path, lambda: _container_sysctls(ifname)) as nsr:
        # made under a temporary name: the host may have its own eth0
        index = next(l["index"] for l in nsr.get_links()
                     if (l.get("IFLA_IFNAME") or "").startswith("dys"))
        nsr.link("set", index=index, ifname=ifname, mtu=mtu)
        nsr.addr("add", index=index, address=address, prefixlen=prefixlen)
        nsr.link("set", index=index, state="up")
        lo = link_index(nsr, "lo")
        if lo is not None:
            nsr.link("set", index=lo, state="up")
        if default_route and gateway:
            nsr.route("replace", dst="0.0.0.0/0", gateway=gateway, oif=index)


def detach(host_ifname: str) -> None:
    """Delete the host end; the kernel removes its peer in the container with it."""
    if host_ifname:
        delete_link(host_ifname)


def remove_unknown_ports(bridge: str, known: set[str]) -> list[str]:
    """Delete the links on `bridge` not in `known` (veths a crash left without a record);
    returns their names. The bridge is this daemon's, so everything on it is ours."""
    try:
        ports = os.listdir(f"/sys/class/net/{bridge}/brif")
    except OSError:
        return []
    unknown = [p for p in ports if p not in known]
    for name in unknown:
        delete_link(name)
    return unknown


def free_ifname(netns_path: str) -> str:
    """The next ethN name not used in the namespace."""
    with netns_route(netns_path) as nsr:
        names = {l.get("IFLA_IFNAME") for l in nsr.get_links()}
    n = 0
    while f"eth{n}" in names:
        n += 1
    return f"eth{n}"


def _container_sysctls(ifname: str, ipv6: bool = False) -> None:
    """What Docker sets inside a container's namespace (unprivileged ping and low ports, no
    IPv6 without an IPv6 network). Written on the thread that entered the namespace."""
    _write_sysctl("/proc/sys/net/ipv4/ping_group_range", "0 2147483647")
    _write_sysctl("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0")
    _write_sysctl(f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6", "0" if ipv6 else "1")


def _write_sysctl(path: str, value: str) -> None:
    # /proc/sys/net shows the namespace of the thread that opens the file
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError:
        pass  # a kernel without the knob (e.g. no IPv6) is fine


def set_host_sysctl(path: str, value: str) -> None:
    _write_sysctl(path, value)
