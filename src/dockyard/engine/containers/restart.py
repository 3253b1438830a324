"""Restart policies: no, always, unless-stopped, on-failure[:N], with Docker's back-off."""
from __future__ import annotations

from typing import Any

from ...errors import InvalidParameter

POLICIES = ("no", "always", "unless-stopped", "on-failure")
FIRST_DELAY = 0.1      # seconds; doubles after each quick failure, as in Docker
MAX_DELAY = 60.0
RESET_AFTER = 10.0     # a container that ran this long starts again from FIRST_DELAY


def validate(policy: dict[str, Any] | None) -> dict[str, Any]:
    policy = dict(policy or {})
    name = policy.get("Name") or "no"
    count = int(policy.get("MaximumRetryCount") or 0)
    if name not in POLICIES:
        raise InvalidParameter(f"invalid restart policy: unknown policy '{name}'; use one of "
                               "'no', 'always', 'on-failure', or 'unless-stopped'")
    if count < 0:
        raise InvalidParameter("invalid restart policy: maximum retry count cannot be "
                               "negative")
    if count and name != "on-failure":
        raise InvalidParameter("invalid restart policy: maximum retry count can only be used "
                               "with 'on-failure'")
    return {"Name": name, "MaximumRetryCount": count}


def should_restart(policy: dict[str, Any], exit_code: int, restart_count: int,
                   manually_stopped: bool) -> bool:
    """After an exit the daemon did not cause (a manual stop never restarts)."""
    name = policy.get("Name") or "no"
    if manually_stopped or name == "no":
        return False
    if name in ("always", "unless-stopped"):
        return True
    limit = int(policy.get("MaximumRetryCount") or 0)
    return exit_code != 0 and (limit == 0 or restart_count < limit)


def start_on_boot(policy: dict[str, Any], manually_stopped: bool) -> bool:
    """At daemon start: `always` comes back even after a manual stop; `unless-stopped`
    only if it was not stopped by hand."""
    name = policy.get("Name") or "no"
    return name == "always" or (name == "unless-stopped" and not manually_stopped)


def next_delay(previous: float, ran_for: float) -> float:
    if ran_for >= RESET_AFTER or previous <= 0:
        return FIRST_DELAY
    return min(previous * 2, MAX_DELAY)
