"""List (`ps`) with Docker's filters."""
from __future__ import annotations

from typing import Any

from ...errors import NotFound
from ...filters import check_keys, match_kv
from ...timeutil import ZERO_TIME
from .context import Service
from .model import Container


LIST_FILTERS = {"ancestor", "before", "expose", "exited", "health", "id", "isolation",
                "is-task", "label", "name", "network", "publish", "since", "status", "volume"}


def list_containers(service: Service, all_: bool = False, limit: int | None = None,
                    filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    filters = check_keys(filters, LIST_FILTERS)
    ordered = sorted(service.containers.values(),
                     key=lambda c: c.record["Created"], reverse=True)
    if limit is not None and limit > 0:
        all_ = True
    result = []
    for c in ordered:
        if not all_ and not c.running and "status" not in filters \
                and "exited" not in filters:
            continue
        if not matches(service, c, filters):
            continue
        result.append(c.summary())
        if limit is not None and 0 < limit <= len(result):
            break
    return result


def matches(service: Service, c: Container, filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "id" and not any(c.id.startswith(v) for v in values):
            return False
        if key == "name" and not any(v.lstrip("/") in c.name for v in values):
            return False
        if key == "status" and c.state["Status"] not in values:
            return False
        if key == "exited" and (c.running or c.state["StartedAt"] == ZERO_TIME or
                                str(c.state["ExitCode"]) not in values):
            return False
        if key == "label" and not labels_match(c, {"label": values}):
            return False
        if key == "ancestor" and not any(ancestor(service, c, v) for v in values):
            return False
        if key == "volume" and not mount_names(c) & set(values):
            return False
        if key == "network" and not any(
                v == name or (v and (ep.get("NetworkID") or "").startswith(v))
                for v in values
                for name, ep in c.record["NetworkSettings"]["Networks"].items()):
            return False
        if key == "publish" and not any(_port_match(v, k) for v in values
                                        for k, b in _ports(c).items() if b):
            return False
        if key == "expose" and not any(_port_match(v, k) for v in values
                                       for k in c.config.get("ExposedPorts") or {}):
            return False
        if key in ("before", "since") and values:    # {"since": []} filters nothing
            other = service.get(values[0])
            if key == "before" and not c.record["Created"] < other.record["Created"]:
                return False
            if key == "since" and not c.record["Created"] > other.record["Created"]:
                return False
    return True


def _ports(c: Container) -> dict[str, Any]:
    return c.record["NetworkSettings"].get("Ports") or {}


def _port_match(wanted: str, key: str) -> bool:
    """`publish`/`expose` filter values: "80", "80/tcp" or a range "8000-8080/tcp"."""
    port, _, proto = wanted.partition("/")
    have_port, _, have_proto = key.partition("/")
    if proto and proto != have_proto:
        return False
    lo, _, hi = port.partition("-")
    try:
        return int(lo) <= int(have_port) <= int(hi or lo)
    except ValueError:
        return False


def ancestor(service: Service, c: Container, ref: str) -> bool:
    try:
        return service.images.resolve(ref).id == c.record["Image"]
    except NotFound:
        return False


def mount_names(c: Container) -> set[str]:
    """What ps's `volume` filter matches: each mount's name (or source) and destination."""
    mounts = c.record.get("Mounts") or []
    return {m.get("Name") or m["Source"] for m in mounts} | {m["Destination"] for m in mounts}


def labels_match(c: Container, filters: dict[str, list[str]]) -> bool:
    return match_kv(filters.get("label", []), c.config.get("Labels") or {})
