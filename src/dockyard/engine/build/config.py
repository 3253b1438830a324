"""The instructions that only change an image's container config (CMD, ENTRYPOINT, ENV,
EXPOSE, HEALTHCHECK, LABEL, ONBUILD, SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR,
MAINTAINER), shared by build's metadata steps and `commit --change` / `import --change`
(moby's BuildFromConfig parses changes as Dockerfile lines the same way)."""
from __future__ import annotations

import posixpath
import re
import signal as _signal
from typing import Any

from ...errors import InvalidParameter
from . import shell
from .parser import Instruction, ParseError, json_array, parse

CHANGE_COMMANDS = ("cmd", "entrypoint", "env", "expose", "healthcheck", "label", "onbuild",
                   "stopsignal", "user", "volume", "workdir")
METADATA = CHANGE_COMMANDS + ("shell", "maintainer")
DEFAULT_SHELL = ["/bin/sh", "-c"]


def command(ins: Instruction, config: dict[str, Any]) -> list[str]:
    """CMD/ENTRYPOINT/RUN arguments: exec form as written, shell form wrapped in the
    stage's SHELL."""
    form = ins.exec_form
    if form is not None:
        return form
    return [*(config.get("Shell") or DEFAULT_SHELL), ins.args.strip()]


def pairs(ins: Instruction, env: dict[str, str], escape: str) -> list[tuple[str, str]]:
    """ENV/LABEL arguments: `key=value ...` (quotes, escapes) or the legacy `key value`."""
    upper = ins.keyword.upper()
    first = ins.args.strip().split(None, 1)
    if not first:
        raise InvalidParameter(f"{upper} requires at least one argument")
    if "=" not in shell.words(first[0] if "=" not in ins.args else ins.args, {},
                              escape)[0]:
        if len(first) < 2:
            raise InvalidParameter(f"{upper} must have two arguments")
        return [(first[0], shell.word(first[1], env, escape))]
    out = []
    for item in shell.words(ins.args, env, escape):
        key, sep, value = item.partition("=")
        if not key:
            raise InvalidParameter(f"{upper} names can not be blank")
        if not sep:
            raise InvalidParameter(f"Syntax error - can't find = in \"{item}\". Must be of "
                                   "the form: name=value")
        out.append((key, value))
    return out


def duration_ns(text: str) -> int:
    units = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
             "m": 60_000_000_000, "h": 3_600_000_000_000}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise InvalidParameter(f'time: invalid duration "{text}"')
    return int(sum(float(n) * units[u] for n, u in parts))


def _healthcheck(ins: Instruction) -> dict[str, Any]:
    kind, _, rest = ins.args.strip().partition(" ")
    if kind.upper() == "NONE":
        return {"Test": ["NONE"]}
    check: dict[str, Any] = {"Test": None}
    keys = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
            "start-interval": "StartInterval", "retries": "Retries"}
    for name, values in ins.flags.items():
        if name == "retries":
            try:
                check["Retries"] = int(values[-1])
            except ValueError:
                raise InvalidParameter(f"strconv.ParseInt: parsing {values[-1]!r}: invalid "
                                       "syntax") from None
            if check["Retries"] < 0:
                raise InvalidParameter(f"--retries cannot be negative ({check['Retries']})")
        else:
            check[keys[name]] = duration_ns(values[-1])
            if 0 < check[keys[name]] < 1_000_000:     # moby's MinimumDuration
                raise InvalidParameter(f"Interval {name!r} cannot be less than 1ms"
                                       .replace("'", '"'))
    form = json_array(rest)
    check["Test"] = ["CMD", *form] if form is not None else ["CMD-SHELL", rest.strip()]
    return check


def stop_signal(text: str) -> str:
    if text.isdigit():
        if int(text) <= 0:
            raise InvalidParameter(f"Invalid signal: {text}")
        return text
    name = text.upper()
    name = name if name.startswith("SIG") else f"SIG{name}"
    if not hasattr(_signal, name) and not re.fullmatch(r"SIGRTM(IN|AX)([+-]\d+)?", name):
        raise InvalidParameter(f"Invalid signal: {text}")
    return text


def _ports(words: list[str]) -> dict[str, dict]:
    ports: dict[str, dict] = {}
    for word in words:
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


def apply(config: dict[str, Any], ins: Instruction, args: dict[str, str] | None = None,
          escape: str = "\\") -> dict[str, Any]:
    """A copy of `config` with the metadata instruction applied; `args` are the build
    args in scope (the config's Env wins over them in substitutions, as moby)."""
    config = dict(config)
    env = {**(args or {}), **shell.env_map(config.get("Env"))}
    key = ins.keyword
    if key == "cmd":
        config["Cmd"] = command(ins, config)
    elif key == "entrypoint":
        config["Entrypoint"] = command(ins, config) if ins.args.strip() else None
    elif key == "env":
        items = list(config.get("Env") or [])
        for name, value in pairs(ins, env, escape):
            items = [e for e in items if e.partition("=")[0] != name] + [f"{name}={value}"]
        config["Env"] = items
    elif key == "label":
        config["Labels"] = {**(config.get("Labels") or {}), **dict(pairs(ins, env, escape))}
    elif key == "expose":
        config["ExposedPorts"] = {**(config.get("ExposedPorts") or {}),
                                  **_ports(shell.words(ins.args, env, escape))}
    elif key == "volume":
        form = ins.exec_form
        paths = form if form is not None else shell.words(ins.args, env, escape)
        volumes = dict(config.get("Volumes") or {})
        for path in paths:
            if not path.strip():
                raise InvalidParameter("VOLUME specified can not be an empty string")
            volumes[path] = {}
        config["Volumes"] = volumes
    elif key == "workdir":
        path = shell.word(ins.args.strip(), env, escape)
        if not path:
            raise InvalidParameter("WORKDIR requires exactly one argument")
        if not path.startswith("/"):
            path = posixpath.join(config.get("WorkingDir") or "/", path)
        config["WorkingDir"] = posixpath.normpath(path)
    elif key == "user":
        user = shell.word(ins.args.strip(), env, escape)
        if not user:
            raise InvalidParameter("USER requires exactly one argument")
        config["User"] = user
    elif key == "stopsignal":
        config["StopSignal"] = stop_signal(shell.word(ins.args.strip(), env, escape))
    elif key == "onbuild":
        config["OnBuild"] = [*(config.get("OnBuild") or []), ins.args.strip()]
    elif key == "healthcheck":
        config["Healthcheck"] = _healthcheck(ins)
    elif key == "shell":
        config["Shell"] = ins.exec_form
    elif key != "maintainer":
        raise InvalidParameter(f"{key} is not a metadata instruction")
    return config


def apply_changes(config: dict[str, Any] | None, changes: list[str]) -> dict[str, Any]:
    """`commit --change` / `import --change`: each change a Dockerfile line (or several)."""
    config = dict(config or {})
    for change in changes:
        if not change.strip() or change.lstrip().startswith("#"):
            continue
        keyword = change.strip().split(None, 1)[0].lower()
        if keyword not in CHANGE_COMMANDS:
            raise InvalidParameter(f"{keyword} is not a valid change command")
        try:
            doc = parse(f"FROM scratch\n{change}")
        except ParseError as exc:
            raise InvalidParameter(exc.message.split(": ", 1)[1]) from None
        for ins in doc.stages[0].instructions:
            if ins.keyword not in CHANGE_COMMANDS:
                raise InvalidParameter(f"{ins.keyword} is not a valid change command")
            config = apply(config, ins)
    return config
