"""Commands that look into containers: top, diff, export, port; and pause/unpause."""
from __future__ import annotations

import sys

from ..client import containers as api_containers
from .common import Context, copy_stream_out, fail, for_each, host_port
from .createopts import CREATE_FLAGS, restart_policy
from .flags import Opts, Str, command


@command("CONTAINER [CONTAINER...]", args=(1, None), complete="container")
def pause(ctx: Context, o: Opts, args: list[str]) -> None:
    for_each(args, lambda ref: api_containers.pause(ctx.api, ref))


@command("CONTAINER [CONTAINER...]", args=(1, None), complete="container")
def unpause(ctx: Context, o: Opts, args: list[str]) -> None:
    for_each(args, lambda ref: api_containers.unpause(ctx.api, ref))


@command("CONTAINER [ps OPTIONS]", args=(1, None), interspersed=False, complete="container")
def top(ctx: Context, o: Opts, args: list[str]) -> None:
    from .format.tabwriter import render_table

    result = api_containers.top(ctx.api, args[0], " ".join(args[1:]) or None)
    print(render_table(result["Titles"], result["Processes"]), end="")


@command("CONTAINER", args=(1, 1), complete="container")
def diff(ctx: Context, o: Opts, args: list[str]) -> None:
    for change in api_containers.changes(ctx.api, args[0]) or []:
        print(f"{'CAD'[change['Kind']]} {change['Path']}")


@command("[OPTIONS] CONTAINER", Str("-o, --output", "Write to a file, instead of STDOUT"),
         args=(1, 1), complete="container")
def export(ctx: Context, o: Opts, args: list[str]) -> None:
    if o.output is None and sys.stdout.isatty():
        fail("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    copy_stream_out(api_containers.export(ctx.api, args[0]), o.output)


@command("CONTAINER [PRIVATE_PORT[/PROTO]]", args=(1, 2), complete="container")
def port(ctx: Context, o: Opts, args: list[str]) -> None:
    container, private_port = args[0], (args[1] if len(args) > 1 else None)
    info = api_containers.inspect(ctx.api, container)
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    if private_port and "/" not in private_port:
        private_port += "/tcp"
    found = False
    for key, bindings in sorted(ports.items()):
        if private_port and key != private_port:
            continue
        for binding in bindings or []:
            found = True
            address = host_port(binding.get('HostIp') or '0.0.0.0', binding.get('HostPort'))
            print(address if private_port else f"{key} -> {address}")
    if private_port and not found:
        print(f"Error: No public port '{private_port}' published for {container}",
              file=sys.stderr)
        sys.exit(1)


_UPDATE = ("memory", "memory-swap", "memory-reservation", "cpus", "cpu-shares", "cpu-quota",
           "cpu-period", "cpuset-cpus", "cpuset-mems", "pids-limit", "restart")


@command("[OPTIONS] CONTAINER [CONTAINER...]",
         *(f for f in CREATE_FLAGS if f.long in _UPDATE), args=(1, None),
         complete="container")
def update(ctx: Context, o: Opts, args: list[str]) -> None:
    body: dict[str, object] = {
        "Memory": o.memory or None, "MemorySwap": o.memory_swap or None,
        "MemoryReservation": o.memory_reservation or None, "NanoCpus": o.cpus or None,
        "CpuShares": o.cpu_shares, "CpuQuota": o.cpu_quota,
        "CpuPeriod": o.cpu_period, "CpusetCpus": o.cpuset_cpus,
        "CpusetMems": o.cpuset_mems, "PidsLimit": o.pids_limit,
    }
    if o.restart:
        body["RestartPolicy"] = restart_policy(o.restart)
    body = {k: v for k, v in body.items() if v is not None}
    for_each(args, lambda ref: api_containers.update(ctx.api, ref, body) and None)
