"""Volume endpoints (/volumes/...): list, create, inspect, remove, prune."""
from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from . import schema
from .request import engine_of, qbool, qfilters, read_json

routes = web.RouteTableDef()


def _volumes(request: web.Request) -> Any:
    return engine_of(request).volumes


@routes.get("/volumes")
async def list_volumes(request: web.Request) -> web.Response:
    return web.json_response(_volumes(request).list(qfilters(request)))


@routes.post("/volumes/create")
async def create(request: web.Request) -> web.Response:
    body = await read_json(request) or {}
    schema.check(body, schema.VOLUME_CREATE)
    volume = await asyncio.to_thread(
        _volumes(request).create, body.get("Name") or "", body.get("Driver") or "",
        body.get("DriverOpts") or {}, body.get("Labels") or {})
    return web.json_response(volume, status=201)


@routes.post("/volumes/prune")
async def prune(request: web.Request) -> web.Response:
    # before API 1.42 a prune removed every unused volume, named ones too
    old_api = tuple(int(x) for x in request["api_version"].split(".")) < (1, 42)
    return web.json_response(await asyncio.to_thread(
        _volumes(request).prune, qfilters(request), old_api))


@routes.get("/volumes/{name}")
async def inspect(request: web.Request) -> web.Response:
    return web.json_response(_volumes(request).inspect(request.match_info["name"]))


@routes.delete("/volumes/{name}")
async def remove(request: web.Request) -> web.Response:
    await asyncio.to_thread(_volumes(request).remove, request.match_info["name"],
                            qbool(request, "force"))
    return web.Response(status=204)
