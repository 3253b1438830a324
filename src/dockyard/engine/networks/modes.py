"""The network modes a container can ask for today, and the endpoint record each gives."""
from __future__ import annotations

from typing import Any

from ...errors import InvalidParameter

BUILTIN = {"default", "bridge", "none", "host"}


def validate_mode(mode: str | None) -> str:
    """HostConfig.NetworkMode, defaulted; Docker's error for a network that does not exist."""
    mode = mode or "default"
    if mode not in BUILTIN:
        if mode.startswith("container:"):
            raise InvalidParameter("container network mode is not supported yet")
        raise InvalidParameter(f"network {mode} not found")
    return mode


def initial_networks(mode: str) -> dict[str, dict[str, Any]]:
    """NetworkSettings.Networks of a new container: one endpoint for none and host, none
    yet for the default (no bridge exists)."""
    if mode not in ("none", "host"):
        return {}
    return {mode: {"IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "",
                   "NetworkID": mode, "EndpointID": "", "Gateway": "", "IPAddress": "",
                   "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
                   "GlobalIPv6PrefixLen": 0, "DriverOpts": None, "DNSNames": None}}
