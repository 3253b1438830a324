"""The embedded resolver plugged into the network service: an endpoint hook that keeps the
name table (dnsnames.py) and the per-container listeners (dns.py) in step with endpoints.

As in Docker, only user-defined networks have the embedded DNS: a container on the default
bridge alone keeps the legacy resolv.conf and no listener. The table is filled from the
hooks' calls, which the network service repeats for running containers after a restart."""
from __future__ import annotations

import logging
from typing import Any

from .dns import Resolver
from .dnsnames import NameTable, endpoint_dns_names
from .etc_files import read_upstreams
from .links import parse as parse_links

log = logging.getLogger(__name__)
DEFAULT = "bridge"


class DnsHook:
    def __init__(self, resolver: Resolver, networks: Any) -> None:
        self.resolver = resolver
        self.table = NameTable()
        self.networks = networks      # for the container's other endpoints

    async def joined(self, container: Any, network: Any, netns_path: str) -> None:
        if network.name == DEFAULT:
            return
        endpoint = next((e for e in self.networks.records.endpoints(
            network_id=network.id, container_id=container.id)), None)
        if endpoint is None:
            return
        names = endpoint_dns_names(container.name, container.id, endpoint.hostname,
                                   endpoint.aliases)
        settings = (container.record.get("NetworkSettings", {}).get("Networks") or {}
                    ).get(network.name) or {}
        self.table.add(network.name, container.id, container.name, names,
                       [a for a in (endpoint.ipv4, endpoint.ipv6) if a],
                       parse_links(settings.get("Links")))
        if container.id not in self.resolver.attached():
            lookup, reverse = self.table.resolvers_for(container.id)
            await self.resolver.attach(container.id, netns_path, lookup, reverse,
                                       read_upstreams(container.record["ResolvConfPath"]))

    async def left(self, container: Any, network: Any) -> None:
        self.table.remove(network.name, container.id)
        still = [e for e in self.networks.records.endpoints(container_id=container.id)
                 if e.network_id != network.id and self._user_network(e.network_id)]
        if not still:
            await self.resolver.detach(container.id)

    def _user_network(self, network_id: str) -> bool:
        net = self.networks.records.network(network_id)
        return net is not None and net.name != DEFAULT
