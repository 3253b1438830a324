"""The network service: networks' records and Docker's rules for create, inspect, list,
remove and prune (their API shapes), and the bridge each bridge network owns. Endpoints —
what joining a container does — are endpoints.py's; both are one service to the rest of
the engine (`NetworkService`)."""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
from typing import Any

from ...errors import Conflict, DockyardError, Forbidden, InvalidParameter, NotFound
from ...filters import check_keys, match_kv
from ...store.db import Database
from ...timeutil import rfc3339nano
from . import ipam, plumbing
from .connecting import Connecting
from .endpoints import Endpoints
from .firewall import Firewall
from .records import Network, Records

log = logging.getLogger(__name__)

LIST_FILTERS = {"driver", "id", "label", "name", "scope", "type", "dangling"}
PRUNE_FILTERS = {"until", "label", "label!"}
DRIVERS = {"bridge", "macvlan", "ipvlan"}
SUB_INTERFACES = ("macvlan", "ipvlan")   # a link on a parent interface, no bridge
PREDEFINED = {"bridge": "bridge", "host": "host", "none": "null"}


class NetworkService(Connecting):
    def __init__(self, db: Database, events: Any, raw: dict[str, Any]) -> None:
        self.records = Records(db)
        self.db = db
        self.events = events
        self.bridge_name = str(raw.get("bridge") or "dockyard0")
        self.bip = str(raw.get("bip") or "")
        self.pools = ipam.parse_pools(raw.get("default-address-pools"))
        self.mtu = int(raw.get("mtu") or 1500)
        self.userland_proxy = bool(raw.get("userland-proxy", True))
        self.icc = bool(raw.get("icc", True))           # the default bridge's, as dockerd
        self.ip_masq = bool(raw.get("ip-masq", True))
        try:
            self.firewall = Firewall(str(raw.get("nftables-table") or "dockyard"),
                                     self.userland_proxy) if raw.get("iptables", True) else None
        except DockyardError as exc:   # no libnftables: say so, as dockerd does without iptables
            raise SystemExit(f"failed to start the network service: {exc.message} (or set "
                             "\"iptables\": false)") from None
        Endpoints.__init__(self)

    # --- start-up ---------------------------------------------------------------------------
    async def start(self) -> None:
        """The predefined networks recorded, every bridge present (a reboot removes them)."""
        await asyncio.to_thread(self._ensure_predefined)
        for net in self.records.networks():
            if net.bridge:
                await asyncio.to_thread(plumbing.ensure_bridge, net.bridge, net.gateway,
                                        ipaddress.IPv4Network(net.subnet).prefixlen, self.mtu,
                                        net.gateway6, _prefix(net.subnet6))
                self._localnet(net)
        if self.firewall is not None:
            plumbing.set_host_sysctl("/proc/sys/net/ipv4/ip_forward", "1")

    def _ensure_predefined(self) -> None:
        for name, driver in PREDEFINED.items():
            found = self.find(name)
            if found is not None:
                if name == "bridge":   # daemon.json's icc and ip-masq as they are now
                    options = {**found.options, **self._bridge_switches()}
                    with self.db.transaction() as conn:
                        self.records.set_options(conn, found.id, options)
                continue
            net = Network(id=secrets.token_hex(32), name=name, driver=driver,
                          created=rfc3339nano())
            if name == "bridge":
                net.bridge = self.bridge_name
                net.options = {"com.docker.network.bridge.default_bridge": "true",
                               **self._bridge_switches(),
                               "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                               "com.docker.network.bridge.name": self.bridge_name,
                               "com.docker.network.driver.mtu": str(self.mtu)}
                self._plumb_new(net, self._bip_config())
            else:
                with self.db.transaction() as conn:
                    self.records.add_network(conn, net)

    def _bridge_switches(self) -> dict[str, str]:
        return {"com.docker.network.bridge.enable_icc": _text(self.icc),
                "com.docker.network.bridge.enable_ip_masquerade": _text(self.ip_masq)}

    def _localnet(self, net: Network) -> None:
        """Without the userland proxy, loopback is DNAT'ed onto the bridge (dockerd too)."""
        if not self.userland_proxy and self.firewall is not None:
            plumbing.set_host_sysctl(f"/proc/sys/net/ipv4/conf/{net.bridge}/route_localnet",
                                     "1")

    def _bip_config(self) -> dict[str, Any]:
        """daemon.json `bip`; without it, the address the bridge already has (as dockerd
        keeps docker0's); else empty, for the pools to choose."""
        if self.bip:
            try:
                iface = ipaddress.IPv4Interface(self.bip)
            except ValueError:
                raise SystemExit(f"invalid bip {self.bip!r}") from None
        else:
            iface = plumbing.bridge_address(self.bridge_name)
            if iface is None:
                return {}
        return {"Subnet": str(iface.network), "Gateway": str(iface.ip)}

    # --- lookup -----------------------------------------------------------------------------
    def find(self, ref: str) -> Network | None:
        """By full ID, exact name, then unique ID prefix — Docker's order."""
        nets = self.records.networks()
        for test in (lambda n: n.id == ref, lambda n: n.name == ref):
            found = [n for n in nets if test(n)]
            if found:
                return found[0]
        found = [n for n in nets if ref and n.id.startswith(ref)]
        if len(found) > 1:
            raise NotFound(f"network {ref} is ambiguous ({len(found)} matches found on name)")
        return found[0] if found else None

    def get(self, ref: str) -> Network:
        net = self.find(ref)
        if net is None:
            raise NotFound(f"network {ref} not found")
        return net

    # --- create -----------------------------------------------------------------------------
    async def create(self, body: Any) -> dict[str, str]:
        if not isinstance(body, dict):
            raise InvalidParameter("network name must not be empty")
        name = body.get("Name") or ""
        if not name:
            raise InvalidParameter("network name must not be empty")
        driver = body.get("Driver") or "bridge"
        # by exact name only: find() also matches ID prefixes, and a short name such as "b"
        # may prefix several IDs ("ambiguous") without naming any network
        if name in PREDEFINED or any(n.name == name for n in self.records.networks()):
            raise Conflict(f"network with name {name} already exists")
        if driver in ("host", "null"):
            raise Forbidden(f'only one instance of "{driver}" network is allowed')
        if driver not in DRIVERS:
            raise NotFound(f'plugin "{driver}" not found')
        ipam_body = body.get("IPAM") or {}
        if ipam_body.get("Driver") not in (None, "", "default"):
            raise NotFound(f'plugin "{ipam_body["Driver"]}" not found')
        configs = ipam_body.get("Config") or []
        v4, v6 = ipam.split_configs(configs)
        if v6 and not body.get("EnableIPv6"):
            raise InvalidParameter("an IPv6 subnet needs --ipv6 (EnableIPv6)")
        net_id = secrets.token_hex(32)
        options = {str(k): str(v) for k, v in (body.get("Options") or {}).items()}
        if driver in SUB_INTERFACES:
            await asyncio.to_thread(_check_parent, driver, options)
        net = Network(id=net_id, name=name, driver=driver, created=rfc3339nano(),
                      internal=bool(body.get("Internal")),
                      attachable=bool(body.get("Attachable")), ipv6=bool(body.get("EnableIPv6")),
                      bridge="" if driver in SUB_INTERFACES else
                      options.get("com.docker.network.bridge.name") or f"br-{net_id[:12]}",
                      options=options, labels=dict(body.get("Labels") or {}),
                      ipam_options=dict(ipam_body.get("Options") or {}),
                      ipam_config=[dict(c) for c in configs])
        if len(net.bridge) > 15:
            raise InvalidParameter(f"invalid bridge name {net.bridge}: longer than 15 bytes")
        await asyncio.to_thread(self._plumb_new, net, v4, v6)
        self.emit_network(net, "create")
        return {"Id": net_id, "Warning": ""}

    def _plumb_new(self, net: Network, config: dict[str, Any],
                   config6: dict[str, Any] | None = None) -> None:
        """Pick the subnet and bring the bridge up under the host-wide lock, then record."""
        subnet, gateway, ip_range, aux = ipam.parse_config(config)
        if subnet is not None and subnet.version != 4:
            raise InvalidParameter(f"invalid IPv4 subnet: {subnet}")
        if net.ipv6:
            subnet6, gateway6, _, aux6 = ipam.parse_config(config6 or {})
            ours6 = [ipaddress.ip_network(n.subnet6) for n in self.records.networks()
                     if n.subnet6]
            if subnet6 is None:
                subnet6 = ipam.random_ula()
            elif ipam.overlaps(subnet6, ours6):
                raise Forbidden("Pool overlaps with other one on this address space")
            net.subnet6 = str(subnet6)
            net.gateway6 = gateway6 or ipam.first_host(subnet6)
            aux = {**aux, **aux6}
        with ipam.host_lock():
            ours = [ipaddress.IPv4Network(n.subnet) for n in self.records.networks()
                    if n.subnet]
            if subnet is not None:
                if ipam.overlaps(subnet, ours):
                    raise Forbidden("Pool overlaps with other one on this address space")
            else:
                subnet = ipam.pick_subnet(self.pools, ours + plumbing.used_subnets())
            net.subnet, net.ip_range = str(subnet), ip_range
            net.gateway = gateway or ipam.first_host(subnet)
            if net.bridge:
                plumbing.ensure_bridge(net.bridge, net.gateway, subnet.prefixlen, self.mtu,
                                       net.gateway6, _prefix(net.subnet6))
                self._localnet(net)
            try:
                with self.db.transaction() as conn:
                    self.records.add_network(conn, net)
                    self.records.allocate(conn, net.id, net.gateway, "gateway")
                    if net.gateway6:
                        self.records.allocate(conn, net.id, net.gateway6, "gateway")
                    for address in aux.values():
                        if address not in (net.gateway, net.gateway6):
                            self.records.allocate(conn, net.id, address, "aux")
            except BaseException:
                if net.bridge:
                    plumbing.delete_link(net.bridge)
                raise
        self.apply_firewall()

    # --- remove, prune ----------------------------------------------------------------------
    async def remove(self, ref: str) -> None:
        net = self.get(ref)
        if net.predefined:
            raise Forbidden(f"{net.name} is a pre-defined network and cannot be removed")
        if self.records.endpoints(network_id=net.id):
            raise Forbidden(f"error while removing network: network {net.name} id {net.id} "
                            "has active endpoints")
        await asyncio.to_thread(self._unplumb, net)
        self.emit_network(net, "destroy")

    def _unplumb(self, net: Network) -> None:
        with self.db.transaction() as conn:
            self.records.remove_network(conn, net.id)
        if net.bridge:
            plumbing.delete_link(net.bridge)
        self.apply_firewall()

    async def prune(self, filters: dict[str, list[str]] | None) -> dict[str, Any]:
        filters = check_keys(filters, PRUNE_FILTERS)
        from ...timeutil import parse_timestamp
        until = parse_timestamp(filters["until"][0]) if filters.get("until") else None
        deleted = []
        for net in self.records.networks():
            if net.predefined or self.records.endpoints(network_id=net.id):
                continue
            if filters.get("label") and not match_kv(filters["label"], net.labels):
                continue
            if filters.get("label!") and match_kv(filters["label!"], net.labels):
                continue
            if until is not None and _created(net) >= until:
                continue
            await self.remove(net.id)
            deleted.append(net.name)
        return {"NetworksDeleted": deleted}

    # --- inspect, list ----------------------------------------------------------------------
    def inspect(self, ref: str) -> dict[str, Any]:
        net = self.get(ref)
        containers = {}
        for ep in self.records.endpoints(network_id=net.id):
            prefix = ipaddress.IPv4Network(net.subnet).prefixlen
            containers[ep.container_id] = {
                "Name": ep.container_name, "EndpointID": ep.id, "MacAddress": ep.mac,
                "IPv4Address": f"{ep.ipv4}/{prefix}",
                "IPv6Address": f"{ep.ipv6}/{_prefix(net.subnet6)}" if ep.ipv6 else ""}
        return {**self._summary(net), "Containers": containers}

    def list(self, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        filters = check_keys(filters, LIST_FILTERS)
        for value in filters.get("type", []):
            if value not in ("custom", "builtin"):
                raise InvalidParameter(f"invalid filter: 'type'='{value}'")
        for value in filters.get("dangling", []):
            if value.lower() not in ("true", "false", "1", "0"):
                raise InvalidParameter(f"invalid filter 'dangling={value}'")
        return [{**self._summary(n), "Containers": {}} for n in self.records.networks()
                if self._matches(n, filters)]

    def _matches(self, net: Network, filters: dict[str, list[str]]) -> bool:
        for key, values in filters.items():
            if not values:
                continue
            if key == "driver" and net.driver not in values:
                return False
            if key == "id" and not any(v in net.id for v in values):
                return False
            if key == "name" and not any(v in net.name for v in values):
                return False
            if key == "scope" and "local" not in values:
                return False
            if key == "label" and not match_kv(values, net.labels):
                return False
            if key == "type" and ("builtin" if net.predefined else "custom") not in values:
                return False
            if key == "dangling":
                used = bool(self.records.endpoints(network_id=net.id)) or net.predefined
                if used == (values[0].lower() in ("true", "1")):
                    return False
        return True

    def _summary(self, net: Network) -> dict[str, Any]:
        config = []
        if net.subnet:
            entry = {"Subnet": net.subnet, "Gateway": net.gateway}
            if net.ip_range:
                entry["IPRange"] = net.ip_range
            aux = (net.ipam_config[0].get("AuxiliaryAddresses") if net.ipam_config else None)
            if aux:
                entry["AuxiliaryAddresses"] = aux
            config.append(entry)
        if net.subnet6:
            config.append({"Subnet": net.subnet6, "Gateway": net.gateway6})
        return {"Name": net.name, "Id": net.id, "Created": net.created, "Scope": "local",
                "Driver": net.driver, "EnableIPv4": True, "EnableIPv6": net.ipv6,
                "IPAM": {"Driver": "default", "Options": net.ipam_options or None,
                         "Config": config},
                "Internal": net.internal, "Attachable": net.attachable, "Ingress": False,
                "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
                "Options": net.options, "Labels": net.labels}

    def emit_network(self, net: Network, action: str, **extra: str) -> None:
        self.events.emit("network", action, net.id, {"name": net.name, "type": net.driver,
                                                     **extra})

    # --- shutdown ---------------------------------------------------------------------------
    async def shutdown(self, running: list[Any]) -> None:
        """Proxies close with the daemon; the rules stay while containers run (live restore),
        and go when none does."""
        self.proxies.close_all()
        if self.firewall is not None and not any(
                self.records.endpoints(container_id=c.id) for c in running):
            try:
                await asyncio.to_thread(self.firewall.remove)
            except DockyardError as exc:
                log.warning("removing the nftables table: %s", exc.message)


def _check_parent(driver: str, options: dict[str, str]) -> None:
    """macvlan and ipvlan hang off `-o parent=IFACE`, which must exist (dockerd's texts);
    ipvlan_mode/macvlan_mode as dockerd accepts them."""
    parent = options.get("parent") or ""
    if not parent:
        raise InvalidParameter(f"{driver} networks need -o parent=<interface> (dockyard "
                               "does not make a dummy parent)")
    if parent not in plumbing.links_with_prefix(parent):
        raise InvalidParameter(f"-o parent interface was not found on the host: {parent}")
    mode = options.get(f"{driver}_mode", "")
    allowed = ("", "bridge", "private", "vepa", "passthru") if driver == "macvlan" else \
        ("", "l2", "l3", "l3s")
    if mode not in allowed:
        raise InvalidParameter(f"requested {driver} mode '{mode}' is not valid, "
                               f"'{allowed[1]}' mode is the {driver} driver default")


def _prefix(cidr: str) -> int:
    return ipaddress.ip_network(cidr).prefixlen if cidr else 0


def _text(flag: bool) -> str:
    return "true" if flag else "false"


def _created(net: Network) -> float:
    from ...timeutil import parse_rfc3339
    return parse_rfc3339(net.created)
