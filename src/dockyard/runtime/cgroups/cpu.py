"""cpu controller: shares/weight and the CFS quota."""
from __future__ import annotations

from typing import Any

from .base import write


def apply_v1(directory: str, resources: dict[str, Any]) -> None:
    cpu = resources.get("cpu") or {}
    if cpu.get("shares"):
        write(directory, "cpu.shares", str(cpu["shares"]))
    if cpu.get("period"):
        write(directory, "cpu.cfs_period_us", str(cpu["period"]))
    if cpu.get("quota"):
        write(directory, "cpu.cfs_quota_us", str(cpu["quota"]))


def shares_to_weight(shares: int) -> int:
    """The conversion runc and Docker use between v1 shares and v2 weight."""
    return 1 + ((shares - 2) * 9999) // 262142


def apply_v2(directory: str, resources: dict[str, Any]) -> None:
    cpu = resources.get("cpu") or {}
    if cpu.get("shares"):
        write(directory, "cpu.weight", str(shares_to_weight(cpu["shares"])))
    if cpu.get("quota") or cpu.get("period"):
        quota = cpu.get("quota") or "max"
        write(directory, "cpu.max", f"{quota} {cpu.get('period') or 100000}")
