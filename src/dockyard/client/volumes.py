"""/volumes endpoints, as functions over an APIClient (client/transport.py)."""
from __future__ import annotations

import json
from typing import Any

from .transport import APIClient


def _filters(filters: dict[str, list[str]] | None) -> str | None:
    return json.dumps(filters) if filters else None


def create(api: APIClient, name: str = "", driver: str = "",
           options: dict[str, str] | None = None,
           labels: dict[str, str] | None = None) -> dict[str, Any]:
    body = {"Name": name, "Driver": driver, "DriverOpts": options or {},
            "Labels": labels or {}}
    return api.post("/volumes/create", json=body)


def list_volumes(api: APIClient, filters: dict[str, list[str]] | None = None
                 ) -> dict[str, Any]:
    return api.get("/volumes", {"filters": _filters(filters)}) or {}


def inspect(api: APIClient, name: str) -> dict[str, Any]:
    return api.get(f"/volumes/{name}")


def remove(api: APIClient, name: str, force: bool = False) -> None:
    api.delete(f"/volumes/{name}", {"force": force} if force else None)


def prune(api: APIClient, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return api.post("/volumes/prune", {"filters": _filters(filters)}) or {}
