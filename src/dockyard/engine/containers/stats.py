"""Docker's stats JSON (`GET /containers/{id}/stats`) built from cgroup readings."""
from __future__ import annotations

import asyncio
import os
from typing import Any, AsyncIterator

from ...runtime.cgroups import manager
from ...runtime.cgroups.stats import collect
from ...timeutil import ZERO_TIME, rfc3339nano
from .model import Container
from .service import ContainerService
from .starting import load_spec

INTERVAL = 1.0


def _system_cpu_ns() -> int:
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(int(v) for v in fields) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def _host_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _cpu_block(raw: dict[str, Any] | None) -> dict[str, Any]:
    if raw is None:
        return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0,
                              "usage_in_usermode": 0}, "throttling_data": {
            "periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    usage: dict[str, Any] = {"total_usage": raw["cpu_total_ns"],
                             "usage_in_kernelmode": raw["cpu_system_ns"],
                             "usage_in_usermode": raw["cpu_user_ns"]}
    if raw["cpu_percpu_ns"]:
        usage["percpu_usage"] = raw["cpu_percpu_ns"]
    return {"cpu_usage": usage, "system_cpu_usage": raw["system_ns"],
            "online_cpus": os.cpu_count() or 1,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def _sample(container: Container) -> dict[str, Any] | None:
    if not container.running:
        return None
    spec = load_spec(container.bundle)
    path = (spec.get("linux") or {}).get("cgroupsPath")
    if not path:
        return None
    raw = collect(manager(path))
    raw["system_ns"] = _system_cpu_ns()
    return raw


def render(container: Container, raw: dict[str, Any] | None, previous: dict[str, Any] | None,
           read_at: str, preread_at: str) -> dict[str, Any]:
    memory: dict[str, Any] = {}
    if raw is not None:
        limit = raw["memory_limit"]
        memory = {"usage": raw["memory_usage"], "max_usage": raw["memory_max_usage"],
                  "stats": raw["memory_stat"], "failcnt": raw["memory_failcnt"],
                  "limit": min(limit, _host_memory()) if limit else _host_memory()}
    return {
        "read": read_at, "preread": preread_at,
        "pids_stats": {"current": raw["pids_current"], **(
            {"limit": raw["pids_limit"]} if raw["pids_limit"] else {})} if raw else {},
        "blkio_stats": {"io_service_bytes_recursive": raw["io"] if raw else None,
                        "io_serviced_recursive": None, "io_queue_recursive": None,
                        "io_service_time_recursive": None, "io_wait_time_recursive": None,
                        "io_merged_recursive": None, "io_time_recursive": None,
                        "sectors_recursive": None},
        "num_procs": 0, "storage_stats": {},
        "cpu_stats": _cpu_block(raw), "precpu_stats": _cpu_block(previous),
        "memory_stats": memory, "name": container.record["Name"], "id": container.id,
    }


async def stream(service: ContainerService, ref: str, follow: bool, one_shot: bool
                 ) -> AsyncIterator[dict[str, Any]]:
    """Samples as Docker sends them: with stream=0 one answer whose precpu comes from a
    reading an interval earlier (unless one-shot); with stream=1 one per interval."""
    container = service.get(ref)
    previous, preread = None, ZERO_TIME
    if not follow and not one_shot and container.running:
        previous, preread = await asyncio.to_thread(_sample, container), rfc3339nano()
        await asyncio.sleep(INTERVAL)
    while True:
        raw = await asyncio.to_thread(_sample, container)
        now = rfc3339nano()
        yield render(container, raw, previous, now, preread)
        if not follow or not container.running:
            return
        previous, preread = raw, now
        await asyncio.sleep(INTERVAL)
