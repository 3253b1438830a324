"""memory controller: limit, swap, reservation."""
from __future__ import annotations

import os
from typing import Any

from ...errors import InvalidParameter
from .base import write


def apply_v1(directory: str, resources: dict[str, Any]) -> None:
    memory = resources.get("memory") or {}
    if memory.get("limit"):
        swap = memory.get("swap")
        has_swap = os.path.exists(os.path.join(directory, "memory.memsw.limit_in_bytes"))
        try:
            write(directory, "memory.limit_in_bytes", str(memory["limit"]))
        except InvalidParameter:
            if not (swap and has_swap):
                raise
            # raising the limit above the current memory+swap limit: that one goes first
            write(directory, "memory.memsw.limit_in_bytes", str(swap))
            write(directory, "memory.limit_in_bytes", str(memory["limit"]))
        if swap and has_swap:
            write(directory, "memory.memsw.limit_in_bytes", str(swap))
    if memory.get("reservation"):
        write(directory, "memory.soft_limit_in_bytes", str(memory["reservation"]))


def apply_v2(directory: str, resources: dict[str, Any]) -> None:
    memory = resources.get("memory") or {}
    if memory.get("limit"):
        write(directory, "memory.max", str(memory["limit"]))
        swap = memory.get("swap")
        if swap and os.path.exists(os.path.join(directory, "memory.swap.max")):
            write(directory, "memory.swap.max",
                  "max" if swap == -1 else str(max(swap - memory["limit"], 0)))
    if memory.get("reservation"):
        write(directory, "memory.low", str(memory["reservation"]))
