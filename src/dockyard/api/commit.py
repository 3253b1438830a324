"""POST /commit: create an image from a container's changes."""
from __future__ import annotations

from aiohttp import web

from ..engine.commit import commit as commit_container
from . import schema
from .request import engine_of, qbool, read_json

routes = web.RouteTableDef()


@routes.post("/commit")
async def commit(request: web.Request) -> web.Response:
    body = await read_json(request)
    schema.check(body, schema.COMMIT)
    query = request.query
    image_id = await commit_container(
        engine_of(request).containers, query.get("container", ""),
        repo=query.get("repo", ""), tag=query.get("tag", ""),
        author=query.get("author", ""), comment=query.get("comment", ""),
        changes=query.getall("changes", []), pause=qbool(request, "pause", True),
        config=body or None)
    return web.json_response({"Id": image_id}, status=201)
