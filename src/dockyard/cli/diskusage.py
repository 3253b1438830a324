"""system df: the summary table, and with -v each section's own table, as the docker CLI
prints them."""
from __future__ import annotations

from typing import Any

from .common import Context
from .flags import Bool, Opts, Str, command


def _pct(part: int, whole: int) -> str:
    """RECLAIMABLE: with a percentage only when there is anything at all, as the CLI."""
    from ..units import human_size
    if not whole:
        return human_size(part, 4)
    return f"{human_size(part, 4)} ({int(part * 100 / whole)}%)"


def summary_rows(data: dict[str, Any]) -> list[dict[str, str]]:
    """The four rows; sizes with 4 digits (units.HumanSize), as the docker CLI's."""
    from ..units import human_size

    images, containers = data.get("Images") or [], data.get("Containers") or []
    volumes = data.get("Volumes") or []
    image_size = sum(i["Size"] for i in images)
    unused_images = sum(i["Size"] for i in images if not i.get("Containers"))
    running = [c for c in containers if c["State"] == "running"]
    rw = sum(c.get("SizeRw", 0) for c in containers)
    rw_reclaimable = sum(c.get("SizeRw", 0) for c in containers if c["State"] != "running")
    sizes = [max(0, (v.get("UsageData") or {}).get("Size", 0)) for v in volumes]
    used = [(v.get("UsageData") or {}).get("RefCount", 0) > 0 for v in volumes]
    volume_size = sum(sizes)
    unused_volumes = sum(size for size, in_use in zip(sizes, used) if not in_use)
    return [
        {"Type": "Images", "TotalCount": str(len(images)),
         "Active": str(sum(1 for i in images if i.get("Containers"))),
         "Size": human_size(image_size, 4), "Reclaimable": _pct(unused_images, image_size)},
        {"Type": "Containers", "TotalCount": str(len(containers)), "Active": str(len(running)),
         "Size": human_size(rw, 4), "Reclaimable": _pct(rw_reclaimable, rw)},
        {"Type": "Local Volumes", "TotalCount": str(len(volumes)), "Active": str(sum(used)),
         "Size": human_size(volume_size, 4), "Reclaimable": _pct(unused_volumes, volume_size)},
        {"Type": "Build Cache", "TotalCount": "0", "Active": "0", "Size": "0B",
         "Reclaimable": "0B"},
    ]


def _verbose(data: dict[str, Any]) -> str:
    """The docker CLI's `system df -v`: images, containers, volumes, build cache."""
    import time

    from ..units import human_size
    from .format.tabwriter import render_table
    from .images import image_rows
    from .ps import ps_row

    images = render_table(
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE",
         "CONTAINERS"],
        [[r["Repository"], r["Tag"], r["ID"], r["CreatedSince"], r["Size"], r["SharedSize"],
          r["UniqueSize"], r["Containers"]] for r in image_rows(data.get("Images") or [])])
    now = time.time()
    containers = render_table(
        ["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS",
         "NAMES"],
        [[row["ID"], row["Image"], row["Command"],
          str(sum(1 for m in c.get("Mounts") or [] if m.get("Type") == "volume")),
          human_size(c.get("SizeRw", 0)), row["RunningFor"], row["Status"], row["Names"]]
         for c in data.get("Containers") or [] for row in [ps_row(c, False, now)]])
    volumes = render_table(
        ["VOLUME NAME", "LINKS", "SIZE"],
        [[v["Name"], str((v.get("UsageData") or {}).get("RefCount", 0)),
          human_size(max(0, (v.get("UsageData") or {}).get("Size", 0)))]
         for v in data.get("Volumes") or []])
    cache = render_table(["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE",
                          "SHARED"], [])
    return (f"Images space usage:\n\n{images}\nContainers space usage:\n\n{containers}\n"
            f"Local Volumes space usage:\n\n{volumes}\nBuild cache usage: 0B\n\n{cache}")


@command("[OPTIONS]", Str("--format", "Format output using a custom template"),
         Bool("-v, --verbose", "Show detailed information on space usage"))
def df(ctx: Context, o: Opts, args: list[str]) -> None:
    from .format.tabwriter import render_table

    data = ctx.api.get("/system/df")
    if o.verbose and not o.format:
        print(_verbose(data), end="")
        return
    rows = [dict(sorted(r.items())) for r in summary_rows(data)]   # {{json .}}: Go's order
    if o.format:
        from .format.template import render_template
        for r in rows:
            print(render_template(o.format, r))
        return
    print(render_table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
                       [[r["Type"], r["TotalCount"], r["Active"], r["Size"], r["Reclaimable"]]
                        for r in rows]), end="")
