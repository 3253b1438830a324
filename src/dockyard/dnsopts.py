"""The value rules of --add-host, --dns and --dns-search, shared by the CLI (which checks
them as the docker CLI's flag types do) and the engine (which checks API requests, from any
client, the same way). Errors are ValueErrors with Docker's texts."""
from __future__ import annotations

import re

HOST_GATEWAY = "host-gateway"
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?\s*")


def is_ip(text: str) -> bool:
    import ipaddress   # here, not at the top: the CLI's start-up pays only when asked
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_extra_host(entry: str) -> tuple[str, str]:
    """`name:ip` or `name=ip` (the address may be in brackets) -> (name, ip); the address
    may be `host-gateway`. Only the first ':' splits, so an IPv6 address needs no brackets."""
    name, sep, ip = entry.partition("=")
    if not sep:
        name, sep, ip = entry.partition(":")
    if not sep or not name or ":" in name:
        raise ValueError(f'bad format for add-host: "{entry}"')
    if ip != HOST_GATEWAY:
        if len(ip) > 2 and ip[0] == "[" and ip[-1] == "]":
            ip = ip[1:-1]
        if not is_ip(ip):
            raise ValueError(f'invalid IP address in add-host: "{ip}"')
    return name, ip


def extra_host_flag(value: str) -> str:
    """--add-host as the docker CLI sends it: `name:ip`, the form every daemon reads."""
    name, ip = parse_extra_host(value)
    return f"{name}:{ip}"


def dns_flag(value: str) -> str:
    """--dns: an IP address."""
    if not is_ip(value):
        raise ValueError(f"IP address is not correctly formatted: {value}")
    return value


def dns_search_flag(value: str) -> str:
    """--dns-search: a domain, or '.' for none."""
    if value != "." and (len(value) > 255 or not _DOMAIN.fullmatch(value)):
        raise ValueError(f"{value} is not a valid domain")
    return value
