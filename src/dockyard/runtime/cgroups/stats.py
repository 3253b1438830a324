"""Raw resource usage of a container's cgroup, for `stats` (v1 and v2 file layouts)."""
from __future__ import annotations

import os
from typing import Any


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _int(path: str, default: int = 0) -> int:
    text = _read(path).strip()
    try:
        return int(text)
    except ValueError:
        return default


def _kv(path: str) -> dict[str, int]:
    out = {}
    for line in _read(path).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def collect_v1(dirs: dict[str, str]) -> dict[str, Any]:
    ticks = os.sysconf("SC_CLK_TCK")
    cpuacct = dirs.get("cpuacct", "")
    stat = _kv(os.path.join(cpuacct, "cpuacct.stat"))
    memory = dirs.get("memory", "")
    pids = dirs.get("pids", "")
    blkio = dirs.get("blkio", "")
    io = []
    for line in _read(os.path.join(blkio, "blkio.throttle.io_service_bytes")).splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            major, minor = parts[0].split(":")
            io.append({"major": int(major), "minor": int(minor), "op": parts[1].lower(),
                       "value": int(parts[2])})
    pids_max = _read(os.path.join(pids, "pids.max")).strip()
    return {
        "cpu_total_ns": _int(os.path.join(cpuacct, "cpuacct.usage")),
        "cpu_percpu_ns": [int(v) for v in
                          _read(os.path.join(cpuacct, "cpuacct.usage_percpu")).split()],
        "cpu_user_ns": stat.get("user", 0) * 1_000_000_000 // ticks,
        "cpu_system_ns": stat.get("system", 0) * 1_000_000_000 // ticks,
        "memory_usage": _int(os.path.join(memory, "memory.usage_in_bytes")),
        "memory_max_usage": _int(os.path.join(memory, "memory.max_usage_in_bytes")),
        "memory_limit": _int(os.path.join(memory, "memory.limit_in_bytes")),
        "memory_stat": _kv(os.path.join(memory, "memory.stat")),
        "memory_failcnt": _int(os.path.join(memory, "memory.failcnt")),
        "pids_current": _int(os.path.join(pids, "pids.current")),
        "pids_limit": int(pids_max) if pids_max.isdigit() else 0,
        "io": io,
    }


def collect_v2(directory: str) -> dict[str, Any]:
    cpu = _kv(os.path.join(directory, "cpu.stat"))
    limit = _read(os.path.join(directory, "memory.max")).strip()
    pids_max = _read(os.path.join(directory, "pids.max")).strip()
    io = []
    for line in _read(os.path.join(directory, "io.stat")).splitlines():
        parts = line.split()
        if parts and ":" in parts[0]:
            major, minor = parts[0].split(":")
            fields = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
            for op, key in (("read", "rbytes"), ("write", "wbytes")):
                io.append({"major": int(major), "minor": int(minor), "op": op,
                           "value": int(fields.get(key, 0))})
    return {
        "cpu_total_ns": cpu.get("usage_usec", 0) * 1000, "cpu_percpu_ns": [],
        "cpu_user_ns": cpu.get("user_usec", 0) * 1000,
        "cpu_system_ns": cpu.get("system_usec", 0) * 1000,
        "memory_usage": _int(os.path.join(directory, "memory.current")),
        "memory_max_usage": _int(os.path.join(directory, "memory.peak")),
        "memory_limit": int(limit) if limit.isdigit() else 0,
        "memory_stat": _kv(os.path.join(directory, "memory.stat")),
        "memory_failcnt": 0,
        "pids_current": _int(os.path.join(directory, "pids.current")),
        "pids_limit": int(pids_max) if pids_max.isdigit() else 0,
        "io": io,
    }


def collect(manager: Any) -> dict[str, Any]:
    dirs = manager.directories()
    if "unified" in dirs:
        return collect_v2(dirs["unified"])
    return collect_v1(dirs)
