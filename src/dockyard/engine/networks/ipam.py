"""Address management: Docker's default pools, the subnet a new network gets, gateway and
container addresses inside it.

Why a host-wide lock: several daemons (Docker's, ours, the tests') share the host's routing
table; a subnet is free when no host route or address overlaps it, and the choice holds only
until its bridge has its address. Picking and plumbing happen under one flock, so two daemons
never pick the same subnet."""
from __future__ import annotations

import fcntl
import ipaddress
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ...errors import DockyardError, InvalidParameter

LOCK_PATH = "/run/dockyard/ipam.lock"
# dockerd's defaults: 172.17-172.31 as /16s, then 192.168.0.0/16 cut in /20s
DEFAULT_POOLS = [{"base": "172.17.0.0/16", "size": 16}, {"base": "172.18.0.0/16", "size": 16},
                 {"base": "172.19.0.0/16", "size": 16}, {"base": "172.20.0.0/14", "size": 16},
                 {"base": "172.24.0.0/14", "size": 16}, {"base": "172.28.0.0/14", "size": 16},
                 {"base": "192.168.0.0/16", "size": 20}]

IPv4Net = ipaddress.IPv4Network
Net = ipaddress.IPv4Network | ipaddress.IPv6Network


@contextmanager
def host_lock() -> Iterator[None]:
    os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def parse_pools(raw: Any) -> list[dict[str, Any]]:
    """daemon.json `default-address-pools`: [{"base": CIDR, "size": N}, ...]."""
    if raw is None:
        return DEFAULT_POOLS
    if not isinstance(raw, list):
        raise SystemExit("invalid default-address-pools: want a list of {base, size}")
    for pool in raw:
        try:
            base = IPv4Net(pool["base"])
            size = int(pool["size"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SystemExit(f"invalid default-address-pools entry {pool!r}: {exc}") from None
        if not base.prefixlen <= size <= 30:
            raise SystemExit(f"invalid pools size: {size}")
    return raw


def candidates(pools: list[dict[str, Any]]) -> Iterator[IPv4Net]:
    for pool in pools:
        base = IPv4Net(pool["base"])
        yield from base.subnets(new_prefix=int(pool["size"]))


def overlaps(subnet: IPv4Net, used: list[IPv4Net]) -> bool:
    return any(subnet.overlaps(other) for other in used)


def pick_subnet(pools: list[dict[str, Any]], used: list[IPv4Net]) -> IPv4Net:
    for subnet in candidates(pools):
        if not overlaps(subnet, used):
            return subnet
    raise DockyardError("could not find an available, non-overlapping IPv4 address pool "
                        "among the defaults to assign to the network")


def split_configs(configs: list[dict[str, Any]]
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """IPAM.Config → (the IPv4 entry, the IPv6 entry); at most one of each."""
    v4: list[dict[str, Any]] = []
    v6: list[dict[str, Any]] = []
    for entry in configs:
        subnet = entry.get("Subnet") or ""
        (v6 if ":" in subnet else v4).append(entry)
    if len(v4) > 1 or len(v6) > 1:
        raise InvalidParameter("dockyard supports one IPv4 and one IPv6 pool per network")
    return (v4[0] if v4 else {}), (v6[0] if v6 else {})


def random_ula() -> ipaddress.IPv6Network:
    """A /64 of a random RFC 4193 prefix (fd + 40 random bits), as dockerd picks one for an
    IPv6 network given no subnet."""
    prefix = (0xfd << 120) | (int.from_bytes(os.urandom(5), "big") << 80)
    return ipaddress.IPv6Network((prefix, 64))


def parse_config(entry: dict[str, Any]) -> tuple[Net | None, str, str, dict[str, str]]:
    """One IPAM.Config entry: (subnet, gateway, ip range, aux addresses), checked as dockerd
    checks them."""
    subnet_text = entry.get("Subnet") or ""
    subnet = None
    if subnet_text:
        try:
            subnet = ipaddress.ip_network(subnet_text, strict=False)
        except ValueError:
            raise InvalidParameter(f"invalid CIDR address: {subnet_text}") from None
    gateway = entry.get("Gateway") or ""
    ip_range = entry.get("IPRange") or ""
    aux = entry.get("AuxiliaryAddresses") or entry.get("AuxAddress") or {}
    if subnet is None and (gateway or ip_range or aux):
        raise InvalidParameter("ipam config: gateway, ip-range and aux-address need a subnet")
    if gateway:
        _inside(subnet, gateway, "gateway")  # type: ignore[arg-type]
    if ip_range:
        try:
            rng = ipaddress.ip_network(ip_range, strict=False)
        except ValueError:
            raise InvalidParameter(f"invalid CIDR address: {ip_range}") from None
        if rng.version != subnet.version or \
                not rng.subnet_of(subnet):  # type: ignore[arg-type,union-attr]
            raise InvalidParameter(f"Invalid address range {ip_range}: it does not belong "
                                   f"to the pool {subnet}")
    for name, address in aux.items():
        _inside(subnet, address, f"aux-address {name}")  # type: ignore[arg-type]
    return subnet, gateway, ip_range, dict(aux)


def _inside(subnet: Net, address: str, what: str) -> None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise InvalidParameter(f"invalid {what} address: {address}") from None
    if ip not in subnet:
        raise InvalidParameter(f"Invalid {what} {address}: it does not belong to the pool "
                               f"{subnet}")


def first_host(subnet: Net) -> str:
    return str(subnet.network_address + 1)


def next_free(subnet: Net, ip_range: str, taken: set[str]) -> str:
    """The lowest free address (dockerd hands them out in order from the range, whose own
    first address counts: only the subnet's network and broadcast addresses are skipped)."""
    pool = ipaddress.ip_network(ip_range, strict=False) if ip_range else subnet
    for ip in pool:
        text = str(ip)
        if text not in taken and ip not in (subnet.network_address,
                                            subnet.broadcast_address):
            return text
    raise DockyardError(f"no available IPv{subnet.version} addresses on this network's "
                        f"address pools: {subnet}")


def requested(subnet: Net, address: str, taken: set[str]) -> str:
    """A container's `--ip`/`--ip6`: inside the subnet and not in use (dockerd's texts)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise InvalidParameter(f"invalid IPv{subnet.version} address: {address}") from None
    if ip.version != subnet.version:
        raise InvalidParameter(f"no configured subnet or ip-range contain the IP address "
                               f"{address}")
    if ip not in subnet or ip in (subnet.network_address,  # type: ignore[operator]
                                  subnet.broadcast_address):
        raise InvalidParameter(f"no configured subnet or ip-range contain the IP address "
                               f"{address}")
    if address in taken:
        raise DockyardError("Address already in use")
    return address


def mac_for(address: str) -> str:
    """Docker's MAC scheme: 02:42 followed by the four bytes of the IPv4 address."""
    return ":".join(["02", "42", *(f"{b:02x}" for b in ipaddress.IPv4Address(address).packed)])
