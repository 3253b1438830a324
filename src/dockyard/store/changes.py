"""Dockerfile instructions applied to an image's container config (`import --change`,
later `commit --change`): CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD,
STOPSIGNAL, USER, VOLUME, WORKDIR, in exec (JSON) or shell form, with $VAR expansion
from the config's environment, as moby's BuildFromConfig does.
"""
from __future__ import annotations

import json
import posixpath
import re
import signal as _signal
from typing import Any

from ..errors import InvalidParameter

VALID_COMMANDS = ("cmd", "entrypoint", "env", "expose", "healthcheck", "label", "onbuild",
                  "stopsignal", "user", "volume", "workdir")

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


# --- words, quotes and variables -----------------------------------------------------------

def _env_map(config: dict[str, Any]) -> dict[str, str]:
    env = {}
    for item in config.get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    return env


def _words(text: str, env: dict[str, str], expand: bool = True) -> list[str]:
    """Split like the Dockerfile shell lexer: whitespace separates words, quotes group,
    backslash escapes, $VAR and ${VAR} expand (not inside single quotes)."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    i = 0
    quote = ""
    while i < len(text):
        ch = text[i]
        if quote == "'":
            if ch == "'":
                quote = ""
            else:
                current.append(ch)
            i += 1
            continue
        if quote == '"':
            if ch == '"':
                quote = ""
                i += 1
                continue
            if ch == "\\" and i + 1 < len(text) and text[i + 1] in '"\\$':
                current.append(text[i + 1])
                i += 2
                continue
            if ch == "$" and expand:
                value, i = _variable(text, i, env)
                current.append(value)
                continue
            current.append(ch)
            i += 1
            continue
        if ch.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            i += 1
            continue
        in_word = True
        if ch in "'\"":
            quote = ch
            i += 1
        elif ch == "\\" and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
        elif ch == "$" and expand:
            value, i = _variable(text, i, env)
            current.append(value)
        else:
            current.append(ch)
            i += 1
    if quote:
        raise InvalidParameter(f"unexpected end of statement while looking for matching "
                               f"{'double-quote' if quote == chr(34) else 'single-quote'}")
    if in_word:
        words.append("".join(current))
    return words


_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-+])([^}]*))?\}"
                  r"|([A-Za-z_][A-Za-z0-9_]*))")


def _variable(text: str, i: int, env: dict[str, str]) -> tuple[str, int]:
    """$VAR, ${VAR}, ${VAR:-word}, ${VAR:+word} at text[i]."""
    match = _VAR.match(text, i)
    if not match:
        return "$", i + 1
    braced, modifier, word, plain = match.groups()
    name = braced or plain
    value = env.get(name, "")
    if modifier == "-" and not value:
        value = word or ""
    elif modifier == "+":
        value = (word or "") if value else ""
    return value, match.end()


def _expand(text: str, env: dict[str, str]) -> str:
    return " ".join(_words(text, env)) if text.strip() else ""


def _exec_or_shell(args: str) -> list[str]:
    text = args.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", text]


def _pairs(keyword: str, args: str, env: dict[str, str]) -> list[tuple[str, str]]:
    """ENV/LABEL arguments: `key=value ...` (quotes, escapes) or the legacy `key value`."""
    words = _words(args, env)
    if not words:
        raise InvalidParameter(f"{keyword} requires at least one argument")
    if "=" not in words[0]:
        legacy = args.strip().split(None, 1)
        if len(legacy) < 2:
            raise InvalidParameter(f"{keyword} must have two arguments")
        rest = _words(legacy[1], env)
        return [(legacy[0], " ".join(rest))]
    out = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InvalidParameter(f"{keyword} names can not be blank" if not key else
                                   f"Syntax error - can't find = in \"{word}\". Must be of "
                                   "the form: name=value")
        out.append((key, value))
    return out


def _duration_ns(text: str) -> int:
    units = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
             "m": 60_000_000_000, "h": 3_600_000_000_000}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise InvalidParameter(f'time: invalid duration "{text}"')
    return int(sum(float(n) * units[u] for n, u in parts))


def _healthcheck(args: str) -> dict[str, Any]:
    words = args.strip().split()
    if words and words[0].upper() == "NONE":
        if len(words) > 1:
            raise InvalidParameter("HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    check: dict[str, Any] = {"Test": None}
    rest = args.strip()
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        rest = rest.strip()
        name, _, value = flag[2:].partition("=")
        key = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
               "start-interval": "StartInterval", "retries": "Retries"}.get(name)
        if key is None:
            raise InvalidParameter(f"Unknown flag: {name}")
        check[key] = int(value) if key == "Retries" else _duration_ns(value)
    kind, _, command = rest.partition(" ")
    if kind.upper() != "CMD":
        raise InvalidParameter(f"Unknown type \"{kind}\" in HEALTHCHECK (try CMD)")
    cmd = _exec_or_shell(command)
    check["Test"] = ["CMD", *cmd] if command.strip().startswith("[") and \
        cmd[:2] != ["/bin/sh", "-c"] else ["CMD-SHELL", command.strip()]
    return check


def _stop_signal(value: str) -> str:
    text = value.strip()
    if text.isdigit():
        if int(text) <= 0:
            raise InvalidParameter(f"Invalid signal: {text}")
        return text
    name = text.upper()
    name = name if name.startswith("SIG") else f"SIG{name}"
    if not hasattr(_signal, name) and not re.fullmatch(r"SIGRTM(IN|AX)([+-]\d+)?", name):
        raise InvalidParameter(f"Invalid signal: {text}")
    return text


def _ports(args: str, env: dict[str, str]) -> dict[str, dict]:
    ports: dict[str, dict] = {}
    for word in _words(args, env):
        number, _, proto = word.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidParameter(f"invalid proto: {proto}")
        start, dash, end = number.partition("-")
        try:
            first, last = int(start), int(end) if dash else int(start)
        except ValueError:
            raise InvalidParameter(f"invalid containerPort: {number}") from None
        if first > last or not 0 < first <= 65535 or last > 65535:
            raise InvalidParameter(f"invalid range format for --expose: {word}")
        for port in range(first, last + 1):
            ports[f"{port}/{proto}"] = {}
    return ports


def apply_changes(config: dict[str, Any] | None, changes: list[str]) -> dict[str, Any]:
    """Apply the instructions to a copy of `config` (Docker's container.Config keys)."""
    config = dict(config or {})
    lines: list[str] = []
    for change in changes:
        lines.extend(line for line in change.splitlines() if line.strip()
                     and not line.lstrip().startswith("#"))
    for line in lines:
        instruction, _, args = line.strip().partition(" ")
        keyword = instruction.lower()
        if keyword not in VALID_COMMANDS:
            raise InvalidParameter(f"{keyword} is not a valid change command")
        env = _env_map(config)
        if keyword == "cmd":
            config["Cmd"] = _exec_or_shell(args)
        elif keyword == "entrypoint":
            config["Entrypoint"] = _exec_or_shell(args)
        elif keyword == "env":
            items = list(config.get("Env") or [])
            for key, value in _pairs("ENV", args, env):
                items = [e for e in items if e.partition("=")[0] != key] + [f"{key}={value}"]
                env[key] = value
            config["Env"] = items
        elif keyword == "label":
            labels = dict(config.get("Labels") or {})
            labels.update(_pairs("LABEL", args, env))
            config["Labels"] = labels
        elif keyword == "expose":
            config["ExposedPorts"] = {**(config.get("ExposedPorts") or {}), **_ports(args, env)}
        elif keyword == "volume":
            text = args.strip()
            paths = _exec_or_shell(text) if text.startswith("[") else _words(text, env)
            if paths[:2] == ["/bin/sh", "-c"] and text.startswith("["):
                paths = _words(text, env)
            volumes = dict(config.get("Volumes") or {})
            for path in paths:
                if not path.strip():
                    raise InvalidParameter("VOLUME specified can not be an empty string")
                volumes[path] = {}
            config["Volumes"] = volumes
        elif keyword == "workdir":
            path = _expand(args, env)
            if not path:
                raise InvalidParameter("WORKDIR requires exactly one argument")
            if not path.startswith("/"):
                path = posixpath.join(config.get("WorkingDir") or "/", path)
            config["WorkingDir"] = posixpath.normpath(path)
        elif keyword == "user":
            user = _expand(args, env)
            if not user:
                raise InvalidParameter("USER requires exactly one argument")
            config["User"] = user
        elif keyword == "stopsignal":
            config["StopSignal"] = _stop_signal(_expand(args, env))
        elif keyword == "onbuild":
            trigger = args.strip()
            first = trigger.split(None, 1)[0].upper() if trigger else ""
            if first in ("ONBUILD", "FROM", "MAINTAINER"):
                raise InvalidParameter(f"{first} isn't allowed as an ONBUILD trigger")
            config["OnBuild"] = [*(config.get("OnBuild") or []), trigger]
        elif keyword == "healthcheck":
            config["Healthcheck"] = _healthcheck(args)
    return config
