"""Dockerfile-style `--change` instructions applied to an image's container config."""
from __future__ import annotations

import json
import shlex
from typing import Any

from ..errors import InvalidParameter

_ALLOWED = {"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER",
            "VOLUME", "WORKDIR"}


def _json_or_shell(args: str) -> list[str]:
    text = args.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
        except ValueError:
            pass
    return ["/bin/sh", "-c", text]


def _pairs(args: str) -> dict[str, str]:
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return {words[0]: args.strip()[len(words[0]):].strip()}
    out = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise InvalidParameter(f"invalid key/value pair: {word}")
        out[key] = value
    return out


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    config = dict(config)
    for change in changes:
        instruction, _, args = change.strip().partition(" ")
        keyword = instruction.upper()
        if keyword not in _ALLOWED:
            raise InvalidParameter(f"{instruction} is not a valid change command")
        if keyword == "CMD":
            config["Cmd"] = _json_or_shell(args)
        elif keyword == "ENTRYPOINT":
            config["Entrypoint"] = _json_or_shell(args)
        elif keyword == "ENV":
            env = [e for e in config.get("Env") or []]
            for key, value in _pairs(args).items():
                env = [e for e in env if e.split("=", 1)[0] != key] + [f"{key}={value}"]
            config["Env"] = env
        elif keyword == "LABEL":
            config["Labels"] = {**(config.get("Labels") or {}), **_pairs(args)}
        elif keyword == "EXPOSE":
            ports = dict(config.get("ExposedPorts") or {})
            for port in args.split():
                ports[port if "/" in port else f"{port}/tcp"] = {}
            config["ExposedPorts"] = ports
        elif keyword == "VOLUME":
            volumes = dict(config.get("Volumes") or {})
            for path in (json.loads(args) if args.strip().startswith("[") else args.split()):
                volumes[path] = {}
            config["Volumes"] = volumes
        elif keyword == "WORKDIR":
            config["WorkingDir"] = args.strip()
        elif keyword == "USER":
            config["User"] = args.strip()
        elif keyword == "STOPSIGNAL":
            config["StopSignal"] = args.strip()
        elif keyword == "ONBUILD":
            config["OnBuild"] = [*(config.get("OnBuild") or []), args.strip()]
    return config
