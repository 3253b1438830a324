"""`--link target[:alias]`. On a user-defined network: a name only the linking container
resolves through the embedded DNS (EndpointSettings.Links; dnshook.py). Legacy, on the
default bridge: the target's address under the
alias in /etc/hosts and Docker's environment variables (ALIAS_PORT_80_TCP=tcp://ip:80,
ALIAS_NAME, ALIAS_ENV_*), as moby's links package makes them. Read at each start, from the
running target."""
from __future__ import annotations

from typing import Any, Callable

from ...errors import Conflict, DockyardError, InvalidParameter, NotFound


def parse(links: Any) -> list[tuple[str, str]]:
    """HostConfig.Links → [(target, alias)]; "name", "name:alias" or Docker's stored form
    "/name:/me/alias"."""
    if links is None:
        return []
    if not isinstance(links, list) or not all(isinstance(l, str) for l in links):
        raise InvalidParameter("invalid HostConfig.Links: want a list of strings")
    out = []
    for link in links:
        target, _, alias = link.partition(":")
        target = target.lstrip("/")
        alias = alias.rsplit("/", 1)[-1] if alias else target
        if not target or not alias:
            raise InvalidParameter(f"Invalid link format: {link}")
        out.append((target, alias))
    return out


def normalise(links: Any, name: str, lookup: Callable[[str], Any]) -> list[str] | None:
    """What create stores: "/target:/name/alias", each target checked to exist."""
    pairs = parse(links)
    out = []
    for target, alias in pairs:
        try:
            other = lookup(target)
        except NotFound:
            raise InvalidParameter(f"could not get container for {target}") from None
        out.append(f"/{other.name}:/{name}/{alias}")
    return out or None


def endpoint_links(links: Any) -> list[str] | None:
    """EndpointSettings.Links of a user-network endpoint, "target:alias" each. The target
    need not exist yet: the alias resolves once a container of that name joins."""
    return [f"{target}:{alias}" for target, alias in parse(links)] or None


def for_start(container: Any, lookup: Callable[[str], Any]
              ) -> tuple[list[str], list[str]]:
    """(environment, hosts lines) of the container's links; each target must run."""
    env: list[str] = []
    hosts: list[str] = []
    for target_ref, alias in parse(container.host_config.get("Links")):
        target = lookup(target_ref)
        ip = _address(target)
        if not target.running or not ip:
            raise Conflict(f"Cannot link to a non running container: /{target.name} AS "
                           f"/{container.name}/{alias}")
        hosts.append(_hosts_line(ip, alias, target))
        env += environment(alias, container.name, target, ip)
    return env, hosts


def running_hosts_lines(container: Any, lookup: Callable[[str], Any]) -> list[str]:
    """The /etc/hosts lines of the links whose targets still run (for a rewrite while the
    container runs: a target that stopped since the start is simply left out)."""
    lines = []
    for target_ref, alias in parse(container.host_config.get("Links")):
        try:
            target = lookup(target_ref)
        except DockyardError:
            continue
        ip = _address(target)
        if target.running and ip:
            lines.append(_hosts_line(ip, alias, target))
    return lines


def environment(alias: str, name: str, target: Any, ip: str) -> list[str]:
    prefix = alias.upper().replace("-", "_")
    ports = sorted((int(p), proto or "tcp") for p, _, proto in
                   (key.partition("/") for key in target.config.get("ExposedPorts") or {}))
    env = []
    if ports:
        port, proto = ports[0]
        env.append(f"{prefix}_PORT={proto}://{ip}:{port}")
    for port, proto in ports:
        key = f"{prefix}_PORT_{port}_{proto.upper()}"
        env += [f"{key}={proto}://{ip}:{port}", f"{key}_ADDR={ip}", f"{key}_PORT={port}",
                f"{key}_PROTO={proto}"]
    env.append(f"{prefix}_NAME=/{name}/{alias}")
    for item in target.config.get("Env") or []:
        var, sep, value = item.partition("=")
        if sep and var not in ("HOME", "PATH"):
            env.append(f"{prefix}_ENV_{var}={value}")
    return env


def _hosts_line(ip: str, alias: str, target: Any) -> str:
    return f"{ip}\t{alias} {target.id[:12]} {target.name}"


def _address(target: Any) -> str:
    networks = target.record["NetworkSettings"].get("Networks") or {}
    return (networks.get("bridge") or {}).get("IPAddress") or ""
