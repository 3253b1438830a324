"""POST /build (the classic builder's API) and POST /build/prune. The context is the
request body, read by a worker thread as it arrives (never whole in memory); the answer
streams the build's messages, and a client that goes away cancels the build."""
from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from .. import gojson
from ..engine.build.options import BuildOptions
from ..errors import InvalidParameter
from .request import BodyReader, drain_body, engine_of, qbool, qint

routes = web.RouteTableDef()
_DISCONNECT_POLL = 0.5      # how often a quiet build checks that its client is still there


# moby's wording for each JSON parameter, and the Go type it decodes into
_JSON_PARAMS = {"buildargs": ("error reading build args", "map[string]*string"),
                "labels": ("error reading labels", "map[string]string"),
                "cachefrom": ("error reading cache-from", "[]string"),
                "ulimits": ("error reading ulimit settings", "[]*units.Ulimit")}


def _json_param(request: web.Request, name: str, kind: type) -> Any:
    text = request.query.get(name) or ""
    if not text:
        return None
    what, go_type = _JSON_PARAMS[name]
    try:
        value = gojson.loads(text)
    except gojson.GoJSONError as exc:
        raise InvalidParameter(f"{what}: {exc}") from None
    if value is None:
        return None
    if not isinstance(value, kind):
        found = {dict: "object", list: "array", str: "string", bool: "bool"}.get(
            type(value), "number")
        raise InvalidParameter(f"{what}: json: cannot unmarshal {found} into Go value of "
                               f"type {go_type}")
    return value


def options_of(request: web.Request) -> BuildOptions:
    query = request.query
    if query.get("version") == "2":
        raise InvalidParameter("BuildKit is not supported by this daemon: use the classic "
                               "builder (version=1)")
    build_args = _json_param(request, "buildargs", dict) or {}
    labels = _json_param(request, "labels", dict) or {}
    cache_from = _json_param(request, "cachefrom", list)
    ulimits = _json_param(request, "ulimits", list) or []
    hosts = [h for item in query.getall("extrahosts", []) for h in item.split(",") if h]
    return BuildOptions(
        tags=[t for t in query.getall("t", []) if t], dockerfile=query.get("dockerfile", ""),
        build_args={str(k): (None if v is None else str(v)) for k, v in build_args.items()},
        no_cache=qbool(request, "nocache"), pull=qbool(request, "pull"),
        remove=qbool(request, "rm", True), force_remove=qbool(request, "forcerm"),
        labels={str(k): str(v) for k, v in labels.items()}, target=query.get("target", ""),
        cache_from=[str(c) for c in cache_from] if cache_from else None,
        network_mode=query.get("networkmode", ""), extra_hosts=hosts,
        shm_size=qint(request, "shmsize", 0) or 0, platform=query.get("platform", ""),
        quiet=qbool(request, "q"), memory=qint(request, "memory", 0) or 0,
        memory_swap=qint(request, "memswap", 0) or 0,
        cpu_shares=qint(request, "cpushares", 0) or 0,
        cpuset_cpus=query.get("cpusetcpus", ""), cpu_period=qint(request, "cpuperiod", 0) or 0,
        cpu_quota=qint(request, "cpuquota", 0) or 0, ulimits=ulimits,
        remote=query.get("remote", ""))


@routes.post("/build")
async def build(request: web.Request) -> web.StreamResponse:
    try:
        options = options_of(request)
        body = BodyReader(request, asyncio.get_running_loop())
        messages = await engine_of(request).build.build(body, options)
    except BaseException:
        await drain_body(request)
        raise
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()

    async def pump() -> None:
        await response.prepare(request)
        async for message in messages:
            await response.write(json.dumps(message).encode() + b"\r\n")

    task = asyncio.ensure_future(pump())   # the build ends with it, whatever ends it
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=_DISCONNECT_POLL)
            transport = request.transport
            if not task.done() and (transport is None or transport.is_closing()):
                task.cancel()
        await asyncio.gather(task, return_exceptions=task.cancelled())
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await messages.aclose()
    if not task.cancelled():
        await response.write_eof()
    return response


@routes.post("/build/prune")
async def prune(request: web.Request) -> web.Response:
    return web.json_response(await engine_of(request).build.prune(qbool(request, "all")))
