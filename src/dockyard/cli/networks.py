"""Network commands (network create/ls/inspect/rm/prune/connect/disconnect) with the
docker CLI's flags and output."""
from __future__ import annotations

import sys
from typing import Any

from .common import Context, check_filter, confirm, daemon_error, fail, filters, for_each
from .flags import Bool, List, Opts, Str, command

NETWORK_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
                   "IPv4": "IPV4", "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
                   "CreatedAt": "CREATED AT"}
NETWORKS_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
_PRUNE_WARNING = ("WARNING! This will remove all custom networks not used by at least one "
                  "container.\nAre you sure you want to continue?")


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep:
            fail(f'invalid argument "{value}" for "{flag}" flag: bad format')
        out[key] = val
    return out


def ipam_config(subnets: list[str], gateways: list[str], ranges: list[str],
                aux: dict[str, str]) -> list[dict[str, Any]]:
    """The docker CLI's pairing: every gateway, range and aux address goes with the one
    subnet that holds it."""
    import ipaddress

    if not subnets and (gateways or ranges or aux):
        fail("every ip-range or gateway must have a corresponding subnet")
    configs = [{"Subnet": s} for s in subnets]

    def owner(address: str, what: str) -> dict[str, Any]:
        for config in configs:
            try:
                if ipaddress.ip_network(address, strict=False).subnet_of(
                        ipaddress.ip_network(config["Subnet"], strict=False)):
                    return config
            except (ValueError, TypeError):
                fail(f"invalid {what}: {address}")
        fail(f"no matching subnet for {what} {address}")

    for gateway in gateways:
        owner(gateway, "gateway")["Gateway"] = gateway
    for rng in ranges:
        owner(rng, "range")["IPRange"] = rng
    for name, address in aux.items():
        owner(address, "aux-address").setdefault("AuxiliaryAddresses", {})[name] = address
    return configs


@command("[OPTIONS] NETWORK",
         Bool("--attachable", "Enable manual container attachment"),
         List("--aux-address", "Auxiliary IPv4 or IPv6 addresses used by Network driver",
              meta="map"),
         Str("-d, --driver", "Driver to manage the Network", default="bridge"),
         List("--gateway", "IPv4 or IPv6 Gateway for the master subnet", meta="strings"),
         Bool("--internal", "Restrict external access to the network"),
         List("--ip-range", "Allocate container ip from a sub-range", meta="strings"),
         Str("--ipam-driver", "IP Address Management Driver", default="default"),
         List("--ipam-opt", "Set IPAM driver specific options", meta="map"),
         Bool("--ipv6", "Enable or disable IPv6 networking"),
         List("--label", "Set metadata on a network"),
         List("-o, --opt", "Set driver specific options", meta="map"),
         List("--subnet", "Subnet in CIDR format that represents a network segment",
              meta="strings"),
         args=(1, 1))
def create(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import networks as api
    from ..client.transport import APIError

    body = {"Name": args[0], "Driver": o.driver, "Internal": o.internal,
            "Attachable": o.attachable, "EnableIPv6": o.ipv6,
            "Options": _pairs(o.opt, "--opt"),
            "Labels": {k: v for k, _, v in (l.partition("=") for l in o.label)},
            "IPAM": {"Driver": o.ipam_driver, "Options": _pairs(o.ipam_opt, "--ipam-opt"),
                     "Config": ipam_config(o.subnet, o.gateway, o.ip_range,
                                           _pairs(o.aux_address, "--aux-address"))}}
    try:
        print(api.create(ctx.api, body)["Id"])
    except APIError as exc:
        daemon_error(exc, 1, "")


def _go_time(rfc3339: str) -> str:
    """Go's time.Time.String() of a UTC RFC 3339 time ("2006-01-02 15:04:05.9 +0000 UTC")."""
    if not rfc3339.endswith("Z") or "T" not in rfc3339:
        return rfc3339
    date, clock = rfc3339[:-1].split("T", 1)
    seconds, _, fraction = clock.partition(".")
    fraction = fraction.rstrip("0")
    return f"{date} {seconds}{'.' + fraction if fraction else ''} +0000 UTC"


def network_rows(items: list[dict[str, Any]], no_trunc: bool) -> list[dict[str, str]]:
    rows = []
    for n in items:
        labels = ",".join(f"{k}={v}" for k, v in sorted((n.get("Labels") or {}).items()))
        rows.append({"ID": n["Id"] if no_trunc else n["Id"][:12], "Name": n["Name"],
                     "Driver": n["Driver"], "Scope": n["Scope"],
                     "IPv4": str(n.get("EnableIPv4", True)).lower(),
                     "IPv6": str(bool(n.get("EnableIPv6"))).lower(),
                     "Internal": str(bool(n.get("Internal"))).lower(), "Labels": labels,
                     "CreatedAt": _go_time(n.get("Created", ""))})
    return rows


@command("[OPTIONS]",
         List("-f, --filter", 'Provide filter values (e.g. "driver=bridge")', meta="filter",
              check=check_filter),
         Str("--format", "Format output using a custom template: 'table', 'table TEMPLATE', "
             "'json' or a Go template"),
         Bool("--no-trunc", "Do not truncate the output"),
         Bool("-q, --quiet", "Only display network IDs"))
def ls(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import networks as api
    from ..client.transport import APIError
    from .format.lists import render_rows
    from .format.template import TemplateError

    try:
        items = api.list_(ctx.api, filters(o.filter) or None)
    except APIError as exc:
        daemon_error(exc, 1, "")
    items.sort(key=lambda n: n["Name"])
    fmt = "{{.ID}}" if o.quiet and (not o.format or o.format == "table") else o.format
    try:
        sys.stdout.write(render_rows(fmt, network_rows(items, o.no_trunc), NETWORK_HEADERS,
                                     NETWORKS_TABLE, "*formatter.networkContext"))
    except TemplateError as exc:
        fail(f"template parsing error: {exc}")


@command("[OPTIONS] NETWORK [NETWORK...]",
         Str("-f, --format", "Format output using a custom template"),
         Bool("-v, --verbose", "Verbose output for diagnostics"), args=(1, None))
def inspect(ctx: Context, o: Opts, args: list[str]) -> None:
    from .system import inspect_objects
    inspect_objects(ctx, args, o.format, "network")


@command("NETWORK [NETWORK...]", Bool("-f, --force", "Do not error if the network does not "
                                      "exist"), args=(1, None))
def rm(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import networks as api
    from ..client.transport import APIError

    def remove(ref: str) -> list[str] | None:
        try:
            api.remove(ctx.api, ref)
        except APIError as exc:
            if o.force and exc.status == 404:
                return []
            raise
        return None
    for_each(args, remove)


@command("[OPTIONS]",
         List("--filter", 'Provide filter values (e.g. "until=<timestamp>")', meta="filter",
              check=check_filter),
         Bool("-f, --force", "Do not prompt for confirmation"))
def prune(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import networks as api

    if not o.force and not confirm(_PRUNE_WARNING):
        return
    deleted = api.prune(ctx.api, filters(o.filter) or None).get("NetworksDeleted") or []
    if deleted:
        print("Deleted Networks:\n" + "".join(f"{name}\n" for name in deleted))


@command("[OPTIONS] NETWORK CONTAINER",
         List("--alias", "Add network-scoped alias for the container"),
         List("--driver-opt", "driver options for the network"),
         Str("--ip", "IPv4 address (e.g., \"172.30.100.104\")"),
         Str("--ip6", "IPv6 address (e.g., \"2001:db8::33\")"),
         List("--link", "Add link to another container", meta="list"),
         List("--link-local-ip", "Add a link-local address for the container", meta="strings"),
         args=(2, 2))
def connect(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import networks as api
    from ..client.transport import APIError

    endpoint: dict[str, Any] = {"Aliases": o.alias or None,
                                "DriverOpts": _pairs(o.driver_opt, "--driver-opt") or None}
    if o.ip or o.ip6:
        endpoint["IPAMConfig"] = {"IPv4Address": o.ip or "", "IPv6Address": o.ip6 or ""}
    try:
        api.connect(ctx.api, args[0], args[1], endpoint)
    except APIError as exc:
        daemon_error(exc, 1, "")


@command("[OPTIONS] NETWORK CONTAINER",
         Bool("-f, --force", "Force the container to disconnect from a network"), args=(2, 2))
def disconnect(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import networks as api
    from ..client.transport import APIError

    try:
        api.disconnect(ctx.api, args[0], args[1], o.force)
    except APIError as exc:
        daemon_error(exc, 1, "")
