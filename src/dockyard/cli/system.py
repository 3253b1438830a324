"""version, info, inspect (any object, containers, images), events, system prune and
system check; system df is in diskusage.py."""
from __future__ import annotations

import json
import sys
from typing import Any

from ..client.transport import APIError
from .common import Context, check_filter, confirm, fail, filters
from .flags import Bool, List, Opts, Str, command

_FORMAT = Str("-f, --format", "Format output using a custom template")


@command("[OPTIONS]", _FORMAT)
def version(ctx: Context, o: Opts, args: list[str]) -> None:
    import platform

    from .. import API_VERSION, __version__

    server = ctx.api.get("/version")
    if o.format:
        from .format.template import render_template
        print(render_template(o.format, {"Client": {"Version": __version__,
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


@command("[OPTIONS]", _FORMAT)
def info(ctx: Context, o: Opts, args: list[str]) -> None:
    data = ctx.api.get("/info")
    if o.format:
        from .format.template import render_template
        print(render_template(o.format, data))
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


def inspect_objects(ctx: Context, refs: list[str], fmt: str | None, kind: str | None
                    ) -> None:
    """Print the objects' JSON (or `fmt` run on each); exit 1 if any was not found."""
    api = ctx.api
    results: list[Any] = []
    failed = False
    for ref in refs:
        obj = None
        for candidate in ([kind] if kind else ["container", "image", "volume"]):
            path = {"container": f"/containers/{ref}/json", "image": f"/images/{ref}/json",
                    "volume": f"/volumes/{ref}", "network": f"/networks/{ref}"}[candidate]
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
        from .format.template import render_template
        for obj in results:
            print(render_template(fmt, obj))
    else:
        print(json.dumps(results, indent=4))
    if failed:
        sys.exit(1)


@command("[OPTIONS] NAME|ID [NAME|ID...]", _FORMAT,
         Str("--type", "Only inspect objects of the given type"),
         args=(1, None), complete="container")
def inspect(ctx: Context, o: Opts, args: list[str]) -> None:
    if o.type not in (None, "", "container", "image", "volume"):
        fail(f'unknown type: "{o.type}": must be one of "container", "image", "volume"')
    inspect_objects(ctx, args, o.format, o.type or None)


@command("[OPTIONS] CONTAINER [CONTAINER...]", _FORMAT, args=(1, None),
         complete="container")
def inspect_containers(ctx: Context, o: Opts, args: list[str]) -> None:
    inspect_objects(ctx, args, o.format, "container")


_FILTER = List("-f, --filter", "Filter output based on conditions provided", meta="filter",
               check=check_filter)


@command("[OPTIONS]", _FILTER, Str("--format", "Format output using a custom template"),
         Str("--since", "Show all events created since timestamp"),
         Str("--until", "Stream events until this timestamp"))
def events(ctx: Context, o: Opts, args: list[str]) -> None:
    flt = filters(o.filter)
    params = {"since": o.since, "until": o.until, "filters": json.dumps(flt) if flt else None}
    for event in ctx.api.stream_json("GET", "/events", params):
        if o.format:
            from .format.template import render_template
            print(render_template(o.format, event), flush=True)
            continue
        import datetime
        when = datetime.datetime.fromtimestamp(event["timeNano"] / 1e9).astimezone()
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(event["Actor"]["Attributes"].items()))
        print(f"{when.isoformat(timespec='microseconds')} {event['Type']} {event['Action']} "
              f"{event['Actor']['ID']} ({attrs})", flush=True)


@command("[OPTIONS]",
         Bool("-a, --all", "Remove all unused images not just dangling ones"),
         List("--filter", 'Provide filter values (e.g. "label=<key>=<value>")', meta="filter",
              check=check_filter),
         Bool("-f, --force", "Do not prompt for confirmation"),
         Bool("--volumes", "Prune anonymous volumes"))
def prune(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import containers as api_containers
    from ..client import images as api_images
    from ..units import human_size

    flt = filters(o.filter)
    if o.volumes and "until" in flt:
        fail('ERROR: The "until" filter is not supported with "--volumes"')
    if not o.force:
        print("WARNING! This will remove:\n  - all stopped containers\n"
              "  - all networks not used by at least one container\n"
              + ("  - all anonymous volumes not used by at least one container\n"
                 if o.volumes else "")
              + ("  - all images without at least one container associated to them\n"
                 if o.all else "  - all dangling images\n"))
        if not confirm("Are you sure you want to continue?"):
            return
    api = ctx.api
    reclaimed = 0
    result = api_containers.prune(api, flt or None)
    reclaimed += result.get("SpaceReclaimed") or 0
    if result.get("ContainersDeleted"):
        print("Deleted Containers:\n" + "\n".join(result["ContainersDeleted"]) + "\n")
    from ..client import networks as api_networks
    deleted = api_networks.prune(api, {k: v for k, v in flt.items() if k != "dangling"}
                                 or None).get("NetworksDeleted") or []
    if deleted:
        print("Deleted Networks:\n" + "\n".join(deleted) + "\n")
    if o.volumes:
        from ..client import volumes as api_volumes
        result = api_volumes.prune(api, flt or None)
        reclaimed += result.get("SpaceReclaimed") or 0
        if result.get("VolumesDeleted"):
            print("Deleted Volumes:\n" + "\n".join(result["VolumesDeleted"]) + "\n")
    image_filters = dict(flt)
    if o.all:
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


@command("[OPTIONS]")
def check(ctx: Context, o: Opts, args: list[str]) -> None:
    """dockyard's own: the store's consistency findings, one a line; exit 1 if any."""
    from ..client.system import check as check_store

    findings = check_store(ctx.api)
    if not findings:
        print("store is consistent")
        return
    for finding in findings:
        print(f"{finding['Kind']}: {finding['Message']}")
    sys.exit(1)
