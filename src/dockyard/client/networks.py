"""/networks endpoints, as functions over an APIClient."""
from __future__ import annotations

import json
from typing import Any

from .transport import APIClient


def create(api: APIClient, body: dict[str, Any]) -> dict[str, Any]:
    return api.post("/networks/create", json=body)


def list_(api: APIClient, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    return api.get("/networks", {"filters": json.dumps(filters) if filters else None})


def inspect(api: APIClient, ref: str) -> dict[str, Any]:
    return api.get(f"/networks/{ref}")


def remove(api: APIClient, ref: str) -> None:
    api.delete(f"/networks/{ref}")


def prune(api: APIClient, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return api.post("/networks/prune", {"filters": json.dumps(filters) if filters else None})


def connect(api: APIClient, ref: str, container: str,
            endpoint: dict[str, Any] | None = None) -> None:
    api.post(f"/networks/{ref}/connect", json={"Container": container,
                                                "EndpointConfig": endpoint or {}})


def disconnect(api: APIClient, ref: str, container: str, force: bool = False) -> None:
    api.post(f"/networks/{ref}/disconnect", json={"Container": container, "Force": force})
