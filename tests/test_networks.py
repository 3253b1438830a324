"""Networking against real daemons: bridge networks on real Linux bridges and veth pairs,
published ports through nftables DNAT and the userland proxy, isolation, connect and
disconnect while running, live restore, and nothing left behind. Traffic goes only to
loopback and to addresses inside the bridges the tests make (10.231.x.0/24)."""
from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import time
import urllib.request
from typing import Any, Iterator

import pytest

from conftest import Daemon, inspect, new_daemon, wait_for


def _nft(daemon: Daemon) -> str:
    out = subprocess.run(["nft", "list", "table", "ip", f"dy_{daemon.suffix}"],
                         capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else ""


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def _get(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def nets(module_daemon: Daemon) -> Iterator[list[str]]:
    """Networks the test creates; removed (with their containers) afterwards."""
    made: list[str] = []
    yield made
    for cid in module_daemon.container_ids():
        module_daemon.cli("rm", "-f", cid)
    for name in made:
        module_daemon.cli("network", "rm", name)


def _httpd(daemon: Daemon, name: str, *flags: str) -> str:
    """A busybox web server answering its hostname file on port 80, once it listens."""
    cid = daemon.ok("run", "-d", "--name", name, *flags, "busybox", "httpd", "-f", "-p", "80",
                    "-h", "/etc").strip()
    wait_for(lambda: daemon.cli("exec", name, "sh", "-c", "cat /proc/net/tcp*| grep -qE "
                                "':0050 0+:0000 0A'").returncode == 0,
             what=f"{name} listening")
    return cid


def test_network_commands_flags_filters_and_errors(module_daemon: Daemon, nets: list[str]) -> None:
    d = module_daemon
    ls = d.ok("network", "ls")
    assert ls.splitlines()[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert {line.split()[1] for line in ls.splitlines()[1:]} >= {"bridge", "host", "none"}
    nid = d.ok("network", "create", "--subnet", "10.231.1.0/24", "--gateway", "10.231.1.254",
               "--ip-range", "10.231.1.128/25", "--aux-address", "reserved=10.231.1.129",
               "--label", "team=a", "netone").strip()
    nets.append("netone")
    info = json.loads(d.ok("network", "inspect", "netone"))[0]
    assert info["Id"] == nid and info["Driver"] == "bridge" and info["Scope"] == "local"
    assert info["IPAM"]["Config"] == [{"Subnet": "10.231.1.0/24", "Gateway": "10.231.1.254",
                                       "IPRange": "10.231.1.128/25",
                                       "AuxiliaryAddresses": {"reserved": "10.231.1.129"}}]
    assert info["Labels"] == {"team": "a"} and info["Containers"] == {}
    # the bridge carries the gateway
    addrs = subprocess.run(["ip", "-o", "-4", "addr", "show", f"br-{nid[:12]}"],
                           capture_output=True, text=True).stdout
    assert "10.231.1.254/24" in addrs
    again = d.cli("network", "create", "netone")
    assert again.returncode == 1
    assert "network with name netone already exists" in again.stderr
    overlap = d.cli("network", "create", "--subnet", "10.231.1.0/25", "nettwo")
    assert overlap.returncode == 1 and "overlaps" in overlap.stderr
    assert d.ok("network", "ls", "-q", "--filter", "label=team=a", "--no-trunc").split() == \
        [nid]
    assert d.ok("network", "ls", "--filter", "type=custom", "--format",
                "{{.Name}} {{.Driver}}").split("\n")[0] == "netone bridge"
    assert "netone" not in d.ok("network", "ls", "--filter", "type=builtin")
    assert d.ok("network", "inspect", "-f", "{{.Name}}", nid[:10]).strip() == "netone"
    missing = d.cli("network", "rm", "nosuchnet")
    assert missing.returncode == 1
    assert "network nosuchnet not found" in missing.stderr
    builtin = d.cli("network", "rm", "bridge")
    assert "bridge is a pre-defined network and cannot be removed" in builtin.stderr
    # a container outside the ip range is refused; inside, it gets the first free address
    bad = d.cli("run", "--rm", "--network", "netone", "--ip", "10.231.9.9", "busybox", "true")
    assert bad.returncode == 125 and "10.231.9.9" in bad.stderr
    assert d.ok("run", "--rm", "--network", "netone", "busybox", "sh", "-c",
                "ip -4 -o addr show eth0").split()[3] == "10.231.1.128/24"
    # active endpoints keep the network; prune removes only unused ones
    d.ok("run", "-d", "--name", "holder", "--network", "netone", "busybox", "sleep", "300")
    busy = d.cli("network", "rm", "netone")
    assert busy.returncode == 1
    assert (f"error while removing network: network netone id {nid} has active endpoints"
            in busy.stderr)
    d.ok("network", "create", "--subnet", "10.231.2.0/24", "unused")
    pruned = d.ok("network", "prune", "-f")
    assert "Deleted Networks:\nunused\n" in pruned and "netone" not in pruned
    d.ok("network", "create", "--subnet", "10.231.2.0/24", "unused2")
    pruned = d.ok("system", "prune", "-f")
    assert "Deleted Networks:\nunused2\n" in pruned and "netone" not in pruned
    d.ok("rm", "-f", "holder")
    assert d.ok("network", "rm", "netone").strip() == "netone"
    nets.remove("netone")
    assert f"br-{nid[:12]}" not in _links()
    events = d.ok("events", "--since", "0", "--until", str(int(time.time()) + 1),
                  "--filter", "type=network",
                  "--format", "{{.Action}} {{.Actor.Attributes.name}}")
    for action in ("create netone", "connect netone", "disconnect netone",
                   "destroy netone", "destroy unused", "destroy unused2"):
        assert action in events, events


def test_containers_on_a_user_bridge_reach_each_other(module_daemon: Daemon,
                                                      nets: list[str]) -> None:
    d = module_daemon
    d.ok("network", "create", "--subnet", "10.231.3.0/24", "talk")
    nets.append("talk")
    _httpd(d, "server", "--network", "talk", "--network-alias", "web")
    info = inspect(d, "server")
    endpoint = info["NetworkSettings"]["Networks"]["talk"]
    assert endpoint["IPAddress"] == "10.231.3.2" and endpoint["IPPrefixLen"] == 24
    assert endpoint["Gateway"] == "10.231.3.1"
    assert endpoint["MacAddress"] == "02:42:0a:e7:03:02"   # Docker's scheme: 02:42 + IPv4
    assert endpoint["Aliases"] == ["web"] and "web" in endpoint["DNSNames"]
    out = d.ok("run", "--rm", "--network", "talk", "--mac-address", "02:11:22:33:44:55",
               "busybox", "sh", "-c", "ip -o link show eth0; ip route; "
               "wget -qO- http://10.231.3.2/hostname")
    assert "02:11:22:33:44:55" in out and "mtu 1500" in out
    assert "default via 10.231.3.1 dev eth0" in out
    assert out.strip().endswith(info["Config"]["Hostname"])
    # by name and by alias through the embedded DNS (the user network has it)
    for name in ("server", "web", "server.talk"):
        assert d.ok("run", "--rm", "--network", "talk", "busybox", "sh", "-c",
                    f"timeout 3 wget -qO- http://{name}/hostname; exit $?").strip() == \
            info["Config"]["Hostname"], name
    resolv = d.ok("run", "--rm", "--network", "talk", "busybox", "cat", "/etc/resolv.conf")
    assert "nameserver 127.0.0.11" in resolv
    hosts = d.ok("run", "--rm", "--network", "talk", "busybox", "cat", "/etc/hosts")
    assert "10.231.3.3\t" in hosts   # the container's own address, as Docker writes it
    members = json.loads(d.ok("network", "inspect", "talk"))[0]["Containers"]
    assert [m["Name"] for m in members.values()] == ["server"]
    assert members[info["Id"]]["IPv4Address"] == "10.231.3.2/24"
    # the default bridge: an address of the daemon's own bridge
    default = d.ok("run", "--rm", "busybox", "ip", "-4", "-o", "addr", "show", "eth0")
    bridge = json.loads(d.ok("network", "inspect", "bridge"))[0]
    assert bridge["Options"]["com.docker.network.bridge.name"] == f"dyb{d.suffix}"
    subnet = bridge["IPAM"]["Config"][0]["Subnet"]   # a /16 or, pools taken, a /20
    assert ipaddress.ip_interface(default.split()[3]).ip in ipaddress.ip_network(subnet)
    d.ok("rm", "-f", "server")


def test_published_ports_answer_on_loopback(module_daemon: Daemon, nets: list[str]) -> None:
    d = module_daemon
    d.ok("network", "create", "--subnet", "10.231.4.0/24", "pub")
    nets.append("pub")
    port = _free_port()
    cid = _httpd(d, "published", "--network", "pub", "-p", f"127.0.0.1:{port}:80",
                 "-p", "80", "-p", "81", "--expose", "82")
    assert _get(f"http://127.0.0.1:{port}/hostname").strip() == cid[:12]
    ports = inspect(d, "published")["NetworkSettings"]["Ports"]
    assert ports["80/tcp"][0] == {"HostIp": "127.0.0.1", "HostPort": str(port)}
    assert ports["80/tcp"][1]["HostIp"] == "0.0.0.0"
    ephemeral = int(ports["81/tcp"][0]["HostPort"])
    assert ports["82/tcp"] is None
    assert d.ok("port", "published", "80").split()[0] == f"127.0.0.1:{port}"
    row = next(line for line in d.ok("ps").splitlines() if "published" in line)
    assert f"127.0.0.1:{port}->80/tcp" in row and f"0.0.0.0:{ephemeral}->81/tcp" in row
    assert "82/tcp" in row
    # through the host side of the mapping, from a container on another network
    gateway = json.loads(d.ok("network", "inspect", "bridge"))[0]["IPAM"]["Config"][0][
        "Gateway"]
    wide = int(ports["80/tcp"][1]["HostPort"])
    assert d.ok("run", "--rm", "busybox", "sh", "-c",
                f"timeout 3 wget -qO- http://{gateway}:{wide}/hostname; exit $?"
                ).strip() == cid[:12]
    for flt in ("publish=80", "publish=81/tcp", "expose=82", "network=pub"):
        assert d.ok("ps", "-q", "--filter", flt).split() == [cid[:12]], flt
    for flt in ("publish=82", "publish=80/udp", "network=bridge"):
        assert d.ok("ps", "-q", "--filter", flt).split() == [], flt
    rules = _nft(d)
    assert f"tcp dport {port} dnat to 10.231.4.2:80" in rules
    assert f"tcp dport {ephemeral} dnat to 10.231.4.2:81" in rules
    # the same host port again: Docker's error, and nothing of the second container runs
    taken = d.cli("run", "-d", "--name", "second", "--network", "pub", "-p",
                  f"127.0.0.1:{port}:80", "busybox", "sleep", "300")
    assert taken.returncode == 125
    assert f"Bind for 127.0.0.1:{port} failed: port is already allocated" in taken.stderr
    assert not inspect(d, "second")["State"]["Running"]
    # a port some other process holds: the proxy's error
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        busy = holder.getsockname()[1]
        result = d.cli("run", "-d", "--name", "third", "-p", f"127.0.0.1:{busy}:80",
                       "busybox", "sleep", "300")
    assert result.returncode == 125 and "address already in use" in result.stderr
    d.ok("rm", "-f", "published", "second", "third")
    assert f"dport {port}" not in _nft(d)
    with pytest.raises(OSError):
        _get(f"http://127.0.0.1:{port}/hostname", timeout=2)


def test_networks_are_isolated_from_each_other(module_daemon: Daemon, nets: list[str]) -> None:
    d = module_daemon
    for n, name in ((5, "left"), (6, "right")):
        d.ok("network", "create", "--subnet", f"10.231.{n}.0/24", name)
        nets.append(name)
    _httpd(d, "lefty", "--network", "left")
    reach = d.cli("run", "--rm", "--network", "right", "busybox", "sh", "-c",
                "timeout 3 wget -qO- http://10.231.5.2/hostname; exit $?")
    assert reach.returncode != 0
    # the same container reaches it once connected to `left` as well
    assert d.ok("run", "--rm", "--network", "left", "busybox", "sh", "-c",
                "timeout 3 wget -qO- http://10.231.5.2/hostname; exit $?").strip()
    d.ok("rm", "-f", "lefty")


def test_internal_network_and_icc_off(module_daemon: Daemon, nets: list[str]) -> None:
    d = module_daemon
    d.ok("network", "create", "--internal", "--subnet", "10.231.7.0/24", "inside")
    d.ok("network", "create", "--subnet", "10.231.8.0/24", "-o",
         "com.docker.network.bridge.enable_icc=false", "noicc")
    nets += ["inside", "noicc"]
    routes = d.ok("run", "--rm", "--network", "inside", "busybox", "ip", "route")
    assert "default" not in routes and "10.231.7.0/24" in routes
    _httpd(d, "quiet", "--network", "noicc")
    blocked = d.cli("run", "--rm", "--network", "noicc", "busybox", "sh", "-c",
                "timeout 3 wget -qO- http://10.231.8.2/hostname; exit $?")
    assert blocked.returncode != 0
    assert d.ok("run", "--rm", "--network", "noicc", "busybox", "ping", "-c", "1", "-W", "2",
                "10.231.8.1").count("1 packets received") == 1
    d.ok("rm", "-f", "quiet")


def test_connect_and_disconnect_a_running_container(module_daemon: Daemon,
                                                     nets: list[str]) -> None:
    d = module_daemon
    d.ok("network", "create", "--subnet", "10.231.9.0/24", "first")
    d.ok("network", "create", "--subnet", "10.231.10.0/24", "second")
    nets += ["first", "second"]
    _httpd(d, "target", "--network", "second")
    d.ok("run", "-d", "--name", "roamer", "--network", "first", "busybox", "sleep", "300")
    d.ok("network", "connect", "--ip", "10.231.10.77", "--alias", "rover", "second", "roamer")
    again = d.cli("network", "connect", "second", "roamer")
    assert "endpoint with name roamer already exists in network second" in again.stderr
    out = d.ok("exec", "roamer", "sh", "-c", "ip -4 -o addr show eth1; "
               "timeout 3 wget -qO- http://10.231.10.2/hostname; exit $?")
    assert "10.231.10.77/24" in out and out.strip().endswith(
        inspect(d, "target")["Config"]["Hostname"])
    info = inspect(d, "roamer")
    assert set(info["NetworkSettings"]["Networks"]) == {"first", "second"}
    assert info["NetworkSettings"]["Networks"]["second"]["Aliases"] == ["rover"]
    d.ok("network", "disconnect", "second", "roamer")
    gone = d.cli("exec", "roamer", "ip", "link", "show", "eth1")
    assert gone.returncode != 0
    assert set(inspect(d, "roamer")["NetworkSettings"]["Networks"]) == {"first"}
    missing = d.cli("network", "disconnect", "second", "roamer")
    assert "is not connected to network second" in missing.stderr
    # a stopped container is connected in its record and joins at its start
    d.ok("create", "--name", "later", "--network", "first", "busybox", "ip", "-4", "-o", "addr")
    d.ok("network", "connect", "second", "later")
    out = d.ok("start", "-a", "later")
    assert "eth0" in out and "eth1" in out and "10.231.10." in out
    d.ok("rm", "-f", "target", "roamer", "later")


def test_docker_py_networks(module_daemon: Daemon, nets: list[str]) -> None:
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=module_daemon.host, version="1.45", timeout=60)
    try:
        ipam = docker.types.IPAMConfig(pool_configs=[
            docker.types.IPAMPool(subnet="10.231.11.0/24", gateway="10.231.11.1")])
        net = client.networks.create("pynet", driver="bridge", ipam=ipam,
                                     labels={"k": "v"})
        nets.append("pynet")
        assert client.networks.get(net.id).name == "pynet"
        assert [n.name for n in client.networks.list(names=["pynet"])] == ["pynet"]
        container = client.containers.run("busybox", ["sleep", "300"], detach=True,
                                          network="pynet")
        net.reload()
        assert [c.id for c in net.containers] == [container.id]
        net.disconnect(container)
        net.connect(container, ipv4_address="10.231.11.99")
        container.reload()
        assert container.attrs["NetworkSettings"]["Networks"]["pynet"]["IPAddress"] == \
            "10.231.11.99"
        with pytest.raises(docker.errors.NotFound):
            client.networks.get("nosuchnet")
        container.remove(force=True)
        served = client.containers.run(
            "busybox", ["httpd", "-f", "-p", "80", "-h", "/etc"], detach=True,
            ports={"80/tcp": ("127.0.0.1", None)}, mac_address="02:aa:bb:cc:dd:ee",
            network="pynet")
        served.reload()
        host = served.ports["80/tcp"][0]
        assert host["HostIp"] == "127.0.0.1" and int(host["HostPort"]) > 0
        assert served.attrs["NetworkSettings"]["Networks"]["pynet"]["MacAddress"] == \
            "02:aa:bb:cc:dd:ee"
        wait_for(lambda: _answer(f"http://127.0.0.1:{host['HostPort']}/hostname") ==
                 served.id[:12])
        served.remove(force=True)
        net.remove()
        nets.remove("pynet")
    finally:
        client.close()


def test_restart_keeps_networking_and_stop_leaves_nothing(busybox_tar: str) -> None:
    d = new_daemon(busybox_tar)
    try:
        d.ok("network", "create", "--subnet", "10.231.12.0/24", "kept")
        port = _free_port()
        cid = _httpd(d, "survivor", "--network", "kept", "-p", f"127.0.0.1:{port}:80")
        assert _get(f"http://127.0.0.1:{port}/hostname").strip() == cid[:12]
        veths_before = _links()
        d.stop()
        d.start()
        assert inspect(d, "survivor")["State"]["Running"]
        wait_for(lambda: _get(f"http://127.0.0.1:{port}/hostname").strip() == cid[:12])
        assert d.ok("run", "--rm", "--network", "kept", "busybox", "sh", "-c",
                "timeout 3 wget -qO- http://10.231.12.2/hostname; exit $?").strip() == cid[:12]
        # the embedded DNS serves the running container's name again
        assert d.ok("run", "--rm", "--network", "kept", "busybox", "sh", "-c",
                    "timeout 3 wget -qO- http://survivor/hostname; exit $?").strip() == cid[:12]
        members = json.loads(d.ok("network", "inspect", "kept"))[0]["Containers"]
        assert list(members) == [cid]
        assert f"dnat to 10.231.12.2:80" in _nft(d)
        bridge = "br-" + json.loads(d.ok("network", "inspect", "kept"))[0]["Id"][:12]
        ports = set(os.listdir(f"/sys/class/net/{bridge}/brif"))
        assert len(ports) == 1 and ports <= veths_before   # the same veth as before
        d.ok("rm", "-f", "survivor")
        assert "dnat to" not in _nft(d)
        wait_for(lambda: not ports & _links(), what="the removed container's veth gone")
        d.stop()
        assert _nft(d) == ""     # no container ran: the table went with the daemon
    finally:
        d.cleanup()
    assert not {f"dyb{d.suffix}"} & _links()


def test_crash_leftovers_are_reconciled_at_start(busybox_tar: str) -> None:
    d = new_daemon(busybox_tar)
    try:
        d.ok("network", "create", "--subnet", "10.231.13.0/24", "crashy")
        port = _free_port()
        _httpd(d, "doomed", "--network", "crashy", "-p", f"127.0.0.1:{port}:80")
        pid = inspect(d, "doomed")["State"]["Pid"]
        d.kill9()
        os.kill(pid, 9)       # the container dies while no daemon watches
        d.start()
        wait_for(lambda: not inspect(d, "doomed")["State"]["Running"])
        assert "dnat to" not in _nft(d)
        assert json.loads(d.ok("network", "inspect", "crashy"))[0]["Containers"] == {}
    finally:
        d.cleanup()


def test_lookup_and_reverse_for_the_dns_hook(tmp_path: Any) -> None:
    """The names the embedded DNS asks about: name, short ID, hostname, aliases; scoped to
    the networks asked."""
    from dockyard.engine.networks.records import Endpoint, Network
    from dockyard.engine.networks.service import NetworkService
    from dockyard.store.db import Database

    class NoEvents:
        def emit(self, *args: Any) -> None:
            pass

    db = Database(str(tmp_path / "engine.db"))
    service = NetworkService(db, NoEvents(), {"iptables": False})
    with db.transaction() as conn:
        for nid in ("n1", "n2"):
            service.records.add_network(conn, Network(id=nid, name=nid, driver="bridge",
                                                      created="x", subnet="10.231.14.0/24"))
        service.records.add_endpoint(conn, Endpoint(
            "e1", "n1", "c" * 64, "web", "webhost", "eth0", "vethx", "m", "10.231.14.2",
            ["www"]))
        service.records.add_endpoint(conn, Endpoint(
            "e2", "n2", "d" * 64, "db", "dbhost", "eth0", "vethy", "m", "10.231.14.3", []))
    for name in ("web", "WEB", "cccccccccccc", "webhost", "www", "www."):
        assert service.lookup(["n1"], name) == ["10.231.14.2"]
    assert service.lookup(["n1"], "db") == [] and service.lookup(["n1", "n2"], "db") == \
        ["10.231.14.3"]
    assert service.reverse(["n1"], "10.231.14.2") == "web"
    assert service.reverse(["n1"], "10.231.14.3") is None
    db.close()


def test_daemon_json_bip_pools_and_no_proxy(busybox_tar: str) -> None:
    """`bip` sets the default bridge; `default-address-pools` the subnets user networks get;
    with `userland-proxy: false` loopback is served by DNAT alone."""
    d = Daemon(__import__("tempfile").mkdtemp(prefix="dy-", dir="/tmp"))
    d.write_config({"bip": "10.231.20.1/24", "userland-proxy": False,
                    "default-address-pools": [{"base": "10.231.32.0/22", "size": 24}]})
    try:
        d.start()
        d.ok("import", "-c", 'CMD ["sh"]', busybox_tar, "busybox:latest")
        bridge = json.loads(d.ok("network", "inspect", "bridge"))[0]
        assert bridge["IPAM"]["Config"] == [{"Subnet": "10.231.20.0/24",
                                             "Gateway": "10.231.20.1"}]
        d.ok("network", "create", "pooled")
        subnet = json.loads(d.ok("network", "inspect", "pooled"))[0]["IPAM"]["Config"][0]
        assert subnet == {"Subnet": "10.231.32.0/24", "Gateway": "10.231.32.1"}
        port = _free_port()
        cid = _httpd(d, "natonly", "-p", f"127.0.0.1:{port}:80")
        with socket.socket() as probe:   # nothing of the daemon's listens on the port
            probe.bind(("127.0.0.1", port))
        wait_for(lambda: _answer(f"http://127.0.0.1:{port}/hostname") == cid[:12])
        assert inspect(d, "natonly")["NetworkSettings"]["IPAddress"].startswith("10.231.20.")
        # hairpin: the container reaches its own published port through the host's address
        wide = _free_port()
        own = _httpd(d, "hairpin", "-p", f"{wide}:80")
        assert d.ok("exec", "hairpin", "sh", "-c",
                    f"timeout 3 wget -qO- http://10.231.20.1:{wide}/hostname; exit $?"
                    ).strip() == own[:12]
    finally:
        d.cleanup()


def test_two_daemons_never_pick_the_same_subnet(busybox_tar: str) -> None:
    pools = [{"base": "10.231.40.0/23", "size": 24}]
    daemons = [Daemon(__import__("tempfile").mkdtemp(prefix="dy-", dir="/tmp"))
               for _ in range(2)]
    try:
        for d in daemons:
            d.write_config({"bip": "10.231.41.1/24" if d is daemons[0] else "10.231.42.1/24",
                            "iptables": False, "default-address-pools": pools})
            d.start()
        # daemon 0's bridge took 10.231.41.0/24: its network gets .40; daemon 1 then gets none
        d0, d1 = daemons
        d0.ok("network", "create", "a")
        assert json.loads(d0.ok("network", "inspect", "a"))[0]["IPAM"]["Config"][0][
            "Subnet"] == "10.231.40.0/24"
        refused = d1.cli("network", "create", "b")
        assert refused.returncode == 1
        assert "could not find an available, non-overlapping IPv4 address pool" in \
            refused.stderr
    finally:
        for d in daemons:
            d.cleanup()


def test_endpoint_hooks_are_told_of_joins_and_leaves(busybox_tar: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded DNS's hook: `joined` once the endpoint is plumbed (its address is in the
    namespace, lookup finds it), again after a daemon restart; `left` before teardown."""
    d = Daemon(__import__("tempfile").mkdtemp(prefix="dy-", dir="/tmp"))
    log = os.path.join(d.base, "hooks.jsonl")
    monkeypatch.setenv("DY_HOOK_LOG", log)
    d.program = [__import__("sys").executable,
                 os.path.join(os.path.dirname(__file__), "hookdaemon.py")]

    def entries() -> list[dict[str, Any]]:
        try:
            with open(log) as f:
                return [json.loads(line) for line in f]
        except FileNotFoundError:
            return []
    try:
        d.start()
        d.ok("import", "-c", 'CMD ["sh"]', busybox_tar, "busybox:latest")
        d.ok("network", "create", "--subnet", "10.231.15.0/24", "hooked")
        d.ok("run", "-d", "--name", "told", "--network", "hooked", "busybox", "sleep", "300")
        joined = {"event": "joined", "container": "told", "network": "hooked",
                  "addresses": ["10.231.15.2", "127.0.0.1"], "lookup": ["10.231.15.2"]}
        assert entries() == [joined], d.logs()
        d.ok("rename", "told", "renamed")
        d.stop()
        d.start()
        wait_for(lambda: len(entries()) == 2)
        assert entries()[1] == {**joined, "container": "renamed"}
        d.ok("rm", "-f", "renamed")
        wait_for(lambda: len(entries()) == 3)
        assert entries()[2] == {"event": "left", "container": "renamed", "network": "hooked"}
    finally:
        d.cleanup()


def _answer(url: str) -> str:
    try:
        return _get(url, timeout=2).strip()
    except OSError:
        return ""


def test_bad_network_requests_are_4xx_and_leave_nothing(module_daemon: Daemon) -> None:
    from rawapi import post, request

    before = json.loads(request(module_daemon, "GET", "/networks")[2])
    links = _links()
    for body, status, text in (
            ([], 400, "cannot unmarshal array into Go value of type network.CreateRequest"),
            ({"Name": 5}, 400, "Go struct field CreateRequest.Name of type string"),
            ({"Name": ""}, 400, "network name must not be empty"),
            ({"Name": "x", "Driver": "nosuch"}, 404, 'plugin "nosuch" not found'),
            ({"Name": "x", "Driver": "host"}, 403, 'only one instance of "host"'),
            ({"Name": "x", "IPAM": {"Config": [{"Subnet": "10.231.99.0/33"}]}}, 400,
             "invalid CIDR address: 10.231.99.0/33"),
            ({"Name": "x", "IPAM": {"Config": [{"Subnet": "10.231.99.0/24",
                                                "Gateway": "10.231.98.1"}]}}, 400,
             "does not belong to the pool"),
            ({"Name": "x", "IPAM": {"Config": [{"Gateway": "10.231.98.1"}]}}, 400, "subnet"),
            ({"Name": "x", "Options": {"com.docker.network.bridge.name":
                                       "a-bridge-name-far-too-long"}}, 400, "longer than")):
        got, answer = post(module_daemon, "/v1.45/networks/create", body)
        assert (got, text in answer["message"]) == (status, True), (body, answer)
    got, answer = post(module_daemon, "/v1.45/networks/bridge/connect", {"Container": "nosuch"})
    assert got == 404 and "No such container: nosuch" in answer["message"]
    got, answer = post(module_daemon, "/v1.45/networks/nosuch/connect", {"Container": "x"})
    assert got == 404 and answer["message"] == "network nosuch not found"
    got, answer = post(module_daemon, "/v1.45/networks/bridge/disconnect", {"Force": "yes"})
    assert got == 400
    got, _, body = request(module_daemon, "GET", '/v1.45/networks?filters={"bogus":["x"]}')
    assert got == 400 and b"invalid filter 'bogus'" in body
    assert json.loads(request(module_daemon, "GET", "/networks")[2]) == before
    assert not _links() - links   # nothing made (links others remove meanwhile don't count)


def test_port_specs_and_ports_column_as_the_docker_cli(module_daemon: Daemon) -> None:
    """`-p` parsing errors and the PORTS column, checked against the stock docker CLI on
    the same daemon."""
    d = module_daemon
    for spec in ("99999:80", "80:99999", "x:80", "1.2.3.4:80:80/xyz", "9-8:80"):
        ours = d.cli("run", "--rm", "-p", spec, "busybox", "true")
        theirs = d.docker("run", "--rm", "-p", spec, "busybox", "true")
        assert ours.returncode == theirs.returncode == 125
        assert ours.stderr.splitlines()[0] == theirs.stderr.splitlines()[0], spec
    d.ok("run", "-d", "--name", "ported", "-p", "127.0.0.1:0:90/udp", "--expose", "99",
         "--expose", "100", "-p", "127.0.0.1::80", "busybox", "sleep", "300")
    try:
        ours = d.ok("ps", "--filter", "name=ported", "--format", "{{.Ports}}")
        theirs = d.docker("ps", "--filter", "name=ported", "--format", "{{.Ports}}").stdout
        assert ours == theirs and ours.startswith("99-100/tcp, 127.0.0.1:")
        assert d.ok("port", "ported") == d.docker("port", "ported").stdout
    finally:
        d.ok("rm", "-f", "ported")


def test_container_network_mode_shares_the_namespace(module_daemon: Daemon,
                                                     nets: list[str]) -> None:
    d = module_daemon
    d.ok("network", "create", "--subnet", "10.231.16.0/24", "shared")
    nets.append("shared")
    cid = _httpd(d, "owner", "--network", "shared")
    out = d.ok("run", "--rm", "--network", "container:owner", "busybox", "sh", "-c",
               "ip -4 -o addr show eth0; wget -qO- http://127.0.0.1/hostname")
    assert "10.231.16.2/24" in out and out.strip().endswith(cid[:12])
    assert d.cli("run", "--rm", "--network", "container:nosuch", "busybox",
                 "true").returncode == 125
    conflict = d.cli("create", "--network", "container:owner", "-p", "80", "busybox")
    assert "conflicting options: port publishing and the container type network mode" in \
        conflict.stderr
    d.ok("create", "--name", "follower", "--network", "container:owner", "busybox", "true")
    assert inspect(d, "follower")["NetworkSettings"]["Networks"] == {}
    d.ok("stop", "-t", "0", "owner")
    refused = d.cli("start", "follower")
    assert "cannot join network namespace of a non running container" in refused.stderr
    d.ok("rm", "-f", "owner", "follower")


@pytest.mark.parametrize("driver", ["macvlan", "ipvlan"])
def test_macvlan_and_ipvlan_on_a_dummy_parent(module_daemon: Daemon, nets: list[str],
                                              driver: str) -> None:
    """Two containers on sub-interfaces of a parent the test makes reach each other
    (macvlan bridge mode, ipvlan l2); the parent is checked at create. The parent is one
    end of a veth pair whose other end leads nowhere (this kernel may lack `dummy`), so
    nothing leaves the machine."""
    d = module_daemon
    parent, peer = f"dyd{d.suffix[:5]}{driver[0]}", f"dye{d.suffix[:5]}{driver[0]}"
    subprocess.run(["ip", "link", "add", parent, "type", "veth", "peer", "name", peer],
                   check=True)
    try:
        for link in (parent, peer):
            subprocess.run(["ip", "link", "set", link, "up"], check=True)
        probe = subprocess.run(["ip", "link", "add", f"{parent}p", "link", parent, "type",
                                driver], capture_output=True, text=True)
        if probe.returncode != 0:
            pytest.skip(f"SKIPPED LOUDLY: this kernel has no {driver}: {probe.stderr}")
        subprocess.run(["ip", "link", "del", f"{parent}p"], check=True)
        missing = d.cli("network", "create", "-d", driver, "-o", "parent=nosuchif0", "x")
        assert "-o parent interface was not found on the host: nosuchif0" in missing.stderr
        d.ok("network", "create", "-d", driver, "--subnet", "10.231.17.0/24",
             "-o", f"parent={parent}", f"{driver}net")
        nets.append(f"{driver}net")
        cid = _httpd(d, f"{driver}srv", "--network", f"{driver}net")
        out = d.ok("run", "--rm", "--network", f"{driver}net", "busybox", "sh", "-c",
                   "ip -o link show eth0; ip route; "
                   "timeout 3 wget -qO- http://10.231.17.2/hostname; exit $?")
        assert f"default via 10.231.17.1 dev eth0" in out and out.strip().endswith(cid[:12])
        d.ok("rm", "-f", f"{driver}srv")
        d.ok("network", "rm", f"{driver}net")
        nets.remove(f"{driver}net")
    finally:
        subprocess.run(["ip", "link", "del", parent], capture_output=True)


def test_legacy_links_on_the_default_bridge(module_daemon: Daemon) -> None:
    d = module_daemon
    cid = _httpd(d, "linked", "-e", "SECRET=s3", "--expose", "80")
    ip = inspect(d, "linked")["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    try:
        out = d.ok("run", "--rm", "--link", "linked:db", "busybox", "sh", "-c",
                   "env | sort; cat /etc/hosts; wget -qO- http://db/hostname")
        for line in (f"DB_PORT=tcp://{ip}:80", f"DB_PORT_80_TCP=tcp://{ip}:80",
                     f"DB_PORT_80_TCP_ADDR={ip}", "DB_PORT_80_TCP_PORT=80",
                     "DB_PORT_80_TCP_PROTO=tcp", "DB_ENV_SECRET=s3"):
            assert line in out.splitlines(), line
        assert any(l.startswith("DB_NAME=/") and l.endswith("/db") for l in out.splitlines())
        assert f"{ip}\tdb {cid[:12]} linked" in out
        assert out.strip().endswith(cid[:12])
        stored = d.ok("create", "--name", "linker", "--link", "linked:db", "busybox", "true")
        assert inspect(d, stored.strip())["HostConfig"]["Links"] == ["/linked:/linker/db"]
        missing = d.cli("create", "--link", "nosuch:x", "busybox", "true")
        assert "could not get container for nosuch" in missing.stderr
        d.ok("stop", "-t", "0", "linked")
        refused = d.cli("start", "linker")
        assert "Cannot link to a non running container: /linked AS /linker/db" in \
            refused.stderr
    finally:
        d.cli("rm", "-f", "linked", "linker")


def test_ipv6_networks(module_daemon: Daemon, nets: list[str]) -> None:
    """--ipv6 beside IPv4: addresses from the given subnet (or a random ULA /64), --ip6,
    the default route, inspect's fields, AAAA through the embedded DNS."""
    d = module_daemon
    if not os.path.exists("/proc/sys/net/ipv6"):
        pytest.skip("SKIPPED LOUDLY: this kernel has no IPv6")
    d.ok("network", "create", "--ipv6", "--subnet", "10.231.18.0/24", "--subnet",
         "fd00:231:18::/64", "six")
    d.ok("network", "create", "--ipv6", "--subnet", "10.231.19.0/24", "ula")
    nets += ["six", "ula"]
    config = json.loads(d.ok("network", "inspect", "six"))[0]
    assert config["EnableIPv6"] and config["IPAM"]["Config"][1] == {
        "Subnet": "fd00:231:18::/64", "Gateway": "fd00:231:18::1"}
    ula = json.loads(d.ok("network", "inspect", "ula"))[0]["IPAM"]["Config"][1]["Subnet"]
    assert ula.startswith("fd") and ula.endswith("::/64")
    cid = _httpd(d, "v6srv", "--network", "six", "--ip6", "fd00:231:18::99")
    endpoint = inspect(d, "v6srv")["NetworkSettings"]["Networks"]["six"]
    assert endpoint["GlobalIPv6Address"] == "fd00:231:18::99"
    assert endpoint["GlobalIPv6PrefixLen"] == 64
    assert endpoint["IPv6Gateway"] == "fd00:231:18::1"
    out = d.ok("run", "--rm", "--network", "six", "busybox", "sh", "-c",
               "ip -6 route; ip -6 -o addr show eth0; "
               "timeout 3 wget -qO- http://[fd00:231:18::99]/hostname; exit $?")
    assert "default via fd00:231:18::1 dev eth0" in out and "fd00:231:18::2/64" in out
    assert out.strip().endswith(cid[:12])
    aaaa = d.ok("run", "--rm", "--network", "six", "busybox", "nslookup", "-type=AAAA",
                "v6srv")
    assert "fd00:231:18::99" in aaaa
    members = json.loads(d.ok("network", "inspect", "six"))[0]["Containers"]
    assert members[cid]["IPv6Address"] == "fd00:231:18::99/64"
    refused = d.cli("run", "--rm", "--network", "six", "--ip6", "fd00:999::1", "busybox",
                    "true")
    assert refused.returncode == 125
    d.ok("rm", "-f", "v6srv")
