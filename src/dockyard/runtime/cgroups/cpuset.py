"""cpuset controller: CPUs and memory nodes (v1 groups start empty and must be filled)."""
from __future__ import annotations

import os
from typing import Any

from .base import write


def inherit_v1(directory: str) -> None:
    """A new v1 cpuset group has no CPUs; copy the parent's so tasks can join."""
    parent = os.path.dirname(directory)
    for name in ("cpuset.cpus", "cpuset.mems"):
        with open(os.path.join(directory, name)) as f:
            if f.read().strip():
                continue
        with open(os.path.join(parent, name)) as f:
            write(directory, name, f.read().strip())


def apply_v1(directory: str, resources: dict[str, Any]) -> None:
    inherit_v1(directory)
    cpu = resources.get("cpu") or {}
    if cpu.get("cpus"):
        write(directory, "cpuset.cpus", cpu["cpus"])
    if cpu.get("mems"):
        write(directory, "cpuset.mems", cpu["mems"])


def apply_v2(directory: str, resources: dict[str, Any]) -> None:
    cpu = resources.get("cpu") or {}
    if cpu.get("cpus"):
        write(directory, "cpuset.cpus", cpu["cpus"])
    if cpu.get("mems"):
        write(directory, "cpuset.mems", cpu["mems"])
