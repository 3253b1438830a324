"""HostConfig.NetworkMode as a create request gives it: defaulted, and the modes dockyard
does not have refused. Which network a name means is the network service's."""
from __future__ import annotations

from ...errors import InvalidParameter

NON_BRIDGE = ("none", "host")


def validate_mode(mode: str | None) -> str:
    """"default" (the `bridge` network) when absent; container:<name|id> names one."""
    mode = mode or "default"
    if mode == "container:":
        raise InvalidParameter("Invalid network mode: invalid container format "
                               "container:<name|id>")
    return mode


def shared_with(mode: str) -> str | None:
    """The container whose network namespace `container:<name|id>` shares."""
    return mode[len("container:"):] if mode.startswith("container:") else None
