"""Published ports: HostConfig.PortBindings and -P (PublishAllPorts) read as dockerd reads
them, host ports chosen (ephemeral ones from the kernel's range), and the Ports map and list
that inspect and ps show."""
from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from typing import Any

from ...errors import InvalidParameter
from .proxy import port_free

PROTOS = ("tcp", "udp")
EPHEMERAL = (32768, 60999)  # dockerd's default when ip_local_port_range can't be read


@dataclass
class Wanted:
    proto: str
    container_port: int
    host_ip: str
    first: int       # 0: any ephemeral port
    last: int


def port_key(key: str) -> tuple[int, str]:
    """ "80/tcp" → (80, "tcp"); Docker's error for anything else."""
    port, _, proto = str(key).partition("/")
    proto = proto or "tcp"
    try:
        number = int(port)
    except ValueError:
        raise InvalidParameter(f"invalid port specification: \"{key}\"") from None
    if proto not in PROTOS:
        raise InvalidParameter(f"invalid proto: {proto}")
    if not 0 < number < 65536:
        raise InvalidParameter(f"invalid port specification: \"{key}\"")
    return number, proto


def _host_range(text: str) -> tuple[int, int]:
    if text in ("", "0"):   # any ephemeral port
        return 0, 0
    first, _, last = text.partition("-")
    try:
        lo, hi = int(first), int(last or first)
    except ValueError:
        raise InvalidParameter(f"invalid port specification: \"{text}\"") from None
    if not (0 < lo <= hi < 65536):
        raise InvalidParameter(f"invalid port specification: \"{text}\"")
    return lo, hi


def wanted(host_config: dict[str, Any], config: dict[str, Any]) -> list[Wanted]:
    """What the container publishes; checked at create, used at start."""
    out = []
    bindings = host_config.get("PortBindings") or {}
    for key, entries in bindings.items():
        port, proto = port_key(key)
        for entry in entries or [{}]:
            entry = entry or {}
            lo, hi = _host_range(str(entry.get("HostPort") or ""))
            out.append(Wanted(proto, port, _host_ip(entry), lo, hi))
    if host_config.get("PublishAllPorts"):
        for key in config.get("ExposedPorts") or {}:
            if key not in bindings:
                port, proto = port_key(key)
                out.append(Wanted(proto, port, "", 0, 0))
    return out


def _host_ip(entry: dict[str, Any]) -> str:
    """A binding's HostIp, IPv6 ones in canonical form (brackets tolerated)."""
    text = str(entry.get("HostIp") or "").strip("[]")
    if not text:
        return ""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise InvalidParameter(f"invalid IP address: {text}") from None


def host_ips(host_ip: str, has_ipv6: bool) -> list[str]:
    """Where one binding listens: no host IP on a container with an IPv6 address is both
    0.0.0.0 and [::], as dockerd binds it."""
    if not host_ip:
        return ["", "::"] if has_ipv6 else [""]
    return [host_ip]


def ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = f.read().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return EPHEMERAL


def choose(want: Wanted, taken: set[tuple[str, int]], host_ips: list[str]) -> int | None:
    """A host port for `want` that no binding of ours holds and (for a range or an
    ephemeral port) no socket is bound to on any of `host_ips`; None when none is left."""
    if want.first and want.first == want.last:  # one fixed port: a busy socket is the
        return None if (want.proto, want.first) in taken else want.first  # proxy's error
    if want.first:
        ports = range(want.first, want.last + 1)
    else:
        lo, hi = ephemeral_range()
        start = random.randint(lo, hi)
        ports = [*range(start, hi + 1), *range(lo, start)]   # type: ignore[assignment]
    for port in ports:
        if (want.proto, port) in taken:
            continue
        if all(port_free(want.proto, ip, port) for ip in host_ips):
            return port
    return None


def ports_map(config: dict[str, Any], bound: list[Any]) -> dict[str, Any]:
    """NetworkSettings.Ports of a running container: exposed ports map to None, published
    ones to their bindings."""
    out: dict[str, Any] = {key if "/" in key else f"{key}/tcp": None
                           for key in config.get("ExposedPorts") or {}}
    for b in bound:
        out.setdefault(f"{b.container_port}/{b.proto}", None)
        out[f"{b.container_port}/{b.proto}"] = (out[f"{b.container_port}/{b.proto}"] or []) + \
            [{"HostIp": b.host_ip or "0.0.0.0", "HostPort": str(b.host_port)}]
    return out


def ports_list(ports: dict[str, Any]) -> list[dict[str, Any]]:
    """ContainerSummary.Ports from a Ports map."""
    out = []
    for key, bindings in ports.items():
        port, proto = port_key(key)
        if not bindings:
            out.append({"PrivatePort": port, "Type": proto})
        for b in bindings or []:
            out.append({"IP": b["HostIp"], "PrivatePort": port,
                        "PublicPort": int(b["HostPort"]), "Type": proto})
    return out
