"""What a create request asks of the networks: NetworkSettings.Networks of a new container,
checked before anything is written (unknown networks, bad addresses, aliases and links
where Docker refuses them, bad port specifications). Mixed into Endpoints."""
from __future__ import annotations

import ipaddress
from typing import Any, Callable

from ...errors import InvalidParameter
from . import ipam, links, ports
from .modes import NON_BRIDGE, shared_with
from .records import Network


def endpoint_settings(net_id: str, wanted: dict[str, Any] | None = None) -> dict[str, Any]:
    """EndpointSettings as a container's record keeps it (the request's parts kept)."""
    wanted = wanted or {}
    return {"IPAMConfig": wanted.get("IPAMConfig") or None, "Links": wanted.get("Links"),
            "Aliases": wanted.get("Aliases") or None,
            "MacAddress": wanted.get("MacAddress") or "", "DriverOpts": wanted.get("DriverOpts"),
            "NetworkID": net_id, "EndpointID": "", "Gateway": "", "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "DNSNames": None}


class CreateConfig:
    """Uses the service's get and _container."""

    get: Callable[[str], Network]
    _container: Callable[[str], Any]

    # --- create -----------------------------------------------------------------------------
    def networks_for_create(self, mode: str, networking: Any,
                            host_config: dict[str, Any], config: dict[str, Any],
                            name: str = "") -> dict[str, dict[str, Any]]:
        """NetworkSettings.Networks of a new container; unknown networks, bad addresses and
        bad port specifications refused before anything is written."""
        ports.wanted(host_config, config)
        wanted = ((networking or {}).get("EndpointsConfig") or {}) \
            if isinstance(networking, dict) else {}
        # the docker CLI keys the endpoint of `--network` (default too) by the mode's name
        wanted = {("bridge" if k == "default" else k): v for k, v in wanted.items()}
        other = shared_with(mode)
        if other is not None:
            self._container(other)   # Docker's "No such container"
            if host_config.get("PortBindings") or host_config.get("PublishAllPorts"):
                raise InvalidParameter("conflicting options: port publishing and the "
                                       "container type network mode")
            if config.get("MacAddress"):
                raise InvalidParameter("conflicting options: mac-address and the network "
                                       "mode")
            return {}
        # a network named by ID (or ID prefix) keys its endpoint by the network's name
        primary = self.get("bridge" if mode == "default" else mode).name
        user_links: list[str] | None = None
        if host_config.get("Links"):
            if primary in NON_BRIDGE:
                raise InvalidParameter("legacy links are only supported on the default "
                                       "bridge network")
            if primary == "bridge":
                host_config["Links"] = links.normalise(host_config["Links"], name,
                                                       self._container)
            else:   # on a user network a link is a DNS alias for this container only
                user_links = links.endpoint_links(host_config["Links"])
        out: dict[str, dict[str, Any]] = {}
        for name in [primary, *[n for n in wanted if n != primary]]:
            net = self.get(name)
            if name != primary and primary in NON_BRIDGE:
                raise InvalidParameter("conflicting options: cannot attach both user-defined "
                                       "and non-user-defined network-modes")
            settings = endpoint_settings(net.id, wanted.get(name) or wanted.get(net.id))
            links.parse(settings["Links"])   # "target[:alias]" each, or Docker's 400
            if net.name in NON_BRIDGE:
                settings["NetworkID"] = net.id
            address = (settings["IPAMConfig"] or {}).get("IPv4Address")
            if address:
                if net.name == "bridge":
                    raise InvalidParameter("user specified IP address is supported on user "
                                           "defined networks only")
                ipam.requested(ipaddress.IPv4Network(net.subnet), address, set())
            if settings["Aliases"] and net.name == "bridge":
                raise InvalidParameter("network-scoped alias is supported only for containers "
                                       "in user defined networks")
            out[net.name] = settings
        if user_links:
            out[primary]["Links"] = list(dict.fromkeys((out[primary]["Links"] or []) +
                                                       user_links))
        if not out[primary]["MacAddress"] and config.get("MacAddress"):
            out[primary]["MacAddress"] = config["MacAddress"]
        return out
