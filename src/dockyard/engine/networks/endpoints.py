"""Endpoints: a container joined to its networks before its process runs, left when it
stops, kept across a daemon restart; its ports published; the DNS helper's hooks. Connect,
disconnect and the name lookups are connecting.py's.

The container is duck-typed (id, name, record, config, host_config, running, state, save,
lifecycle): the network service never imports the container service, which calls it."""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
from typing import Any, Callable

from ...errors import Conflict, DockyardError, InvalidParameter, NotFound
from . import etc_files, ipam, links, plumbing, ports
from .createconfig import CreateConfig
from .dnsnames import endpoint_dns_names
from .firewall import BridgeNet, Forward
from .proxy import Proxies, listen_text, port_free
from .records import Endpoint, Network, PortBinding

from .modes import NON_BRIDGE, shared_with

log = logging.getLogger(__name__)


class Endpoints(CreateConfig):
    """Mixed into NetworkService; uses its records, db, firewall, mtu, find, get, emit."""

    records: Any
    db: Any
    firewall: Any
    mtu: int
    find: Callable[[str], Network | None]
    get: Callable[[str], Network]
    emit_network: Callable[..., None]

    def __init__(self) -> None:
        self.proxies = Proxies()
        # objects with `async joined(container, network, netns_path)` and
        # `async left(container, network)`: the embedded DNS plugs in here
        self.endpoint_hooks: list[Any] = []
        self.container_lookup: Callable[[str], Any] | None = None  # set by the daemon
        # the daemon's --dns settings, for rewriting a running container's files on connect
        self.dns_settings: etc_files.DnsSettings = etc_files.DnsSettings()

    # --- start and stop ---------------------------------------------------------------------
    def links_for_start(self, container: Any) -> tuple[list[str], list[str]]:
        """`--link` on the default bridge: (environment, /etc/hosts lines) from the running
        targets. On a user network links are DNS aliases only (dnshook.py), as in Docker."""
        mode = container.host_config.get("NetworkMode", "default")
        if mode not in ("default", "bridge"):
            return [], []
        return links.for_start(container, self._container)

    def etc_endpoints(self, container: Any) -> etc_files.Endpoints:
        """What /etc/hosts and resolv.conf need of the container's networks: its addresses
        (known once joined) and whether a user-defined network gives it the embedded DNS."""
        networks = container.record["NetworkSettings"].get("Networks") or {}
        addresses = tuple(a for s in networks.values()
                          for a in (s.get("IPAddress"), s.get("GlobalIPv6Address")) if a)
        user = any(name not in ("bridge", "host", "none") for name in networks)
        ipv6 = any(s.get("GlobalIPv6Address") for s in networks.values())
        return etc_files.Endpoints(addresses=addresses, internal_dns=user, ipv6=ipv6)

    def shared_netns(self, container: Any) -> str | None:
        """For `--network container:<x>`: the namespace to join, x's, which must run."""
        other_ref = shared_with(container.host_config.get("NetworkMode", "default"))
        if other_ref is None:
            return None
        other = self._container(other_ref)
        if not other.running:
            raise Conflict(f"cannot join network namespace of a non running container: "
                           f"{other.id}")
        return f"/proc/{other.state['Pid']}/ns/net"

    async def join(self, container: Any, pid: int) -> None:
        """Every network of the container's record plumbed into /proc/<pid>/ns/net, its
        ports published; called while its init waits before exec."""
        mode = container.host_config.get("NetworkMode", "default")
        if mode in NON_BRIDGE or shared_with(mode) is not None:
            return
        netns = f"/proc/{pid}/ns/net"
        settings_map = container.record["NetworkSettings"]["Networks"]
        try:
            for n, (name, settings) in enumerate(list(settings_map.items())):
                net = self.find(settings.get("NetworkID") or name) or self.find(name)
                if net is None:
                    raise NotFound(f"network {name} not found")
                await self._attach(container, net, settings, netns, f"eth{n}")
            await self._publish(container)
        except BaseException:
            await self.leave(container, hooks=False)
            raise
        container.record["NetworkSettings"]["SandboxKey"] = netns
        for ep in self.records.endpoints(container_id=container.id):
            await self._hook("joined", container, self.records.network(ep.network_id), netns)

    async def _attach(self, container: Any, net: Network, settings: dict[str, Any],
                      netns: str, ifname: str) -> Endpoint:
        subnet = ipaddress.IPv4Network(net.subnet)
        requested = (settings.get("IPAMConfig") or {}).get("IPv4Address") or ""
        requested6 = (settings.get("IPAMConfig") or {}).get("IPv6Address") or ""
        subnet6 = ipaddress.IPv6Network(net.subnet6) if net.subnet6 else None
        if requested6 and subnet6 is None:
            raise InvalidParameter("user specified IPv6 address is supported only on networks "
                                   "with IPv6 enabled")
        gateway_needed = not net.internal and not any(
            not self.records.network(e.network_id).internal
            for e in self.records.endpoints(container_id=container.id))
        ep_id = secrets.token_hex(32)
        on_bridge = bool(net.bridge)

        def record() -> Endpoint:
            """The address chosen and the endpoint recorded in one short transaction, before
            any plumbing: the database is never held while links are made, and a crash
            after this leaves a record (dropped at restart) rather than an unknown veth."""
            with self.db.transaction() as conn:
                taken = self.records.allocated(net.id)
                address = ipam.requested(subnet, requested, taken) if requested else \
                    ipam.next_free(subnet, net.ip_range, taken)
                address6 = ""
                if subnet6 is not None:
                    address6 = ipam.requested(subnet6, requested6, taken) if requested6 \
                        else ipam.next_free(subnet6, "", taken)
                ep = Endpoint(id=ep_id, network_id=net.id, container_id=container.id,
                              container_name=container.name,
                              hostname=container.config.get("Hostname") or "",
                              ifname=ifname, host_ifname="veth" + secrets.token_hex(4)[:7]
                              if on_bridge else "",
                              mac=settings.get("MacAddress") or ipam.mac_for(address),
                              ipv4=address, aliases=list(settings.get("Aliases") or []),
                              ipv6=address6)
                self.records.allocate(conn, net.id, address, "container", ep_id)
                if address6:
                    self.records.allocate(conn, net.id, address6, "container", ep_id)
                self.records.add_endpoint(conn, ep)
            return ep

        def plumb(ep: Endpoint) -> None:
            if on_bridge:
                plumbing.attach(netns, net.bridge, ep.host_ifname, ifname, ep.ipv4,
                                subnet.prefixlen, net.gateway, ep.mac, self.mtu,
                                gateway_needed,
                                hairpin=not self.userland_proxy,  # type: ignore[attr-defined]
                                address6=ep.ipv6,
                                prefixlen6=subnet6.prefixlen if subnet6 else 0,
                                gateway6=net.gateway6)
            else:
                plumbing.attach_sub(netns, net.driver, net.options["parent"],
                                    net.options.get(f"{net.driver}_mode", ""), ifname,
                                    ep.ipv4, subnet.prefixlen, net.gateway, ep.mac,
                                    self.mtu, gateway_needed)

        def record_and_plumb() -> Endpoint:
            ep = record()
            try:
                plumb(ep)
            except BaseException:
                with self.db.transaction() as conn:
                    self.records.remove_endpoint(conn, ep.id)
                raise
            return ep

        try:
            ep = await asyncio.to_thread(record_and_plumb)
        except DockyardError:
            raise
        except Exception as exc:  # netlink's errors, in dockerd's words
            raise DockyardError(f"failed to set up container networking: {exc}") from None
        settings.update(EndpointID=ep.id, Gateway=net.gateway, IPAddress=ep.ipv4,
                        IPPrefixLen=subnet.prefixlen, MacAddress=ep.mac, NetworkID=net.id,
                        DNSNames=None if net.name == "bridge" else endpoint_dns_names(
                            container.name, container.id, ep.hostname, ep.aliases),
                        GlobalIPv6Address=ep.ipv6, IPv6Gateway=net.gateway6 if ep.ipv6 else "",
                        GlobalIPv6PrefixLen=subnet6.prefixlen if ep.ipv6 and subnet6 else 0)
        self.emit_network(net, "connect", container=container.id)
        if net.name == "bridge":   # the top-level fields old APIs show: settings_view.py
            container.record["NetworkSettings"]["Bridge"] = net.bridge
        return ep

    async def _publish(self, container: Any) -> None:
        """Host ports for what the container publishes, through the first bridge endpoint
        with a way out; proxies opened, DNAT written."""
        wanted = ports.wanted(container.host_config, container.config)
        eps = [e for e in self.records.endpoints(container_id=container.id) if e.host_ifname]
        bound: list[PortBinding] = []
        if wanted and eps:
            ep = eps[0]
            taken = {(b.proto, b.host_port) for b in self.records.port_bindings()}
            for want in wanted:
                host_ips = ports.host_ips(want.host_ip, bool(ep.ipv6))
                port = ports.choose(want, taken, host_ips)
                if port is None:
                    shown = want.host_ip or "0.0.0.0"
                    shown = f"[{shown}]" if ":" in shown else shown
                    raise DockyardError(
                        f"driver failed programming external connectivity on endpoint "
                        f"{container.name} ({ep.id}): Bind for {shown}:{want.first} failed: "
                        "port is already allocated")
                taken.add((want.proto, port))
                for host_ip in host_ips:
                    target = ep.ipv6 if ":" in host_ip and ep.ipv6 else ep.ipv4
                    bound.append(PortBinding(container.id, want.proto, want.container_port,
                                             host_ip, port, target))
            with self.db.transaction() as conn:
                for b in bound:
                    self.records.add_port_binding(conn, b)
            if not self.userland_proxy:  # type: ignore[attr-defined]
                for b in bound:
                    if not port_free(b.proto, b.host_ip, b.host_port):
                        where = listen_text(b.proto, b.host_ip or "0.0.0.0", b.host_port)
                        raise DockyardError(f"{where}: bind: address already in use")
            await self._open_proxies(bound)
        container.record["NetworkSettings"]["Ports"] = ports.ports_map(container.config, bound)
        if bound or self._has_closed_icc(container.id):
            await asyncio.to_thread(self.apply_firewall)

    async def _open_proxies(self, bound: list[PortBinding]) -> None:
        if not self.userland_proxy:  # type: ignore[attr-defined]
            return
        for b in bound:
            await self.proxies.open(b.container_id, b.proto, b.host_ip, b.host_port,
                                    b.container_ip, b.container_port)

    def _has_closed_icc(self, container_id: str) -> bool:
        return any(not self.records.network(e.network_id).icc
                   for e in self.records.endpoints(container_id=container_id))

    async def leave(self, container: Any, hooks: bool = True) -> None:
        """Every endpoint of the container gone (its process has exited or is being killed):
        hooks told, addresses and ports released in one transaction, the record's addresses
        cleared. The veths go with the dying namespace; their host ends are deleted in the
        background, off the exit's path (a link's deletion waits ~15 ms on RCU)."""
        eps = self.records.endpoints(container_id=container.id)
        had_ports = bool(self.records.port_bindings(container.id))
        icc = self._has_closed_icc(container.id)
        self.proxies.close(container.id)
        if hooks:
            for ep in eps:
                await self._hook("left", container, self.records.network(ep.network_id))
        nets = [self.records.network(ep.network_id) for ep in eps]
        if eps or had_ports:
            def drop() -> None:
                with self.db.transaction() as conn:
                    for ep in eps:
                        self.records.remove_endpoint(conn, ep.id)
                    self.records.remove_port_bindings(conn, container.id)
            await asyncio.to_thread(drop)
        loop = asyncio.get_running_loop()
        for ep, net in zip(eps, nets):
            loop.run_in_executor(None, plumbing.detach, ep.host_ifname)
            if net is not None:
                self.emit_network(net, "disconnect", container=container.id)
        if had_ports or icc:
            await asyncio.to_thread(self.apply_firewall)
        ns = container.record.get("NetworkSettings") or {}
        ns.update(Ports={}, SandboxKey="", Bridge="")
        for settings in (ns.get("Networks") or {}).values():
            if settings.get("EndpointID"):
                settings.update(EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0,
                                DNSNames=None, GlobalIPv6Address="", IPv6Gateway="",
                                GlobalIPv6PrefixLen=0,
                                MacAddress=(settings.get("MacAddress")
                                            if _user_mac(container, settings) else ""))

    async def _drop_endpoint(self, container: Any, ep: Endpoint, hooks: bool) -> None:
        net = self.records.network(ep.network_id)
        if hooks and net is not None:
            await self._hook("left", container, net)

        def drop() -> None:
            with self.db.transaction() as conn:
                self.records.remove_endpoint(conn, ep.id)
            plumbing.detach(ep.host_ifname)

        await asyncio.to_thread(drop)
        if net is not None:
            self.emit_network(net, "disconnect", container=container.id)

    def _container(self, ref: str) -> Any:
        if self.container_lookup is None:
            raise DockyardError("no container service")
        return self.container_lookup(ref)

    # --- daemon restart ---------------------------------------------------------------------
    async def restored(self, running: list[Any]) -> None:
        """After the containers are reloaded: endpoints of containers that no longer run
        go, the others get their proxies and rules back and the hooks are told again."""
        alive = {c.id: c for c in running}
        for ep in self.records.endpoints():
            if ep.container_id not in alive:
                await asyncio.to_thread(plumbing.detach, ep.host_ifname)
                with self.db.transaction() as conn:
                    self.records.remove_endpoint(conn, ep.id)
        for cid in {b.container_id for b in self.records.port_bindings()} - set(alive):
            with self.db.transaction() as conn:
                self.records.remove_port_bindings(conn, cid)
        await asyncio.to_thread(self._remove_unknown_veths)
        await asyncio.to_thread(self.apply_firewall)
        for container in running:
            try:
                await self._open_proxies(self.records.port_bindings(container.id))
            except DockyardError as exc:
                log.warning("proxy for %s: %s", container.id[:12], exc.message)
            netns = f"/proc/{container.state['Pid']}/ns/net"
            for ep in self.records.endpoints(container_id=container.id):
                await self._hook("joined", container, self.records.network(ep.network_id),
                                 netns)

    def _remove_unknown_veths(self) -> None:
        known = {ep.host_ifname for ep in self.records.endpoints() if ep.host_ifname}
        for net in self.records.networks():
            if net.bridge:
                for name in plumbing.remove_unknown_ports(net.bridge, known):
                    log.info("removed %s: on %s with no endpoint", name, net.bridge)

    # --- firewall ---------------------------------------------------------------------------
    def apply_firewall(self) -> None:
        """The tables rewritten from the records (blocking)."""
        if self.firewall is None:
            return
        nets = self.records.networks()
        bridges = {n.id: n for n in nets if n.bridge}
        eps = self.records.endpoints()
        first_ep = {}
        for ep in eps:
            if ep.network_id in bridges:
                first_ep.setdefault(ep.container_id, ep)
        forwards = [Forward(b.proto, b.host_ip, b.host_port, b.container_ip, b.container_port,
                            bridges[first_ep[b.container_id].network_id].bridge)
                    for b in self.records.port_bindings() if b.container_id in first_ep]
        self.firewall.apply([BridgeNet(n.bridge, n.subnet, n.internal, n.icc,
                                       [e.host_ifname for e in eps if e.network_id == n.id],
                                       n.masquerade, n.subnet6)
                             for n in bridges.values()], forwards)

    async def _hook(self, method: str, container: Any, net: Network | None,
                    *args: Any) -> None:
        if net is None:
            return
        for hook in list(self.endpoint_hooks):
            try:
                await getattr(hook, method)(container, net, *args)
            except Exception:  # noqa: BLE001 - a hook's failure must not undo networking
                log.exception("endpoint hook %s failed for %s", method, container.id[:12])


def _user_mac(container: Any, settings: dict[str, Any]) -> bool:
    """Whether the MAC in the settings was asked for (kept) or derived (cleared at stop)."""
    address = settings.get("IPAddress")
    return bool(settings.get("MacAddress")) and not (
        address and settings["MacAddress"] == ipam.mac_for(address))
