"""The names the embedded resolver answers for, scoped per network as Docker scopes them.

Each endpoint (a container on a network) brings its DNS names (EndpointSettings.DNSNames:
the container's name, its --network-alias values, its short ID, its hostname) and its
addresses. A container resolves the names of the networks it is on, bare or qualified with
the network's name (`web.mynet`); a reverse lookup gives `<container name>.<network>`, as in
Docker. An endpoint's own links (EndpointSettings.Links, "target:alias") make `alias` a name,
seen only from that endpoint, of the container `target` on the same network, whenever the
target joins (as libnetwork's per-endpoint aliases). The table lives in memory: the network service refills it from its records at
start-up, before it re-attaches the resolver of each running container.
"""
from __future__ import annotations

import ipaddress
import random
import threading
from dataclasses import dataclass
from typing import Callable


def endpoint_dns_names(name: str, container_id: str, hostname: str,
                       aliases: list[str] | None) -> list[str]:
    """EndpointSettings.DNSNames of a container on a user-defined network, in Docker's
    order, without repeats."""
    names = [name.lstrip("/")] + list(aliases or []) + [container_id[:12], hostname]
    return list(dict.fromkeys(n for n in names if n))


@dataclass(frozen=True)
class _Endpoint:
    container_name: str
    names: tuple[str, ...]        # lower-cased
    addresses: tuple[str, ...]
    links: dict[str, str]         # lower-cased alias -> target container name


class NameTable:
    """network -> container ID -> endpoint. Read by the resolver on the event loop and
    written by the network service, hence the lock."""

    def __init__(self) -> None:
        self._networks: dict[str, dict[str, _Endpoint]] = {}
        self._lock = threading.Lock()

    def add(self, network: str, container_id: str, container_name: str,
            names: list[str], addresses: list[str],
            links: list[tuple[str, str]] | None = None) -> None:
        """Record (or replace) a container's endpoint on `network`; `links` are its
        (target, alias) pairs."""
        endpoint = _Endpoint(container_name.lstrip("/"),
                             tuple(n.lower().rstrip(".") for n in names),
                             tuple(str(ipaddress.ip_address(a)) for a in addresses),
                             {alias.lower(): target.lower() for target, alias in links or []})
        with self._lock:
            self._networks.setdefault(network, {})[container_id] = endpoint

    def remove(self, network: str, container_id: str) -> None:
        with self._lock:
            endpoints = self._networks.get(network, {})
            endpoints.pop(container_id, None)
            if not endpoints:
                self._networks.pop(network, None)

    def remove_container(self, container_id: str) -> None:
        with self._lock:
            networks = [n for n, eps in self._networks.items() if container_id in eps]
        for network in networks:
            self.remove(network, container_id)

    def _scope(self, container_id: str) -> list[tuple[str, dict[str, _Endpoint]]]:
        with self._lock:
            return [(n, dict(eps)) for n, eps in self._networks.items() if container_id in eps]

    def lookup(self, container_id: str, name: str) -> list[str]:
        """Addresses of `name` as seen from `container_id`'s networks (shuffled, as
        Docker shuffles several answers); [] when no endpoint there has that name."""
        name = name.lower().rstrip(".")
        found: list[str] = []
        for network, endpoints in self._scope(container_id):
            bare = name
            suffix = "." + network.lower()
            if name.endswith(suffix):
                bare = name[: -len(suffix)]
            target = endpoints[container_id].links.get(bare)
            for endpoint in endpoints.values():
                if (name in endpoint.names or bare in endpoint.names
                        or endpoint.container_name.lower() == target):
                    found += [a for a in endpoint.addresses if a not in found]
        random.shuffle(found)
        return found

    def reverse(self, container_id: str, address: str) -> str | None:
        """`<container name>.<network>` of the endpoint with `address` on one of
        `container_id`'s networks, or None."""
        try:
            address = str(ipaddress.ip_address(address))
        except ValueError:
            return None
        for network, endpoints in self._scope(container_id):
            for endpoint in endpoints.values():
                if address in endpoint.addresses:
                    return f"{endpoint.container_name}.{network}"
        return None

    def resolvers_for(self, container_id: str
                      ) -> tuple[Callable[[str], list[str]], Callable[[str], str | None]]:
        """The (lookup, reverse) pair `Resolver.attach` takes for one container; both read
        the table live, so connects and disconnects need no re-attach."""
        return (lambda name: self.lookup(container_id, name),
                lambda address: self.reverse(container_id, address))
