"""linux/rtnl.py against the kernel: a batch made in a namespace this test creates does what
it says, and the kernel's refusals come back as OSError with its errno (plumbing relies on
EEXIST and ENODEV). Needs root."""
from __future__ import annotations

import errno
import ipaddress
import secrets
import socket
import subprocess
from typing import Iterator

import pytest
from pyroute2 import IPRoute

from dockyard.engine.networks import plumbing
from dockyard.linux import rtnl


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"dyrtnl{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    yield f"/run/netns/{name}"
    subprocess.run(["ip", "netns", "delete", name], check=True)


def _link(ipr: IPRoute) -> int:
    ipr.link("add", ifname="dy0", kind="bridge")   # (this kernel has no dummy)
    return ipr.link_lookup(ifname="dy0")[0]


def test_a_batch_configures_a_link_in_the_namespace(netns: str) -> None:
    def work() -> tuple[set[tuple[str, int]], list[str], int]:
        with IPRoute() as ipr:
            index = _link(ipr)
            rtnl.batch([rtnl.address(index, "10.234.1.2", 24),
                        rtnl.address(index, "fd00:234:1::2", 64, nodad=True),
                        rtnl.link_up(index), rtnl.link_up(socket.if_nametoindex("lo")),
                        rtnl.default_route("10.234.1.1", index)])
            addrs = {(a.get("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=index)}
            brd = [a.get("IFA_BROADCAST") for a in ipr.get_addr(index=index,
                                                                family=socket.AF_INET)]
            routes = [r.get("RTA_GATEWAY") for r in ipr.get_routes(family=socket.AF_INET)
                      if r["dst_len"] == 0 and r.get("RTA_TABLE") == 254]
            return addrs | {(b, 0) for b in brd}, routes, ipr.get_links(index)[0]["flags"]
    addrs, routes, flags = plumbing.in_netns(netns, work)
    assert {("10.234.1.2", 24), ("fd00:234:1::2", 64), ("10.234.1.255", 0)} <= addrs
    assert routes == ["10.234.1.1"] and flags & 1   # IFF_UP


def test_the_first_refusal_raises_with_its_errno_and_the_rest_still_run(netns: str) -> None:
    def work() -> tuple[int, int, list[str]]:
        with IPRoute() as ipr:
            index = _link(ipr)
            rtnl.batch([rtnl.address(index, "10.234.2.2", 24)])
            with pytest.raises(OSError) as again:
                rtnl.batch([rtnl.address(index, "10.234.2.2", 24),
                            rtnl.address(index, "10.234.2.3", 24)])
            with pytest.raises(OSError) as missing:
                rtnl.batch([rtnl.delete("dy-nowhere")])
            addrs = [a.get("IFA_ADDRESS") for a in ipr.get_addr(index=index,
                                                                family=socket.AF_INET)]
            return again.value.errno, missing.value.errno, addrs
    exists, nodev, addrs = plumbing.in_netns(netns, work)
    assert exists == errno.EEXIST and nodev == errno.ENODEV
    assert sorted(addrs, key=ipaddress.ip_address) == ["10.234.2.2", "10.234.2.3"]


def test_a_veth_peer_is_made_inside_the_namespace(netns: str) -> None:
    host = f"dyt{secrets.token_hex(4)}"
    with IPRoute() as ipr:
        ipr.link("add", ifname=host + "b", kind="bridge")
        try:
            master = ipr.link_lookup(ifname=host + "b")[0]
            with open(netns) as ns:
                rtnl.batch([rtnl.veth(host, "eth0", 1400, master, "02:42:0a:ea:03:02",
                                      ns.fileno())])
            link = ipr.get_links(ipr.link_lookup(ifname=host)[0])[0]
            assert link.get("IFLA_MASTER") == master and link.get("IFLA_MTU") == 1400

            def peer() -> tuple[str, int]:
                with IPRoute() as nsr:
                    found = nsr.get_links(nsr.link_lookup(ifname="eth0")[0])[0]
                    return found.get("IFLA_ADDRESS"), found.get("IFLA_MTU")
            assert plumbing.in_netns(netns, peer) == ("02:42:0a:ea:03:02", 1400)
            with pytest.raises(OSError) as twice:
                with open(netns) as ns:
                    rtnl.batch([rtnl.veth(host, "eth1", 1400, master, "02:42:0a:ea:03:03",
                                          ns.fileno())])
            assert twice.value.errno == errno.EEXIST
            plumbing.delete_link(host)
            assert not ipr.link_lookup(ifname=host)
        finally:
            plumbing.delete_link(host)
            plumbing.delete_link(host + "b")
