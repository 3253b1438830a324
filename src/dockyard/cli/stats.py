"""`stats`: live (or one-shot) resource usage, in the docker CLI's table."""
from __future__ import annotations

import sys
import threading
import time
from typing import Any

from ..client import containers as api_containers
from .common import Context
from .flags import Bool, Opts, Str, command

_HEADER = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
           "BLOCK I/O", "PIDS"]


def row(sample: dict[str, Any], no_trunc: bool) -> dict[str, str]:
    from ..units import bytes_size, human_size

    cpu, pre = sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - \
        (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpu_percent = cpu_delta / system_delta * cpu.get("online_cpus", 1) * 100.0 \
        if cpu_delta > 0 and system_delta > 0 and pre.get("system_cpu_usage") else 0.0
    memory = sample.get("memory_stats") or {}
    stats = memory.get("stats") or {}
    usage = memory.get("usage", 0)
    inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    usage = usage - inactive if inactive < usage else usage
    limit = memory.get("limit", 0)
    io = (sample.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    read = sum(e["value"] for e in io if e.get("op") == "read")
    write = sum(e["value"] for e in io if e.get("op") == "write")
    cid = sample.get("id", "")
    return {"ID": cid if no_trunc else cid[:12], "Name": sample.get("name", "").lstrip("/"),
            "CPUPerc": f"{cpu_percent:.2f}%",
            "MemUsage": f"{bytes_size(usage)} / {bytes_size(limit)}" if memory else "0B / 0B",
            "MemPerc": f"{usage / limit * 100:.2f}%" if limit else "0.00%",
            "NetIO": "0B / 0B", "BlockIO": f"{human_size(read)} / {human_size(write)}",
            "PIDs": str((sample.get("pids_stats") or {}).get("current", 0))}


def _render(rows: list[dict[str, str]], fmt: str | None) -> str:
    from .format.tabwriter import render_table

    if fmt and not fmt.startswith("table"):
        from .format.template import render_template
        return "".join(render_template(fmt, r) + "\n" for r in rows)
    keys = ["ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs"]
    return render_table(_HEADER, [[r[k] for k in keys] for r in rows])


@command("[OPTIONS] [CONTAINER...]",
         Bool("-a, --all", "Show all containers (default shows just running)"),
         Str("--format", "Format output using a custom template"),
         Bool("--no-stream", "Disable streaming stats and only pull the first result"),
         Bool("--no-trunc", "Do not truncate output"),
         args=(0, None), complete="container")
def stats(ctx: Context, o: Opts, args: list[str]) -> None:
    api = ctx.api
    no_stream, no_trunc, fmt = o.no_stream, o.no_trunc, o.format
    refs = list(args) or [c["Id"] for c in api_containers.list_(api, all_=o.all)]
    latest: dict[str, dict[str, str]] = {}

    def follow(ref: str) -> None:
        params = {"stream": not no_stream}
        if no_stream:
            latest[ref] = row(api.get(f"/containers/{ref}/stats", params), no_trunc)
            return
        for sample in api.stream_json("GET", f"/containers/{ref}/stats", params):
            latest[ref] = row(sample, no_trunc)

    threads = [threading.Thread(target=follow, args=(ref,), daemon=True) for ref in refs]
    for thread in threads:
        thread.start()
    if no_stream:
        for thread in threads:
            thread.join()
        print(_render([latest[r] for r in refs if r in latest], fmt), end="")
        return
    try:
        while True:
            time.sleep(1)
            sys.stdout.write("\033[2J\033[H" + _render([latest[r] for r in refs
                                                        if r in latest], fmt))
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass

