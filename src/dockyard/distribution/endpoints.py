"""Where a repository lives: registry endpoints, mirrors and plain-HTTP registries.

Docker Hub names (docker.io/library/busybox) are served by registry-1.docker.io, after the
daemon's `registry-mirrors` (Docker only mirrors Docker Hub). Any other domain is contacted
by name. `insecure-registries` (CIDRs or host[:port]; 127.0.0.0/8 always) may speak plain
HTTP: HTTPS is tried first and HTTP is the fallback, as in dockerd.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

DOCKER_HUB = "docker.io"
HUB_ENDPOINT = "https://registry-1.docker.io"
DEFAULT_INSECURE_CIDRS = ("127.0.0.0/8",)


@dataclass(frozen=True)
class Endpoint:
    """One base URL to try (https://host or http://host), and whether it is a mirror."""
    url: str
    mirror: bool = False
    fallback_http: str | None = None     # the plain HTTP URL to try if TLS fails

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1].rstrip("/")


@dataclass
class RegistrySettings:
    """The daemon's registry-mirrors and insecure-registries (daemon.json)."""
    mirrors: list[str] = field(default_factory=list)
    insecure_cidrs: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = field(
        default_factory=list)
    insecure_hosts: list[str] = field(default_factory=list)
    # scheme found to work per host ("https" or "http"), so the probe happens once
    schemes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> "RegistrySettings":
        settings = cls()
        for mirror in raw.get("registry-mirrors") or []:
            settings.mirrors.append(_normalise_mirror(str(mirror)))
        for cidr in DEFAULT_INSECURE_CIDRS:
            settings.insecure_cidrs.append(ipaddress.ip_network(cidr))
        for entry in raw.get("insecure-registries") or []:
            entry = str(entry)
            if "://" in entry:
                raise SystemExit(f"insecure registry {entry} should not contain '://'")
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                settings.insecure_hosts.append(entry.rstrip("/"))
            else:
                if network not in settings.insecure_cidrs:
                    settings.insecure_cidrs.append(network)
        return settings

    def is_insecure(self, host: str) -> bool:
        """Docker's isSecureIndex, inverted: a listed host[:port], or a host whose address
        lies in an insecure CIDR."""
        if host in self.insecure_hosts:
            return True
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        hostname = hostname.strip("[]")
        try:
            addresses = [ipaddress.ip_address(hostname)]
        except ValueError:
            try:
                infos = socket.getaddrinfo(hostname, None, proto=socket.IPPROTO_TCP)
            except OSError:
                return False
            addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        return any(address in network for address in addresses
                   for network in self.insecure_cidrs)

    def endpoints(self, domain: str) -> list[Endpoint]:
        """The base URLs to try for a repository's domain, in order."""
        if domain == DOCKER_HUB:
            found = [self._endpoint(m, True) for m in self.mirrors]
            return found + [Endpoint(HUB_ENDPOINT)]
        return [self._endpoint(f"https://{domain}", False)]

    def _endpoint(self, url: str, mirror: bool) -> Endpoint:
        scheme, _, host = url.partition("://")
        if scheme == "http" or self.schemes.get(host) == "http":
            return Endpoint(f"http://{host}", mirror)
        fallback = f"http://{host}" if self.is_insecure(host) else None
        return Endpoint(f"https://{host}", mirror, fallback)

    def registry_config(self) -> dict[str, Any]:
        """/info's RegistryConfig."""
        index_configs: dict[str, Any] = {
            DOCKER_HUB: {"Name": DOCKER_HUB, "Mirrors": list(self.mirrors), "Secure": True,
                         "Official": True}}
        for host in self.insecure_hosts:
            index_configs[host] = {"Name": host, "Mirrors": [], "Secure": False,
                                   "Official": False}
        return {"AllowNondistributableArtifactsCIDRs": None,
                "AllowNondistributableArtifactsHostnames": None,
                "InsecureRegistryCIDRs": [str(n) for n in self.insecure_cidrs],
                "IndexConfigs": index_configs, "Mirrors": list(self.mirrors)}


def _normalise_mirror(text: str) -> str:
    """Docker's ValidateMirror: an http(s) URL without path, query or credentials."""
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in ("http", "https") or not rest:
        raise SystemExit(f"invalid mirror: unsupported scheme {scheme!r} in {text!r}")
    host, _, path = rest.partition("/")
    if path.strip("/") or "@" in host or "?" in rest:
        raise SystemExit(f"invalid mirror: path, query or credentials not allowed: {text!r}")
    return f"{scheme}://{host}"

