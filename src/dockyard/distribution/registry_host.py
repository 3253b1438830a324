"""Where a registry named by a user lives: Docker Hub's many names map to one endpoint, any
other `host[:port]` is tried over HTTPS and, for insecure registries (127.0.0.0/8 and the
daemon's `insecure-registries`), over plain HTTP after that, as dockerd does."""
from __future__ import annotations

import ipaddress
from typing import Sequence

HUB_NAME = "docker.io"
HUB_SERVER = "https://index.docker.io/v1/"     # Docker Hub's key in ~/.docker/config.json
HUB_ENDPOINT = "https://registry-1.docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io",
                "registry.hub.docker.com"}
_DEFAULT_INSECURE = (ipaddress.ip_network("127.0.0.0/8"),)


def registry_hostname(address: str) -> str:
    """"https://index.docker.io/v1/", "docker.io" ... -> "docker.io";
    "http://host:5000/v2/" or "host:5000" -> "host:5000" (scheme and path dropped)."""
    host = address.strip()
    for scheme in ("https://", "http://"):
        if host.lower().startswith(scheme):
            host = host[len(scheme):]
            break
    host = host.split("/", 1)[0]
    return HUB_NAME if host.lower() in _HUB_ALIASES or not host else host


def is_hub(address: str) -> bool:
    return registry_hostname(address) == HUB_NAME


def _bare_host(host: str) -> str:
    """"[::1]:5000" -> "::1", "localhost:5000" -> "localhost"."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_insecure(host: str, insecure_registries: Sequence[str] = ()) -> bool:
    """Whether plain HTTP (and unverified HTTPS) is allowed for `host[:port]`: loopback
    addresses always, and entries of `insecure-registries` (CIDRs or host[:port] names)."""
    if host in insecure_registries:
        return True
    name = _bare_host(host)
    if name == "localhost":
        name = "127.0.0.1"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return name in insecure_registries
    networks = list(_DEFAULT_INSECURE)
    for entry in insecure_registries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return any(address in net for net in networks if net.version == address.version)


def endpoint_urls(host: str, insecure_registries: Sequence[str] = ()) -> list[str]:
    """Base URLs to try in order for a registry hostname."""
    if host == HUB_NAME:
        return [HUB_ENDPOINT]
    urls = [f"https://{host}"]
    if is_insecure(host, insecure_registries):
        urls.append(f"http://{host}")
    return urls
