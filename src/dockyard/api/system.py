"""System endpoints: /_ping, /version, /info, /system/df, /events, and dockyard's own
/dockyard/check."""
from __future__ import annotations

import asyncio
import json
import os
import platform

from aiohttp import web

from .. import API_VERSION, MIN_API_VERSION, __version__
from ..timeutil import parse_timestamp
from .request import engine_of, qfilters

routes = web.RouteTableDef()

_PING_HEADERS = {"Builder-Version": "1", "Docker-Experimental": "false", "Swarm": "inactive",
                 "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}


@routes.get("/_ping", allow_head=False)
async def ping(request: web.Request) -> web.Response:
    return web.Response(text="OK", headers=_PING_HEADERS)


@routes.head("/_ping")
async def ping_head(request: web.Request) -> web.Response:
    return web.Response(headers={**_PING_HEADERS, "Content-Length": "0",
                                 "Content-Type": "text/plain; charset=utf-8"})


def version_info() -> dict:
    uname = os.uname()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(uname.machine, uname.machine)
    details = {"ApiVersion": API_VERSION, "Arch": arch, "BuildTime": "", "Experimental": "false",
               "GitCommit": "", "GoVersion": f"python{platform.python_version()}",
               "KernelVersion": uname.release, "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}
    return {
        "Platform": {"Name": "dockyard"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "", "GoVersion": f"python{platform.python_version()}", "Os": "linux",
        "Arch": arch, "KernelVersion": uname.release, "BuildTime": "",
    }


@routes.get("/version")
async def version(request: web.Request) -> web.Response:
    return web.json_response(version_info())


@routes.get("/info")
async def info(request: web.Request) -> web.Response:
    return web.json_response(engine_of(request).info())


@routes.get("/system/df")
async def system_df(request: web.Request) -> web.Response:
    return web.json_response(await asyncio.to_thread(engine_of(request).disk_usage))


@routes.get("/dockyard/check")
async def store_check(request: web.Request) -> web.Response:
    """dockyard's own: the store's consistency findings, [] when it is consistent."""
    return web.json_response(await engine_of(request).check())


@routes.get("/events")
async def events(request: web.Request) -> web.StreamResponse:
    filters = qfilters(request)
    since = parse_timestamp(request.query["since"]) if request.query.get("since") else None
    until = parse_timestamp(request.query["until"]) if request.query.get("until") else None
    stream = engine_of(request).events.watch(filters, since, until)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        async for event in stream:
            await response.write(json.dumps(event).encode() + b"\n")
    finally:
        await stream.aclose()
    await response.write_eof()
    return response
