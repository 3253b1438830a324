"""Network endpoints (/networks/...), shaped as Docker's; each handler calls one method of
the engine's network service."""
from __future__ import annotations

from aiohttp import web

from ..errors import InvalidParameter
from . import schema
from .request import engine_of, qfilters, read_json

routes = web.RouteTableDef()


@routes.get("/networks")
async def list_networks(request: web.Request) -> web.Response:
    return web.json_response(engine_of(request).networks.list(qfilters(request)))


@routes.post("/networks/create")
async def create(request: web.Request) -> web.Response:
    body = await read_json(request)
    schema.check(body, schema.NETWORK_CREATE)
    return web.json_response(await engine_of(request).networks.create(body), status=201)


@routes.post("/networks/prune")
async def prune(request: web.Request) -> web.Response:
    return web.json_response(await engine_of(request).networks.prune(qfilters(request)))


@routes.get("/networks/{id}")
async def inspect(request: web.Request) -> web.Response:
    return web.json_response(engine_of(request).networks.inspect(request.match_info["id"]))


@routes.delete("/networks/{id}")
async def remove(request: web.Request) -> web.Response:
    await engine_of(request).networks.remove(request.match_info["id"])
    return web.Response(status=204)


def _container_of(body: object) -> str:
    if not isinstance(body, dict) or not body.get("Container"):
        raise InvalidParameter("no container specified")
    return str(body["Container"])


@routes.post("/networks/{id}/connect")
async def connect(request: web.Request) -> web.Response:
    body = await read_json(request)
    schema.check(body, schema.NETWORK_CONNECT)
    await engine_of(request).networks.connect(request.match_info["id"], _container_of(body),
                                              body.get("EndpointConfig"))
    return web.Response(status=200)


@routes.post("/networks/{id}/disconnect")
async def disconnect(request: web.Request) -> web.Response:
    body = await read_json(request)
    schema.check(body, schema.NETWORK_DISCONNECT)
    await engine_of(request).networks.disconnect(request.match_info["id"],
                                                 _container_of(body), bool(body.get("Force")))
    return web.Response(status=200)
