"""devices controller (v1): deny everything, then allow the spec's rules.

On cgroup v2 device access is controlled by an eBPF program; that is not implemented yet, so
v2 hosts rely on the minimal /dev the runtime creates (no other device nodes exist there)."""
from __future__ import annotations

from typing import Any

from .base import write


def _rule(rule: dict[str, Any]) -> str:
    kind = rule.get("type") or "a"
    major = "*" if rule.get("major") is None else str(rule["major"])
    minor = "*" if rule.get("minor") is None else str(rule["minor"])
    return f"{kind} {major}:{minor} {rule.get('access') or 'rwm'}"


def apply_v1(directory: str, resources: dict[str, Any]) -> None:
    for rule in resources.get("devices") or []:
        if rule.get("allow"):
            write(directory, "devices.allow", _rule(rule))
        else:
            write(directory, "devices.deny", _rule(rule))
