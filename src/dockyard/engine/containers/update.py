"""`docker update`: change resource limits (live, in the cgroup) and the restart policy."""
from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from ...errors import InvalidParameter
from ...oci.spec import base_spec, with_resources
from ...runtime.cgroups import manager
from . import options, restart
from .service import ContainerService
from .starting import load_spec

_RESOURCE_KEYS = ("Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares",
                  "CpuQuota", "CpuPeriod", "CpusetCpus", "CpusetMems", "PidsLimit",
                  "BlkioWeight")


async def update(service: ContainerService, ref: str, body: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidParameter("invalid update body")
    container = service.get(ref)
    host_config = dict(container.host_config)
    for key in _RESOURCE_KEYS:
        if body.get(key) not in (None, 0, ""):
            host_config[key] = body[key]
    if body.get("NanoCpus"):          # the new form replaces the old one, as in Docker
        host_config["CpuQuota"] = host_config["CpuPeriod"] = 0
    if body.get("RestartPolicy") and body["RestartPolicy"].get("Name"):
        host_config["RestartPolicy"] = restart.validate(body["RestartPolicy"])
    old_swap = container.host_config.get("MemorySwap") or 0
    if body.get("Memory") and not body.get("MemorySwap") and 0 < old_swap < body["Memory"]:
        raise InvalidParameter("Memory limit should be smaller than already set memoryswap "
                               "limit, update the memoryswap at the same time")
    options.normalise_host_config(host_config, set(service.runtimes))
    if container.running:
        spec = load_spec(container.bundle)
        path = (spec.get("linux") or {}).get("cgroupsPath")
        if path:
            scratch = base_spec()
            with_resources(host_config, path)(scratch)
            await asyncio.to_thread(manager(path).update, scratch["linux"]["resources"])
            spec["linux"]["resources"] = scratch["linux"]["resources"]
            with open(os.path.join(container.bundle, "config.json"), "w") as f:
                json.dump(spec, f)
    container.record["HostConfig"] = host_config
    container.save()
    service.emit(container, "update")
    return {"Warnings": []}
