"""volume create, ls, inspect, rm and prune, with the docker CLI's flags and output."""
from __future__ import annotations

import json
import sys
from typing import Any

from .common import Context, check_filter, confirm, daemon_error, fail, filters
from .flags import Bool, List, Opts, Str, command

VOLUME_HEADERS = {"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE",
                  "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS",
                  "Size": "SIZE", "Availability": "AVAILABILITY", "Group": "GROUP",
                  "Status": "STATUS"}
VOLUMES_TABLE = "table {{.Driver}}\t{{.Name}}"


def _map(values: list[str], what: str) -> dict[str, str]:
    """`--opt k=v` / `--label k=v` lists as the docker CLI's map options read them."""
    found: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if what == "opt" and not sep:
            fail(f'invalid argument "{item}" for "-o, --opt" flag: invalid key value pair '
                 f'format in driver options')
        found[key] = value
    return found


@command("[OPTIONS] [VOLUME]",
         Str("-d, --driver", "Specify volume driver name", default="local"),
         List("--label", "Set metadata for a volume"),
         List("-o, --opt", "Set driver specific options", meta="map"),
         Str("--name", "Specify volume name"), args=(0, 1))
def create(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import volumes as api_volumes
    from ..client.transport import APIError

    if args and o.name and args[0] != o.name:
        fail("conflicting options: cannot specify a volume-name through both --name and "
             "as a positional arg")
    name = args[0] if args else (o.name or "")
    try:
        volume = api_volumes.create(ctx.api, name, o.driver, _map(o.opt, "opt"),
                                    _map(o.label, "label"))
    except APIError as exc:
        daemon_error(exc, 1, "")
    print(volume["Name"])


def volume_rows(volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from ..units import human_size

    rows = []
    for v in volumes:
        usage = v.get("UsageData") or {}
        labels = v.get("Labels") or {}
        rows.append({"Name": v["Name"], "Driver": v["Driver"], "Scope": v.get("Scope", ""),
                     "Mountpoint": v.get("Mountpoint", ""),
                     "Labels": ",".join(f"{k}={labels[k]}" for k in sorted(labels)),
                     "Links": str(usage["RefCount"]) if usage else "N/A",
                     "Size": human_size(usage["Size"]) if usage.get("Size", -1) >= 0
                     else "N/A", "Availability": "N/A", "Group": "N/A", "Status": "N/A"})
    return rows


@command("[OPTIONS]",
         List("-f, --filter", "Provide filter values (e.g. \"dangling=true\")", meta="filter",
              check=check_filter),
         Str("--format", "Format output using a custom template: 'table', 'table TEMPLATE', "
             "'json' or a Go template"),
         Bool("-q, --quiet", "Only display volume names"))
def ls(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import volumes as api_volumes
    from ..client.transport import APIError
    from .format.lists import render_rows
    from .format.template import TemplateError

    try:
        answer = api_volumes.list_volumes(ctx.api, filters(o.filter) or None)
    except APIError as exc:
        daemon_error(exc, 1, "")
    for warning in answer.get("Warnings") or []:
        print(warning, file=sys.stderr)
    volumes = sorted(answer.get("Volumes") or [], key=lambda v: v["Name"])
    fmt = o.format
    if o.quiet and (not fmt or fmt == "table"):
        fmt = "{{.Name}}"
    try:
        sys.stdout.write(render_rows(fmt, volume_rows(volumes), VOLUME_HEADERS,
                                     VOLUMES_TABLE, "*formatter.volumeContext"))
    except TemplateError as exc:
        fail(f"template parsing error: {exc}")


@command("[OPTIONS] VOLUME [VOLUME...]",
         Str("-f, --format", "Format output using a custom template"), args=(1, None),
         complete="volume")
def inspect(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import volumes as api_volumes
    from ..client.transport import APIError

    found, errors = [], []
    for name in args:
        try:
            found.append(api_volumes.inspect(ctx.api, name))
        except APIError as exc:
            if exc.status != 404:
                daemon_error(exc, 1, "")
            errors.append(f"Error response from daemon: {exc.message}")
    if o.format:
        from .format.template import render_template
        for volume in found:
            print(render_template(o.format, volume))
    else:
        print(json.dumps(found, indent=4))
    if errors:
        print("\n".join(errors), file=sys.stderr)
        sys.exit(1)


@command("[OPTIONS] VOLUME [VOLUME...]",
         Bool("-f, --force", "Force the removal of one or more volumes"), args=(1, None),
         complete="volume")
def rm(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import volumes as api_volumes
    from .common import for_each

    for_each(args, lambda name: api_volumes.remove(ctx.api, name, o.force))


_PRUNE_WARNING = ("WARNING! This will remove anonymous local volumes not used by at least "
                  "one container.\nAre you sure you want to continue?")
_PRUNE_ALL_WARNING = ("WARNING! This will remove all local volumes not used by at least one "
                      "container.\nAre you sure you want to continue?")


@command("[OPTIONS]",
         Bool("-a, --all", "Remove all unused volumes, not just anonymous ones"),
         List("--filter", 'Provide filter values (e.g. "label=<label>")', meta="filter",
              check=check_filter),
         Bool("-f, --force", "Do not prompt for confirmation"))
def prune(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import volumes as api_volumes
    from ..units import human_size

    flt = filters(o.filter)
    if o.all:
        if "all" in flt:
            fail("conflicting options: cannot specify both --all and --filter all=1")
        flt["all"] = ["true"]
    if not o.force and not confirm(_PRUNE_ALL_WARNING if o.all else _PRUNE_WARNING):
        return
    report = api_volumes.prune(ctx.api, flt or None)
    deleted = report.get("VolumesDeleted") or []
    if deleted:
        print("Deleted Volumes:\n" + "\n".join(deleted) + "\n")
    print(f"Total reclaimed space: {human_size(int(report.get('SpaceReclaimed') or 0))}")
