"""`ps`: the container list as the docker CLI prints it (its default table needs only the
tab writer; the template engine is loaded for --format alone)."""
from __future__ import annotations

import json
import time
from typing import Any

from ..client import containers as api_containers
from .common import Context, check_filter, filters, host_port
from .flags import Bool, Int, List, Opts, Str, command

_SHORT = 12
_COLUMNS = [("CONTAINER ID", "ID"), ("IMAGE", "Image"), ("COMMAND", "Command"),
            ("CREATED", "RunningFor"), ("STATUS", "Status"), ("PORTS", "Ports"),
            ("NAMES", "Names")]


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def ps_row(c: dict[str, Any], no_trunc: bool, now: float) -> dict[str, str]:
    from ..units import human_duration

    command = c.get("Command", "")
    if not no_trunc:
        command = _ellipsis(command, 20)
    cid = c["Id"] if no_trunc else c["Id"][:_SHORT]
    image = c.get("Image", "")
    if image.startswith("sha256:") and not no_trunc:
        image = image[7:19]
    return {
        "ID": cid, "Image": image, "Command": json.dumps(command, ensure_ascii=False),
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(c["Created"])),
        "RunningFor": f"{human_duration(now - c['Created'])} ago",
        "Ports": displayable_ports(c.get("Ports") or []), "State": c.get("State", ""),
        "Status": c.get("Status", ""),
        "Names": ",".join(n.lstrip("/") for n in c.get("Names", [])),
        "Labels": ",".join(f"{k}={v}" for k, v in (c.get("Labels") or {}).items()),
        "Size": "", "Mounts": ",".join(
            m.get("Name") or m.get("Source", "") if no_trunc else
            _ellipsis(m.get("Name") or m.get("Source", ""), 15) for m in c.get("Mounts") or []),
        "Networks": ",".join(
            (c.get("NetworkSettings") or {}).get("Networks") or {}),
    }


def displayable_ports(ports: list[dict[str, Any]]) -> str:
    """The PORTS column as the docker CLI makes it: ports published on the same number (and
    unpublished ones) folded into ranges per IP and protocol, first; then every other
    mapping, "0.0.0.0:8080->80/tcp", in port order."""
    ordered = sorted(ports, key=lambda p: (p.get("PrivatePort", 0), p.get("IP", ""),
                                           p.get("PublicPort", 0), p.get("Type", "")))
    groups: dict[str, list[int]] = {}        # key → [first, last], in first-seen order
    folded: list[str] = []
    mappings: list[str] = []
    for p in ordered:
        private, kind, ip = p.get("PrivatePort", 0), p.get("Type", "tcp"), p.get("IP", "")
        key = kind
        if ip:
            if p.get("PublicPort") != private:
                mappings.append(f"{host_port(ip, p.get('PublicPort'))}->{private}/{kind}")
                continue
            key = f"{ip}/{kind}"
        group = groups.get(key)
        if group is None:
            groups[key] = [private, private]
        elif private == group[1] + 1:
            group[1] = private
        else:
            folded.append(_port_group(key, *group))
            groups[key] = [private, private]
    folded += [_port_group(key, *group) for key, group in groups.items()]
    return ", ".join(folded + mappings)


def _port_group(key: str, first: int, last: int) -> str:
    ip, _, kind = key.rpartition("/")
    span = str(first) if first == last else f"{first}-{last}"
    return f"{host_port(ip, span)}->{span}/{kind}" if ip else f"{span}/{kind}"


@command("[OPTIONS]",
         Bool("-a, --all", "Show all containers (default shows just running)"),
         List("-f, --filter", "Filter output based on conditions provided", meta="filter",
              check=check_filter),
         Str("--format", "Format output using a custom template: 'table', 'table TEMPLATE', "
             "'json' or a Go template"),
         Int("-n, --last", "Show n last created containers (includes all states)",
             default=-1),
         Bool("-l, --latest", "Show the latest created container (includes all states)"),
         Bool("--no-trunc", "Don't truncate output"),
         Bool("-q, --quiet", "Only display container IDs"),
         Bool("-s, --size", "Display total file sizes"))
def ps(ctx: Context, o: Opts, args: list[str]) -> None:
    limit = 1 if o.latest else (o.last if o.last > 0 else None)
    items = api_containers.list_(ctx.api, all_=o.all, limit=limit,
                                 filters=filters(o.filter) or None)
    if o.quiet:
        print("".join((c["Id"] if o.no_trunc else c["Id"][:_SHORT]) + "\n" for c in items),
              end="")
        return
    now = time.time()
    rows = [ps_row(c, o.no_trunc, now) for c in items]
    fmt = o.format
    if fmt and fmt != "table":
        from .format.template import render_template

        if fmt == "json":
            for row in rows:
                print(json.dumps(row))
            return
        for row in rows:
            print(render_template(fmt.removeprefix("table ").replace("\\t", "\t"), row))
        return
    from .format.tabwriter import render_table

    print(render_table([h for h, _ in _COLUMNS], [[row[k] for _, k in _COLUMNS] for row in rows]),
          end="")
