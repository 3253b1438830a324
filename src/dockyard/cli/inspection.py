"""Commands that look into containers: top, diff, export, port; and pause/unpause."""
from __future__ import annotations

import sys

import click

from ..client import containers as api_containers
from .common import api_of, copy_stream_out, for_each

_CTX = {"help_option_names": ["--help"]}


@click.command(context_settings=_CTX)
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def pause(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Pause all processes within one or more containers."""
    for_each(containers, lambda ref: api_containers.pause(api_of(ctx), ref))


@click.command(context_settings=_CTX)
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def unpause(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Unpause all processes within one or more containers."""
    for_each(containers, lambda ref: api_containers.unpause(api_of(ctx), ref))


@click.command(context_settings={**_CTX, "ignore_unknown_options": True})
@click.argument("container")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def top(ctx: click.Context, container: str, ps_args: tuple[str, ...]) -> None:
    """Display the running processes of a container."""
    from .formatting import render_table

    result = api_containers.top(api_of(ctx), container, " ".join(ps_args) or None)
    print(render_table(result["Titles"], result["Processes"]), end="")


@click.command(context_settings=_CTX)
@click.argument("container")
@click.pass_context
def diff(ctx: click.Context, container: str) -> None:
    """Inspect changes to files or directories on a container's filesystem."""
    for change in api_containers.changes(api_of(ctx), container) or []:
        print(f"{'CAD'[change['Kind']]} {change['Path']}")


@click.command(context_settings=_CTX)
@click.option("-o", "--output", default=None)
@click.argument("container")
@click.pass_context
def export(ctx: click.Context, container: str, output: str | None) -> None:
    """Export a container's filesystem as a tar archive."""
    if output is None and sys.stdout.isatty():
        print("cowardly refusing to save to a terminal. Use the -o flag or redirect",
              file=sys.stderr)
        sys.exit(1)
    copy_stream_out(api_containers.export(api_of(ctx), container), output)


@click.command(context_settings=_CTX)
@click.argument("container")
@click.argument("private_port", required=False)
@click.pass_context
def port(ctx: click.Context, container: str, private_port: str | None) -> None:
    """List port mappings or a specific mapping for the container."""
    info = api_containers.inspect(api_of(ctx), container)
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    if private_port and "/" not in private_port:
        private_port += "/tcp"
    found = False
    for key, bindings in sorted(ports.items()):
        if private_port and key != private_port:
            continue
        for binding in bindings or []:
            found = True
            address = f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}"
            print(address if private_port else f"{key} -> {address}")
    if private_port and not found:
        print(f"Error: No public port '{private_port}' published for {container}",
              file=sys.stderr)
        sys.exit(1)


@click.command(context_settings=_CTX)
@click.option("-m", "--memory", default=None)
@click.option("--memory-swap", default=None)
@click.option("--memory-reservation", default=None)
@click.option("--cpus", default=None)
@click.option("-c", "--cpu-shares", type=int, default=None)
@click.option("--cpu-quota", type=int, default=None)
@click.option("--cpu-period", type=int, default=None)
@click.option("--cpuset-cpus", default=None)
@click.option("--cpuset-mems", default=None)
@click.option("--pids-limit", type=int, default=None)
@click.option("--restart", default=None)
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def update(ctx: click.Context, containers: tuple[str, ...], **o: object) -> None:
    """Update configuration of one or more containers."""
    from .containers import _bytes, _restart_policy

    body: dict[str, object] = {
        "Memory": _bytes(o["memory"], "--memory") or None,       # type: ignore[arg-type]
        "MemorySwap": _bytes(o["memory_swap"], "--memory-swap") or None,  # type: ignore
        "MemoryReservation": _bytes(o["memory_reservation"],     # type: ignore[arg-type]
                                    "--memory-reservation") or None,
        "NanoCpus": int(float(o["cpus"]) * 1e9) if o["cpus"] else None,  # type: ignore
        "CpuShares": o["cpu_shares"], "CpuQuota": o["cpu_quota"],
        "CpuPeriod": o["cpu_period"], "CpusetCpus": o["cpuset_cpus"],
        "CpusetMems": o["cpuset_mems"], "PidsLimit": o["pids_limit"],
    }
    if o["restart"]:
        body["RestartPolicy"] = _restart_policy(o["restart"])    # type: ignore[arg-type]
    body = {k: v for k, v in body.items() if v is not None}
    for_each(containers, lambda ref: api_containers.update(api_of(ctx), ref, body) and None)


COMMANDS = {"pause": pause, "unpause": unpause, "top": top, "diff": diff, "export": export,
            "port": port, "update": update}


def register(cli: click.Group) -> None:
    for name, command in COMMANDS.items():
        cli.add_command(command, name)
