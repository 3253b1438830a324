"""System endpoints: /_ping, /version, /info, /system/df, /events, and dockyard's own
/dockyard/check."""
from __future__ import annotations

import asyncio
import json
import os
import platform
import time
from typing import Any

from aiohttp import web

from .. import API_VERSION, MIN_API_VERSION, __version__
from ..timeutil import parse_timestamp
from ..linux.fsutil import disk_usage
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
    engine = engine_of(request)
    return web.json_response(await asyncio.to_thread(_disk_usage, engine))


def _disk_usage(engine: Any) -> dict[str, Any]:
    images = engine.images.list(all=True)
    used_by: dict[str, int] = {}
    containers = []
    for summary in engine.containers.list(all_=True):
        used_by[summary["ImageID"]] = used_by.get(summary["ImageID"], 0) + 1
        overlay = engine.images.prepare_rw(summary["Id"], summary["ImageID"])
        size_rw = disk_usage(overlay.upperdir)
        image_size = next((i["Size"] for i in images if i["Id"] == summary["ImageID"]), 0)
        containers.append({**summary, "SizeRw": size_rw, "SizeRootFs": size_rw + image_size})
    for image in images:
        image["Containers"] = used_by.get(image["Id"], 0)
        image["SharedSize"] = 0
    return {"LayersSize": sum(i["Size"] for i in images), "Images": images,
            "Containers": containers, "Volumes": [], "BuildCache": []}


@routes.get("/dockyard/check")
async def store_check(request: web.Request) -> web.Response:
    """dockyard's own: the store's consistency findings, [] when it is consistent."""
    return web.json_response(await engine_of(request).check())


@routes.get("/events")
async def events(request: web.Request) -> web.StreamResponse:
    bus = engine_of(request).events
    filters = qfilters(request)
    since = parse_timestamp(request.query["since"]) if request.query.get("since") else None
    until = parse_timestamp(request.query["until"]) if request.query.get("until") else None
    queue = bus.subscribe()
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        if since is not None:
            for event in bus.history():
                if event["timeNano"] / 1e9 >= since and _event_matches(event, filters) and \
                        (until is None or event["timeNano"] / 1e9 <= until):
                    await response.write(json.dumps(event).encode() + b"\n")
        while True:
            timeout = None if until is None else until - time.time()
            if timeout is not None and timeout <= 0:
                break
            try:
                event = await asyncio.wait_for(queue.get(), timeout)
            except asyncio.TimeoutError:
                break
            if _event_matches(event, filters):
                await response.write(json.dumps(event).encode() + b"\n")
    finally:
        bus.unsubscribe(queue)
    await response.write_eof()
    return response


def _event_matches(event: dict, filters: dict[str, list[str]]) -> bool:
    actor = event["Actor"]
    attributes = actor.get("Attributes") or {}
    for key, values in filters.items():
        if key == "type" and event["Type"] not in values:
            return False
        if key == "event" and event["Action"] not in values:
            return False
        if key in ("container", "image") and (event["Type"] != key or not any(
                actor["ID"].startswith(v) or attributes.get("name") == v for v in values)):
            return False
        if key == "label":
            for cond in values:
                k, sep, v = cond.partition("=")
                if k not in attributes or (sep and attributes[k] != v):
                    return False
    return True
