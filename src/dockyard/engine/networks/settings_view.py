"""NetworkSettings of container inspect as dockerd shows it to a given API version.

The record keeps one shape (NetworkSettings.Networks is the truth); what older clients read
is derived here, as moby's inspect handler does:
- below API 1.52 the default bridge's endpoint is repeated as top-level fields (EndpointID,
  Gateway, IPAddress, IPPrefixLen, IPv6Gateway, GlobalIPv6Address, GlobalIPv6PrefixLen,
  MacAddress; deprecated in 1.44) — empty when the container is not on the bridge, as every
  dockerd serving up to 1.45 shows them; from 1.52 they are gone, with Bridge, HairpinMode,
  LinkLocalIPv6Address/PrefixLen and SecondaryIP(v6)Addresses (never set by dockerd);
- below API 1.45 the Aliases of a user-defined network also list the short container ID
  and the hostname (1.45 returns only the aliases asked for; DNSNames has the rest)."""
from __future__ import annotations

import copy
from typing import Any

from .modes import NON_BRIDGE

DEFAULT_BRIDGE = "bridge"
# the bridge endpoint's fields repeated at the top of NetworkSettings, with their empty value
TOP_LEVEL: dict[str, Any] = {"EndpointID": "", "Gateway": "", "GlobalIPv6Address": "",
                             "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0,
                             "IPv6Gateway": "", "MacAddress": ""}
NEVER_SET: dict[str, Any] = {"HairpinMode": False, "LinkLocalIPv6Address": "",
                             "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": None,
                             "SecondaryIPv6Addresses": None}


def network_settings(record: dict[str, Any], version: tuple[int, ...]) -> dict[str, Any]:
    """A new NetworkSettings for `record` (never modified) as API `version` shows it."""
    kept = record.get("NetworkSettings") or {}
    networks = copy.deepcopy(kept.get("Networks") or {})
    out: dict[str, Any] = {"SandboxID": kept.get("SandboxID", ""),
                           "SandboxKey": kept.get("SandboxKey", ""),
                           "Ports": kept.get("Ports") or {}}
    if version < (1, 52):
        out = {"Bridge": kept.get("Bridge", ""), **out, **NEVER_SET}
        bridge = networks.get(DEFAULT_BRIDGE) or {}
        for field, empty in TOP_LEVEL.items():
            out[field] = bridge.get(field) or empty
    if version < (1, 45):
        short_id = record.get("Id", "")[:12]
        hostname = (record.get("Config") or {}).get("Hostname") or ""
        for name, settings in networks.items():
            if name in NON_BRIDGE or name == DEFAULT_BRIDGE:
                continue
            aliases = list(settings.get("Aliases") or [])
            for extra in (short_id, hostname):
                if extra and extra not in aliases:
                    aliases.append(extra)
            settings["Aliases"] = aliases
    out["Networks"] = networks
    return out
