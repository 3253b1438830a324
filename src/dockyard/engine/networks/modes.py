"""HostConfig.NetworkMode as a create request gives it: defaulted, and the modes dockyard
does not have refused. Which network a name means is the network service's."""
from __future__ import annotations

from ...errors import InvalidParameter

NON_BRIDGE = ("none", "host")


def validate_mode(mode: str | None) -> str:
    """"default" (the `bridge` network) when absent; container:<id> is not supported yet."""
    mode = mode or "default"
    if mode.startswith("container:"):
        raise InvalidParameter("container network mode is not supported yet")
    return mode
