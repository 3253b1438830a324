"""POST /auth: check credentials against a registry for `docker login`. The daemon keeps
nothing: the client stores the credentials and sends them with each pull or push."""
from __future__ import annotations

from aiohttp import web

from . import schema
from .request import engine_of, read_json

routes = web.RouteTableDef()


@routes.post("/auth")
async def auth(request: web.Request) -> web.Response:
    from ..distribution.auth import AuthConfig
    from ..distribution.login import login

    body = await read_json(request)
    schema.check(body, schema.AUTH)
    config = AuthConfig.from_json(body or {}, "invalid auth configuration")
    insecure = engine_of(request).config.raw.get("insecure-registries") or []
    token = await login(config, insecure)
    return web.json_response({"Status": "Login Succeeded", "IdentityToken": token})
