"""Entry point: global flags, then the command found in cli/commands.py's table. Only that
command's module is imported (start-up time is what a short command costs)."""
from __future__ import annotations

import os
import sys
from typing import Sequence

from . import commands
from .flags import Bool, Command, HelpRequested, List, Str, UsageError, parse

PROG = "dockyard"
ROOT_USAGE = "[OPTIONS] COMMAND [ARG...]"
ROOT_FLAGS = (
    Str("--config", "Location of client config files (default \"~/.docker\")"),
    List("-H, --host", "Daemon socket to connect to"),
    Bool("--tls", "Use TLS; implied by --tlsverify"),
    Str("--tlscacert", "Trust certs signed only by this CA (default \"~/.docker/ca.pem\")"),
    Str("--tlscert", "Path to TLS certificate file (default \"~/.docker/cert.pem\")"),
    Str("--tlskey", "Path to TLS key file (default \"~/.docker/key.pem\")"),
    Bool("--tlsverify", "Use TLS and verify the remote", default=None),
    Bool("-v, --version", "Print version information and quit"),
)


def _usage_error(exc: UsageError, path: str, usage: str | None) -> int:
    text = f"{PROG}: {exc.message}" if exc.prefixed else exc.message
    if exc.usage and usage is not None:
        text += f"\n\nUsage:  {path} {usage}".rstrip()
    print(f"{text}\n\n{exc.hint} '{path} --help' for more information", file=sys.stderr)
    return exc.code


def _unknown(path: str, group: str | None) -> int:
    text = f"{PROG}: unknown command: {path}"
    where = f"{PROG} {group}" if group else PROG
    if group:
        text += f"\n\nUsage:  {where}"
    print(f"{text}\n\nRun '{where} --help' for more information", file=sys.stderr)
    return 1


def _load(target: str) -> Command:
    from importlib import import_module

    module, _, name = target.partition(":")
    return getattr(import_module(f"{__package__}.{module}"), name)


def _help(words: Sequence[str]) -> int:
    """`dockyard help [COMMAND...]` and --help: help for a command, a group or the CLI."""
    from . import help as helptext

    path = " ".join(words)
    if path in commands.GROUPS:
        sys.stdout.write(helptext.group_help(PROG, path))
        return 0
    row = commands.lookup(path) if path else None
    if row is None:
        if path:
            return _unknown(f"{PROG} {path}", None)
        sys.stdout.write(helptext.root_help(PROG, ROOT_FLAGS))
        return 0
    sys.stdout.write(helptext.command_help(f"{PROG} {path}", row[0], row[2], _load(row[1])))
    return 0


def run(argv: Sequence[str]) -> int:
    """Run one command line; the exit status."""
    try:
        top, args = parse(ROOT_FLAGS, argv, interspersed=False)
    except HelpRequested:
        return _help(())
    except UsageError as exc:
        return _usage_error(exc, PROG, ROOT_USAGE)
    if top.version:
        from .. import API_VERSION, __version__
        print(f"{PROG} version {__version__}, API {API_VERSION}")
        return 0
    if top.config:
        os.environ["DOCKER_CONFIG"] = top.config
    if not args:
        from . import help as helptext
        sys.stderr.write(helptext.root_help(PROG, ROOT_FLAGS))
        return 0
    if args[0] == "help":
        return _help(args[1:])
    words, rest = args[:1], args[1:]
    if words[0] in commands.GROUPS:
        group = words[0]
        if not rest or rest[0] in ("--help", "-h"):
            return _help(words)
        if rest[0].startswith("-"):
            return _usage_error(UsageError(f"unknown flag: {rest[0].partition('=')[0]}"),
                                f"{PROG} {group}", "")
        words, rest = [group, rest[0]], rest[1:]
    name = " ".join(words)
    row = commands.lookup(name)
    if row is None:
        return _unknown(f"{PROG} {name}", words[0] if len(words) > 1 else None)
    path = f"{PROG} {name}"
    cmd = _load(row[1])
    from .common import Context

    from ..client.tls import resolve as resolve_tls

    tls = resolve_tls(bool(top.tls), top.tlsverify, top.tlscacert, top.tlscert, top.tlskey)
    ctx = Context(path, top.host[-1] if top.host else None, tls)
    try:
        opts, positional = cmd.parse(path, rest)
        cmd.func(ctx, opts, positional)
    except HelpRequested as exc:
        if exc.deprecated_h:
            print("Flag shorthand -h has been deprecated, use --help")
        return _help(words)
    except UsageError as exc:
        return _usage_error(exc, path, cmd.usage)
    return 0


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    print(exc.code, file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line and leave with os._exit once stdout and stderr are flushed:
    tearing down the interpreter's modules would cost a short command a tenth of its time,
    and every file a command writes is closed by then."""
    try:
        code = run(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        code = _exit_code(exc)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 1
    except Exception as exc:  # noqa: BLE001 - daemon errors end a command as in docker
        from ..client.transport import APIError
        from .common import CommandError

        if isinstance(exc, CommandError):
            print(exc.message, file=sys.stderr)
        elif isinstance(exc, APIError):
            prefix = "" if exc.status == 0 else "Error response from daemon: "
            print(f"{prefix}{exc.message}", file=sys.stderr)
        else:
            raise
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):
            code = code or 1
    os._exit(code)
