"""version, info, inspect, events."""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..client.transport import APIError
from .common import api_of


_api = api_of


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--format", "fmt", default=None)
@click.pass_context
def version(ctx: click.Context, fmt: str | None) -> None:
    """Show the dockyard version information."""
    import platform

    from .. import API_VERSION, __version__

    server = _api(ctx).get("/version")
    if fmt:
        from .formatting import render_template
        print(render_template(fmt, {"Client": {"Version": __version__,
                                               "ApiVersion": API_VERSION},
                                    "Server": server}))
        return
    print(f"Client:\n Version:           {__version__}\n API version:       {API_VERSION}\n"
          f" Python version:    {platform.python_version()}\n OS/Arch:           linux/"
          f"{server.get('Arch', '')}\n")
    print(f"Server:\n Engine:\n  Version:          {server['Version']}\n"
          f"  API version:      {server['ApiVersion']} (minimum version "
          f"{server['MinAPIVersion']})\n  OS/Arch:          {server['Os']}/{server['Arch']}\n"
          f"  Kernel version:   {server['KernelVersion']}")


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--format", "fmt", default=None)
@click.pass_context
def info(ctx: click.Context, fmt: str | None) -> None:
    """Display system-wide information."""
    data = _api(ctx).get("/info")
    if fmt:
        from .formatting import render_template
        print(render_template(fmt, data))
        return
    print("Server:")
    for label, key in (("Containers", "Containers"), (" Running", "ContainersRunning"),
                       (" Paused", "ContainersPaused"), (" Stopped", "ContainersStopped"),
                       ("Images", "Images"), ("Server Version", "ServerVersion"),
                       ("Storage Driver", "Driver"), ("Logging Driver", "LoggingDriver"),
                       ("Cgroup Driver", "CgroupDriver"), ("Cgroup Version", "CgroupVersion"),
                       ("Default Runtime", "DefaultRuntime"),
                       ("Kernel Version", "KernelVersion"),
                       ("Operating System", "OperatingSystem"), ("OSType", "OSType"),
                       ("Architecture", "Architecture"), ("CPUs", "NCPU"),
                       ("Total Memory", "MemTotal"), ("Name", "Name"),
                       ("Docker Root Dir", "DockerRootDir"), ("Debug Mode", "Debug")):
        value = data.get(key)
        if key == "MemTotal":
            value = f"{value / 1024 ** 3:.4g}GiB"
        print(f" {label}: {str(value).lower() if isinstance(value, bool) else value}")
    print(f" Runtimes: {' '.join(sorted(data.get('Runtimes', {})))}")
    _print_security_options(data.get("SecurityOptions") or [])


def _print_security_options(options: list[str]) -> None:
    """As `docker info`: each `name=X,key=value` option as X with its keys below."""
    if not options:
        return
    print(" Security Options:")
    for option in options:
        fields = dict(item.partition("=")[::2] for item in option.split(","))
        print(f"  {fields.pop('name', option)}")
        for key, value in fields.items():
            print(f"   {key.capitalize()}: {value}")


def _inspect(ctx: click.Context, refs: tuple[str, ...], fmt: str | None, kind: str | None
             ) -> None:
    api = _api(ctx)
    results: list[Any] = []
    failed = False
    for ref in refs:
        obj = None
        for candidate in ([kind] if kind else ["container", "image"]):
            path = f"/containers/{ref}/json" if candidate == "container" else \
                f"/images/{ref}/json"
            try:
                obj = api.get(path)
                break
            except APIError as exc:
                if exc.status != 404:
                    raise
        if obj is None:
            print(f"Error: No such object: {ref}" if not kind else
                  f"Error: No such {kind}: {ref}", file=sys.stderr)
            failed = True
            continue
        results.append(obj)
    if fmt:
        from .formatting import render_template
        for obj in results:
            print(render_template(fmt, obj))
    else:
        print(json.dumps(results, indent=4))
    if failed:
        sys.exit(1)


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--format", "fmt", default=None)
@click.option("--type", "kind", type=click.Choice(["container", "image"]), default=None)
@click.argument("refs", nargs=-1, required=True)
@click.pass_context
def inspect(ctx: click.Context, refs: tuple[str, ...], fmt: str | None,
            kind: str | None) -> None:
    """Return low-level information on Docker objects."""
    _inspect(ctx, refs, fmt, kind)


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--format", "fmt", default=None)
@click.argument("refs", nargs=-1, required=True)
@click.pass_context
def inspect_containers(ctx: click.Context, refs: tuple[str, ...], fmt: str | None) -> None:
    """Display detailed information on one or more containers."""
    _inspect(ctx, refs, fmt, "container")


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("--since", default=None)
@click.option("--until", default=None)
@click.option("-f", "--filter", "filters", multiple=True)
@click.option("--format", "fmt", default=None)
@click.pass_context
def events(ctx: click.Context, since: str | None, until: str | None,
           filters: tuple[str, ...], fmt: str | None) -> None:
    """Get real time events from the server."""
    from .containers import _parse_filters

    flt = _parse_filters(filters)
    params = {"since": since, "until": until, "filters": json.dumps(flt) if flt else None}
    for event in _api(ctx).stream_json("GET", "/events", params):
        if fmt:
            from .formatting import render_template
            print(render_template(fmt, event), flush=True)
            continue
        import datetime
        when = datetime.datetime.fromtimestamp(event["timeNano"] / 1e9).astimezone()
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(event["Actor"]["Attributes"].items()))
        print(f"{when.isoformat(timespec='microseconds')} {event['Type']} {event['Action']} "
              f"{event['Actor']['ID']} ({attrs})", flush=True)


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-v", "--verbose", is_flag=True)
@click.option("--format", "fmt", default=None)
@click.pass_context
def df(ctx: click.Context, verbose: bool, fmt: str | None) -> None:
    """Show docker disk usage."""
    from ..units import human_size
    from .formatting import render_table, render_template

    data = _api(ctx).get("/system/df")
    images, containers = data["Images"] or [], data["Containers"] or []
    image_size = sum(i["Size"] for i in images)
    unused_images = sum(i["Size"] for i in images if not i.get("Containers"))
    running = [c for c in containers if c["State"] == "running"]
    rw = sum(c.get("SizeRw", 0) for c in containers)
    rw_reclaimable = sum(c.get("SizeRw", 0) for c in containers if c["State"] != "running")

    def pct(part: int, whole: int) -> str:
        return f"{human_size(part)} ({int(part * 100 / whole) if whole else 0}%)"

    rows = [
        {"Type": "Images", "TotalCount": str(len(images)),
         "Active": str(sum(1 for i in images if i.get("Containers"))),
         "Size": human_size(image_size), "Reclaimable": pct(unused_images, image_size)},
        {"Type": "Containers", "TotalCount": str(len(containers)), "Active": str(len(running)),
         "Size": human_size(rw), "Reclaimable": pct(rw_reclaimable, rw)},
        {"Type": "Local Volumes", "TotalCount": "0", "Active": "0", "Size": "0B",
         "Reclaimable": "0B"},
        {"Type": "Build Cache", "TotalCount": "0", "Active": "0", "Size": "0B",
         "Reclaimable": "0B"},
    ]
    if fmt:
        for r in rows:
            print(render_template(fmt, r))
        return
    print(render_table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
                       [[r["Type"], r["TotalCount"], r["Active"], r["Size"], r["Reclaimable"]]
                        for r in rows]), end="")


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-a", "--all", "all_", is_flag=True)
@click.option("-f", "--force", is_flag=True)
@click.option("--volumes", is_flag=True)
@click.option("--filter", "filters", multiple=True)
@click.pass_context
def prune(ctx: click.Context, all_: bool, force: bool, volumes: bool,
          filters: tuple[str, ...]) -> None:
    """Remove unused data."""
    from ..client import containers as api_containers
    from ..client import images as api_images
    from ..units import human_size
    from .containers import _parse_filters

    if not force:
        print("WARNING! This will remove:\n  - all stopped containers\n"
              + ("  - all images without at least one container associated to them\n"
                 if all_ else "  - all dangling images\n"))
        if not click.confirm("Are you sure you want to continue?", default=False):
            return
    flt = _parse_filters(filters)
    api = _api(ctx)
    reclaimed = 0
    result = api_containers.prune(api, flt or None)
    reclaimed += result.get("SpaceReclaimed") or 0
    if result.get("ContainersDeleted"):
        print("Deleted Containers:\n" + "\n".join(result["ContainersDeleted"]) + "\n")
    image_filters = dict(flt)
    if all_:
        image_filters["dangling"] = ["false"]
    result = api_images.prune(api, image_filters or None)
    reclaimed += result.get("SpaceReclaimed") or 0
    if result.get("ImagesDeleted"):
        print("Deleted Images:")
        for item in result["ImagesDeleted"]:
            for key, value in item.items():
                print(f"{key.lower()}: {value}")
        print()
    print(f"Total reclaimed space: {human_size(reclaimed)}")


@click.command(context_settings={"help_option_names": ["--help"]})
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check that the store is consistent (dockyard's own)."""
    from ..client.system import check as check_store

    findings = check_store(_api(ctx))
    if not findings:
        print("store is consistent")
        return
    for finding in findings:
        print(f"{finding['Kind']}: {finding['Message']}")
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["--help"]})
def system() -> None:
    """Manage dockyard."""


def register(cli: click.Group) -> None:
    for name, command in (("version", version), ("info", info), ("inspect", inspect),
                          ("events", events)):
        cli.add_command(command, name)
    system.add_command(info, "info")
    system.add_command(events, "events")
    system.add_command(df, "df")
    system.add_command(prune, "prune")
    system.add_command(check, "check")
    cli.add_command(system, "system")
