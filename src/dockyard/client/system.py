"""dockyard's own system endpoints, as functions over an APIClient."""
from __future__ import annotations

from .transport import APIClient


def check(api: APIClient) -> list[dict[str, str]]:
    """GET /dockyard/check: the store's consistency findings ({"Kind", "Message"})."""
    return api.get("/dockyard/check") or []
