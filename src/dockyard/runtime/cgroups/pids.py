"""pids controller: the process-count limit."""
from __future__ import annotations

from typing import Any

from .base import write


def apply(directory: str, resources: dict[str, Any]) -> None:
    pids = resources.get("pids") or {}
    if pids.get("limit"):
        write(directory, "pids.max", str(pids["limit"]) if pids["limit"] > 0 else "max")


apply_v1 = apply_v2 = apply
