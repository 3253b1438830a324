"""Connect and disconnect of a container (running or not), a rename's effect on its
endpoints, and the name lookups the embedded DNS may use: mixed into NetworkService beside
endpoints.py, whose attach and drop they use."""
from __future__ import annotations

import asyncio
from typing import Any

from ...errors import Forbidden, InvalidParameter
from . import etc_files, links, plumbing
from .createconfig import endpoint_settings
from .endpoints import Endpoints
from .modes import NON_BRIDGE, shared_with


class Connecting(Endpoints):
    async def connect(self, ref: str, container_ref: str, config: Any = None) -> None:
        net = self.get(ref)
        container = self._container(container_ref)
        if not isinstance(config, (dict, type(None))):
            raise InvalidParameter("invalid EndpointConfig")
        mode = container.host_config.get("NetworkMode", "default")
        if shared_with(mode) is not None:
            raise InvalidParameter("container sharing network namespace with another "
                                   "container or host cannot be connected to any other "
                                   "network")
        if mode in NON_BRIDGE or net.name in NON_BRIDGE:
            raise InvalidParameter("container cannot be disconnected from host network or "
                                   "connected to host network" if "host" in (mode, net.name)
                                   else "container sharing network namespace with another "
                                   "container or host cannot be connected to any other network")
        async with container.lifecycle:
            networks = container.record["NetworkSettings"]["Networks"]
            if net.name in networks:
                raise Forbidden(f"endpoint with name {container.name} already exists in "
                                f"network {net.name}")
            settings = endpoint_settings(net.id, config)
            links.parse(settings["Links"])
            address = (settings["IPAMConfig"] or {}).get("IPv4Address")
            if address and net.name == "bridge":
                raise InvalidParameter("user specified IP address is supported on user "
                                       "defined networks only")
            if container.running:
                netns = f"/proc/{container.state['Pid']}/ns/net"
                ifname = await asyncio.to_thread(plumbing.free_ifname, netns)
                await self._attach(container, net, settings, netns, ifname)
                if self._has_closed_icc(container.id):
                    await asyncio.to_thread(self.apply_firewall)
                networks[net.name] = settings
                await asyncio.to_thread(self._rewrite_etc_files, container)
                await self._hook("joined", container, net, netns)
            else:
                networks[net.name] = settings
                self.emit_network(net, "connect", container=container.id)
            container.save()

    def _rewrite_etc_files(self, container: Any) -> None:
        """A running container's hosts and resolv.conf after a connect, as dockerd updates
        them: the new address listed and, once a user-defined network is joined, the
        embedded DNS (127.0.0.11) in resolv.conf, whose upstreams its listener then reads.
        `--link` lines are appended again, as at start."""
        etc_files.write(container.record, self.dns_settings, self.etc_endpoints(container))
        link_hosts = links.running_hosts_lines(container, self._container)
        if link_hosts:
            with open(container.record["HostsPath"], "a") as f:
                f.write("".join(f"{line}\n" for line in link_hosts))

    async def disconnect(self, ref: str, container_ref: str, force: bool = False) -> None:
        net = self.get(ref)
        container = self._container(container_ref)
        async with container.lifecycle:
            networks = container.record["NetworkSettings"]["Networks"]
            if net.name not in networks:
                raise Forbidden(f"container {container.id} is not connected to network "
                                f"{net.name}")
            if net.name in NON_BRIDGE:
                raise InvalidParameter("container cannot be disconnected from host network or "
                                       "connected to host network")
            eps = self.records.endpoints(network_id=net.id, container_id=container.id)
            for ep in eps:
                await self._drop_endpoint(container, ep, hooks=True)
                await asyncio.to_thread(self.apply_firewall)
            if not eps:
                self.emit_network(net, "disconnect", container=container.id)
            del networks[net.name]
            container.save()

    async def renamed(self, container: Any) -> None:
        """The endpoints answer to the container's new name (DNS, network inspect)."""
        def rename() -> None:
            with self.db.transaction() as conn:
                self.records.rename_endpoints(conn, container.id, container.name)
        if self.records.endpoints(container_id=container.id):
            await asyncio.to_thread(rename)

    # --- names for the embedded DNS ---------------------------------------------------------
    def lookup(self, network_ids: list[str], name: str) -> list[str]:
        """IPv4s of containers on these networks whose name, short ID, hostname or alias is
        `name` (case-insensitive, as DNS)."""
        name = name.lower().rstrip(".")
        found = []
        for net_id in network_ids:
            for ep in self.records.endpoints(network_id=net_id):
                names = {ep.container_name, ep.container_id[:12], ep.hostname, *ep.aliases}
                if name in {n.lower() for n in names if n} and ep.ipv4 not in found:
                    found.append(ep.ipv4)
        return found

    def reverse(self, network_ids: list[str], ip: str) -> str | None:
        for net_id in network_ids:
            for ep in self.records.endpoints(network_id=net_id):
                if ep.ipv4 == ip:
                    return ep.container_name
        return None
