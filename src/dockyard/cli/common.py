"""Helpers every command module shares."""
from __future__ import annotations

import sys
from typing import Callable, Iterable

import click

from ..client.transport import APIClient, APIError


def api_of(ctx: click.Context) -> APIClient:
    return ctx.find_root().obj


def for_each(refs: Iterable[str], action: Callable[[str], Iterable[str] | None]) -> None:
    """Run `action` on every reference as the docker CLI does: print its lines (or the
    reference itself), report each daemon error, and exit 1 if any failed."""
    failed = False
    for ref in refs:
        try:
            lines = action(ref)
            for line in ([ref] if lines is None else lines):
                print(line, flush=True)
        except APIError as exc:
            print(f"Error response from daemon: {exc.message}", file=sys.stderr)
            failed = True
    if failed:
        sys.exit(1)


def copy_stream_out(response: object, output: str | None) -> None:
    """Write a streamed archive to `output` (atomically) or to stdout."""
    import os

    target = open(output + ".tmp", "wb") if output else sys.stdout.buffer
    try:
        while chunk := response.read1(1 << 20):  # type: ignore[attr-defined]
            target.write(chunk)
    finally:
        if output:
            target.close()
    if output:
        os.replace(output + ".tmp", output)


def lazy_command(module: str, name: str, help_text: str) -> click.Command:
    """A subcommand whose module is imported only when it runs (keeps `container ...`
    start-up lean): arguments are handed to the real command unparsed."""
    def run(ctx: click.Context) -> None:
        from importlib import import_module

        command = getattr(import_module(f"dockyard.cli.{module}"), name)
        command.main(args=ctx.args, prog_name=ctx.command_path, obj=ctx.obj,
                     standalone_mode=False)

    return click.Command(name, callback=click.pass_context(run), help=help_text,
                         add_help_option=False,
                         context_settings={"ignore_unknown_options": True,
                                           "allow_extra_args": True})
