"""Networking beyond test_networks.py: the join's records and plumbing kept consistent
(a failed plumbing leaves no record, a veth without a record goes at restart) and the
container inspect's NetworkSettings per API version. Traffic: none leaves the host; the
addresses are inside the bridges the tests make (10.231.6x.0/24)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request

from conftest import Daemon, inspect, new_daemon, wait_for
from rawapi import request


def _bridge_ports(bridge: str) -> set[str]:
    try:
        return set(os.listdir(f"/sys/class/net/{bridge}/brif"))
    except FileNotFoundError:
        return set()


def _eth0(daemon: Daemon, name: str) -> str:
    return daemon.ok("exec", name, "ip", "-o", "-4", "addr", "show", "eth0")


def test_join_plumbs_addresses_routes_and_links_up(module_daemon: Daemon) -> None:
    d = module_daemon
    d.ok("network", "create", "--subnet", "10.231.61.0/24", "--ipv6", "--subnet",
         "fd00:231:61::/64", "morenet")
    try:
        d.ok("run", "-d", "--name", "plumbed", "--network", "morenet", "busybox",
             "sleep", "60")
        line = _eth0(d, "plumbed")
        assert "inet 10.231.61.2/24 brd 10.231.61.255" in line
        routes = d.ok("exec", "plumbed", "ip", "route")
        assert "default via 10.231.61.1 dev eth0" in routes
        routes6 = d.ok("exec", "plumbed", "ip", "-6", "route")
        assert "default via fd00:231:61::1 dev eth0" in routes6
        assert "fd00:231:61::2/64" in d.ok("exec", "plumbed", "ip", "-6", "addr")
        assert "UP,LOWER_UP" in d.ok("exec", "plumbed", "ip", "link", "show", "eth0")
        assert ",UP" in d.ok("exec", "plumbed", "ip", "link", "show", "lo")
        settings = inspect(d, "plumbed")["NetworkSettings"]["Networks"]["morenet"]
        assert settings["MacAddress"] == "02:42:0a:e7:3d:02"
        assert settings["MacAddress"] in d.ok("exec", "plumbed", "cat",
                                              "/sys/class/net/eth0/address")
    finally:
        d.cli("rm", "-f", "plumbed")
        d.cli("network", "rm", "morenet")


def test_failed_plumbing_leaves_no_record_or_link(module_daemon: Daemon) -> None:
    """A multicast MAC passes the API's syntax check but the kernel refuses it: the start
    fails, and the endpoint's record and address are gone, so the next one gets it."""
    d = module_daemon
    d.ok("network", "create", "--subnet", "10.231.62.0/24", "failnet")
    bridge = "br-" + json.loads(d.ok("network", "inspect", "failnet"))[0]["Id"][:12]
    try:
        d.ok("create", "--name", "badmac", "--network", "failnet", "--mac-address",
             "01:00:5e:00:00:01", "busybox", "sleep", "60")
        result = d.cli("start", "badmac")
        assert result.returncode != 0
        assert "failed to set up container networking" in result.stderr
        net = json.loads(d.ok("network", "inspect", "failnet"))[0]
        assert net["Containers"] == {}
        assert _bridge_ports(bridge) == set()
        assert inspect(d, "badmac")["State"]["Running"] is False
        d.ok("run", "-d", "--name", "goodmac", "--network", "failnet", "busybox",
             "sleep", "60")
        assert "inet 10.231.62.2/24" in _eth0(d, "goodmac")
    finally:
        d.cli("rm", "-f", "badmac", "goodmac")
        d.cli("network", "rm", "failnet")


def test_restart_removes_veths_without_endpoint(module_daemon: Daemon) -> None:
    """A veth on the daemon's bridge with no endpoint record (a crash between plumbing and
    record) is deleted at restart; a running container's veth stays and still works."""
    d = module_daemon
    bridge = f"dyb{d.suffix}"
    stray, peer = f"dyst{d.suffix}"[:15], f"dysp{d.suffix}"[:15]
    d.ok("run", "-d", "--name", "kept", "busybox", "sleep", "120")
    try:
        kept_ports = _bridge_ports(bridge)
        assert len(kept_ports) == 1
        subprocess.run(["ip", "link", "add", stray, "type", "veth", "peer", "name", peer],
                       check=True)
        subprocess.run(["ip", "link", "set", stray, "master", bridge], check=True)
        assert _bridge_ports(bridge) == kept_ports | {stray}
        d.stop()
        d.start()
        assert _bridge_ports(bridge) == kept_ports
        assert not os.path.exists(f"/sys/class/net/{peer}")
        assert "inet " in _eth0(d, "kept")
    finally:
        for name in (stray, peer):
            if os.path.exists(f"/sys/class/net/{name}"):
                subprocess.run(["ip", "link", "del", name], capture_output=True)
        d.cli("rm", "-f", "kept")


def _inspect_at(daemon: Daemon, version: str, ref: str) -> dict:
    status, _, body = request(daemon, "GET", f"/v{version}/containers/{ref}/json")
    assert status == 200, body
    return json.loads(body)


def test_inspect_network_settings_per_api_version(module_daemon: Daemon) -> None:
    """Below 1.52 the bridge endpoint is repeated at the top of NetworkSettings (empty off
    the bridge and before a start); below 1.45 user-network Aliases also list the short ID
    and hostname; the record itself never changes with the version asked."""
    d = module_daemon
    d.ok("network", "create", "--subnet", "10.231.63.0/24", "viewnet")
    try:
        d.ok("create", "--name", "idle", "busybox", "sleep", "60")
        for version in ("1.43", "1.45"):
            ns = _inspect_at(d, version, "idle")["NetworkSettings"]
            assert ns["IPAddress"] == "" and ns["Gateway"] == "" and ns["IPPrefixLen"] == 0
            assert ns["HairpinMode"] is False and ns["SecondaryIPAddresses"] is None
        d.ok("start", "idle")
        on_bridge = d.ok("run", "-d", "--name", "onbridge", "busybox", "sleep", "60").strip()
        cid = d.ok("run", "-d", "--name", "onuser", "--network", "viewnet",
                   "--network-alias", "web", "busybox", "sleep", "60").strip()
        for version in ("1.43", "1.45"):
            ns = _inspect_at(d, version, on_bridge)["NetworkSettings"]
            bridge = ns["Networks"]["bridge"]
            assert bridge["IPAddress"].count(".") == 3
            for field in ("IPAddress", "Gateway", "IPPrefixLen", "MacAddress", "EndpointID"):
                assert ns[field] == bridge[field], field
            user = _inspect_at(d, version, "onuser")["NetworkSettings"]
            assert user["IPAddress"] == "" and user["EndpointID"] == ""
            assert user["Networks"]["viewnet"]["IPAddress"] == "10.231.63.2"
        old = _inspect_at(d, "1.43", "onuser")["NetworkSettings"]["Networks"]["viewnet"]
        assert old["Aliases"] == ["web", cid[:12]]
        new = _inspect_at(d, "1.45", "onuser")["NetworkSettings"]["Networks"]["viewnet"]
        assert new["Aliases"] == ["web"]
        assert set(new["DNSNames"]) >= {"onuser", "web", cid[:12]}
    finally:
        d.cli("rm", "-f", "idle", "onbridge", "onuser")
        d.cli("network", "rm", "viewnet")


def test_connect_running_default_bridge_container_switches_to_embedded_dns(
        module_daemon: Daemon) -> None:
    """A running container on the default bridge keeps the host's resolvers until it joins
    a user-defined network: then resolv.conf names 127.0.0.11 and names on that network
    resolve; its --link line stays in /etc/hosts beside the new address."""
    d = module_daemon
    d.ok("network", "create", "--subnet", "10.231.64.0/24", "dnsnet")
    try:
        d.ok("run", "-d", "--name", "target", "busybox", "sleep", "60")
        d.ok("run", "-d", "--name", "peer", "--network", "dnsnet", "busybox", "sleep", "60")
        d.ok("run", "-d", "--name", "legacy", "--link", "target:tgt", "busybox",
             "sleep", "60")
        assert "127.0.0.11" not in d.ok("exec", "legacy", "cat", "/etc/resolv.conf")
        d.ok("network", "connect", "dnsnet", "legacy")
        resolv = d.ok("exec", "legacy", "cat", "/etc/resolv.conf")
        assert "nameserver 127.0.0.11" in resolv
        hosts = d.ok("exec", "legacy", "cat", "/etc/hosts")
        assert "\ttgt " in hosts and "10.231.64.3" in hosts
        answer = d.ok("exec", "legacy", "nslookup", "peer")
        assert "10.231.64.2" in answer
    finally:
        d.cli("rm", "-f", "legacy", "peer", "target")
        d.cli("network", "rm", "dnsnet")


def test_link_on_user_network_is_a_dns_alias_for_the_linking_container(
        module_daemon: Daemon) -> None:
    """`--link db:database` on a user network: the linking container resolves `database`
    to db's address through the embedded DNS; another container on the network does not;
    no legacy variables are set; a malformed link is refused."""
    d = module_daemon
    d.ok("network", "create", "--subnet", "10.231.65.0/24", "linknet")
    try:
        d.ok("run", "-d", "--name", "db", "--network", "linknet", "busybox", "sleep", "60")
        d.ok("run", "-d", "--name", "app", "--network", "linknet", "--link", "db:database",
             "busybox", "sleep", "60")
        d.ok("run", "-d", "--name", "other", "--network", "linknet", "busybox",
             "sleep", "60")
        links = inspect(d, "app")["NetworkSettings"]["Networks"]["linknet"]["Links"]
        assert links == ["db:database"]
        assert "10.231.65.2" in d.ok("exec", "app", "nslookup", "database")
        assert "10.231.65.2" in d.ok("exec", "app", "nslookup", "db")
        assert d.cli("exec", "other", "nslookup", "database").returncode != 0
        assert "DATABASE_NAME" not in d.ok("exec", "app", "env")
        bad = d.cli("create", "--network", "linknet", "--link", ":x", "busybox")
        assert bad.returncode != 0 and "Invalid link format" in bad.stderr
    finally:
        d.cli("rm", "-f", "db", "app", "other")
        d.cli("network", "rm", "linknet")


def test_a_new_data_root_adopts_the_bridges_address(busybox_tar: str) -> None:
    """A daemon on a fresh data root whose bridge already exists with an address (another
    data root's, or set by hand) keeps that address, as dockerd keeps docker0's, instead of
    adding a second subnet to the bridge at every such start."""
    first = new_daemon(None)
    os.makedirs(first.base + "-second")
    second = Daemon(first.base + "-second")
    bridge = f"dyb{first.suffix}"
    try:
        subnet = json.loads(first.ok("network", "inspect", "bridge"))[0]["IPAM"]["Config"]
        first.stop()
        second.write_config({"bridge": bridge, "iptables": False})
        second.start()
        again = json.loads(second.ok("network", "inspect", "bridge"))[0]["IPAM"]["Config"]
        assert again == subnet
        out = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", bridge],
                             capture_output=True, text=True, check=True).stdout
        assert len(out.splitlines()) == 1, out
    finally:
        second.cleanup()
        first.cleanup()


def _nft6(daemon: Daemon) -> str:
    return subprocess.run(["nft", "list", "table", "ip6", f"dy_{daemon.suffix}"],
                          capture_output=True, text=True).stdout


def _listening(port: int) -> bool:
    """A TCP listener on this port, any address family (the proxy's)."""
    hexport = f":{port:04X} "
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            if any(hexport in line and line.split()[3] == "0A" for line in f.readlines()[1:]):
                return True
    return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def test_ipv6_host_bindings_proxy_dnat_listings_and_cleanup(module_daemon: Daemon) -> None:
    """-p [::1]:P:80 answered on http://[::1]:P/ through the proxy; -p P:80 on a container
    with an IPv6 address binds 0.0.0.0 and [::] and lists both, as docker does; the ip6
    DNAT rule and every listener go with the container."""
    d = module_daemon
    d.ok("network", "create", "--subnet", "10.231.63.0/24", "--ipv6", "--subnet",
         "fd00:231:63::/64", "six")
    loop_port, any_port, v4_port = _free_port(), _free_port(), 0
    try:
        d.ok("run", "-d", "--name", "web6", "--network", "six", "-p", f"[::1]:{loop_port}:80",
             "-p", f"{any_port}:80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
        wait_for(lambda: d.cli("exec", "web6", "sh", "-c", "cat /proc/net/tcp*| grep -qE "
                               "':0050 0+:0000 0A'").returncode == 0, what="httpd listening")
        with urllib.request.urlopen(f"http://[::1]:{loop_port}/hostname", timeout=10) as r:
            assert r.read().decode().strip() == inspect(d, "web6")["Config"]["Hostname"]
        ports = inspect(d, "web6")["NetworkSettings"]["Ports"]["80/tcp"]
        assert sorted((p["HostIp"], p["HostPort"]) for p in ports) == sorted(
            [("::1", str(loop_port)), ("0.0.0.0", str(any_port)), ("::", str(any_port))])
        ours, stock = d.ok("port", "web6"), d.docker("port", "web6")
        assert stock.returncode == 0, stock.stderr
        assert sorted(ours.splitlines()) == sorted(stock.stdout.splitlines())
        assert f"80/tcp -> [::1]:{loop_port}" in ours
        assert f"80/tcp -> [::]:{any_port}" in ours
        assert f"80/tcp -> 0.0.0.0:{any_port}" in ours
        ps = d.docker("ps", "--format", "{{.Ports}}", "--filter", "name=web6").stdout
        assert f"[::]:{any_port}->80/tcp" in ps and f"[::1]:{loop_port}->80/tcp" in ps
        assert ps.strip() == d.ok("ps", "--format", "{{.Ports}}", "--filter",
                                  "name=web6").strip()
        rules = _nft6(d)
        assert f"dnat to [fd00:231:63::2]:80" in rules and f"dport {any_port}" in rules
        assert _listening(loop_port) and _listening(any_port)
        gateway6 = f"http://[fd00:231:63::1]:{any_port}/hostname"   # a host address: DNAT
        with urllib.request.urlopen(gateway6, timeout=10) as r:
            assert r.read().decode().strip() == inspect(d, "web6")["Config"]["Hostname"]
        v4_port = _free_port()      # an IPv4-only container: the proxy relays v6 to v4
        d.ok("run", "-d", "--name", "web4", "-p", f"[::1]:{v4_port}:80", "busybox", "httpd",
             "-f", "-p", "80", "-h", "/etc")
        wait_for(lambda: d.cli("exec", "web4", "sh", "-c", "cat /proc/net/tcp*| grep -qE "
                               "':0050 0+:0000 0A'").returncode == 0, what="httpd listening")
        with urllib.request.urlopen(f"http://[::1]:{v4_port}/hostname", timeout=10) as r:
            assert r.read().decode().strip() == inspect(d, "web4")["Config"]["Hostname"]
        assert d.ok("port", "web4", "80") == f"[::1]:{v4_port}\n"
        bad = d.cli("run", "--rm", "-p", "[::zz]:1:80", "busybox", "true")
        assert bad.returncode == 125 and "invalid IP address: ::zz" in bad.stderr
    finally:
        d.cli("rm", "-f", "web6", "web4")
        d.cli("network", "rm", "six")
    assert "dnat to" not in _nft6(d)
    assert not any(_listening(p) for p in (loop_port, any_port, v4_port))


def test_ipv6_published_port_served_by_ip6_dnat_alone(busybox_tar: str) -> None:
    """With `userland-proxy: false` nothing listens on the host port: the answer on the
    host's IPv6 address proves the ip6 DNAT rule."""
    d = Daemon(__import__("tempfile").mkdtemp(prefix="dy-", dir="/tmp"))
    d.write_config({"userland-proxy": False})
    try:
        d.start()
        d.ok("import", "-c", 'CMD ["sh"]', busybox_tar, "busybox:latest")
        d.ok("network", "create", "--subnet", "10.231.64.0/24", "--ipv6", "--subnet",
             "fd00:231:64::/64", "six-nat")
        port = _free_port()
        d.ok("run", "-d", "--name", "nat6", "--network", "six-nat", "-p", f"{port}:80",
             "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
        wait_for(lambda: d.cli("exec", "nat6", "sh", "-c", "cat /proc/net/tcp*| grep -qE "
                               "':0050 0+:0000 0A'").returncode == 0, what="httpd listening")
        assert not _listening(port)
        with urllib.request.urlopen(f"http://[fd00:231:64::1]:{port}/hostname",
                                    timeout=10) as r:
            assert r.read().decode().strip() == inspect(d, "nat6")["Config"]["Hostname"]
        d.ok("rm", "-f", "nat6")
        assert "dnat to" not in _nft6(d)
    finally:
        d.cleanup()


def test_a_name_that_prefixes_several_ids_is_still_a_new_name(module_daemon: Daemon) -> None:
    """`network create b` while two networks' IDs start with "b": the name conflict check is
    by exact name (Docker's), not the ID-prefix lookup that calls "b" ambiguous."""
    d = module_daemon
    made: list[str] = []
    try:
        by_first: dict[str, int] = {}
        n = 0
        while max(by_first.values(), default=0) < 2:   # 17 networks at most (16 hex digits)
            d.ok("network", "create", "--subnet", f"10.231.200.{16 * n}/28", f"pfx{n}")
            made.append(f"pfx{n}")
            first = json.loads(d.ok("network", "inspect", f"pfx{n}"))[0]["Id"][0]
            by_first[first] = by_first.get(first, 0) + 1
            n += 1
        shared = next(c for c, count in by_first.items() if count >= 2)
        d.ok("network", "create", "--subnet", "10.231.201.0/28", shared)
        made.append(shared)
        assert json.loads(d.ok("network", "inspect", shared))[0]["Name"] == shared
    finally:
        for name in made:
            d.cli("network", "rm", name)
