"""Docker's container config (container.Config) as it marshals it: its fields in order,
with their zero values and omitempty rules; image inspect and import write it so."""
from __future__ import annotations

from typing import Any

# Docker's container.Config in its JSON field order: (name, zero value, omitempty)
CONFIG_FIELDS: list[tuple[str, Any, bool]] = [
    ("Hostname", "", False), ("Domainname", "", False), ("User", "", False),
    ("AttachStdin", False, False), ("AttachStdout", False, False),
    ("AttachStderr", False, False), ("ExposedPorts", None, True), ("Tty", False, False),
    ("OpenStdin", False, False), ("StdinOnce", False, False), ("Env", None, False),
    ("Cmd", None, False), ("Healthcheck", None, True), ("ArgsEscaped", None, True),
    ("Image", "", False), ("Volumes", None, False), ("WorkingDir", "", False),
    ("Entrypoint", None, False), ("NetworkDisabled", None, True), ("MacAddress", None, True),
    ("OnBuild", None, False), ("Labels", None, False), ("StopSignal", None, True),
    ("StopTimeout", None, True), ("Shell", None, True)]
_KNOWN = {name for name, _, _ in CONFIG_FIELDS}


def full_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """The container config as Docker marshals it: every field in Docker's order, zero
    values for missing ones, omitempty fields only when set; unknown keys kept at the end."""
    config = config or {}
    out: dict[str, Any] = {}
    for name, zero, omitempty in CONFIG_FIELDS:
        value = config.get(name)
        if omitempty:
            if value not in (None, "", False, 0, [], {}):
                out[name] = value
        else:
            out[name] = zero if value is None else value
    for name, value in config.items():
        if name not in _KNOWN:
            out[name] = value
    return out
