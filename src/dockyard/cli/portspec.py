"""-p, --expose, --ip, --mac-address and --network-alias turned into the create body, as
the docker CLI's port spec parsing (go-connections' nat.ParsePortSpec) does."""
from __future__ import annotations

from typing import Any

from .common import fail


def _range(text: str, spec: str, what: str = "containerPort") -> tuple[int, int]:
    if not text:
        fail(f"docker: no port specified: {spec}<empty>", 125)
    first, _, last = text.partition("-")
    try:
        lo, hi = int(first), int(last or first)
    except ValueError:
        fail(f"docker: invalid {what}: {text}", 125)
    if not ((0 if what == "hostPort" else 1) <= lo <= hi < 65536):   # host port 0: any
        fail(f"docker: invalid {what}: {text}", 125)
    return lo, hi


def parse_publish(spec: str) -> list[tuple[str, dict[str, str]]]:
    """One -p value: [("80/tcp", {"HostIp": ..., "HostPort": ...}), ...]."""
    rest, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        fail(f"docker: invalid proto: {proto}", 125)
    parts = rest.rsplit(":", 2)
    host_ip, host_port, container = "", "", parts[-1]
    if len(parts) == 2:
        host_port = parts[0]
    elif len(parts) == 3:
        host_ip, host_port = parts[0].strip("[]"), parts[1]
    lo, hi = _range(container, spec)
    hlo, hhi = _range(host_port, spec, "hostPort") if host_port else (0, 0)
    if host_port and hhi - hlo != hi - lo and hi != lo:
        fail(f"docker: invalid ranges specified for container and host Ports: {container} "
             f"and {host_port}", 125)
    out = []
    for n, port in enumerate(range(lo, hi + 1)):
        if not host_port:
            hp = ""
        elif hi == lo:
            hp = host_port                   # one container port: the host range is kept
        else:
            hp = str(hlo + n)
        out.append((f"{port}/{proto}", {"HostIp": host_ip, "HostPort": hp}))
    return out


def apply(o: Any, body: dict[str, Any], host_config: dict[str, Any]) -> None:
    bindings: dict[str, list[dict[str, str]]] = {}
    exposed: dict[str, dict[str, Any]] = {}
    for spec in o.publish:
        for key, binding in parse_publish(spec):
            bindings.setdefault(key, []).append(binding)
            exposed[key] = {}
    for spec in o.expose:
        port, _, proto = spec.partition("/")
        lo, hi = _range(port, spec)
        for p in range(lo, hi + 1):
            exposed[f"{p}/{proto or 'tcp'}"] = {}
    if bindings:
        host_config["PortBindings"] = bindings
    if exposed:
        body["ExposedPorts"] = exposed
    host_config["PublishAllPorts"] = bool(o.publish_all)
    endpoint: dict[str, Any] = {}
    if o.ip or o.ip6:
        endpoint["IPAMConfig"] = {k: v for k, v in (("IPv4Address", o.ip),
                                                     ("IPv6Address", o.ip6)) if v}
    if o.network_alias:
        endpoint["Aliases"] = list(o.network_alias)
    if o.mac_address:
        endpoint["MacAddress"] = o.mac_address
    if endpoint:
        network = host_config.get("NetworkMode") or "default"
        body["NetworkingConfig"] = {"EndpointsConfig": {network: endpoint}}
