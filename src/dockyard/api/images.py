"""Image endpoints (/images/...). Names may contain slashes, so routes match greedily."""
from __future__ import annotations

import asyncio
import tempfile
from typing import Any

from aiohttp import web

from ..errors import NotFound
from ..store import reference
from .server import engine_of, qbool, qfilters, stream_json_lines

routes = web.RouteTableDef()


def _images(request: web.Request) -> Any:
    return engine_of(request).images


@routes.get("/images/json")
async def list_images(request: web.Request) -> web.Response:
    result = await asyncio.to_thread(_images(request).list, qbool(request, "all"),
                                     qfilters(request), qbool(request, "digests"))
    return web.json_response(result)


@routes.post("/images/create")
async def create(request: web.Request) -> web.StreamResponse:
    service = _images(request)
    from_image = request.query.get("fromImage")
    if from_image:
        name = reference.parse(from_image).familiar
        raise NotFound(f"pull access denied for {name}, repository does not exist or may "
                       "require 'docker login': pulling from registries is not available yet")
    source = request.query.get("fromSrc", "-")
    repo, tag = request.query.get("repo") or None, request.query.get("tag") or None
    if repo and not tag and ":" in repo.rsplit("/", 1)[-1]:
        repo, tag = repo.rsplit(":", 1)
    changes = request.query.getall("changes", [])
    if source == "-":
        stream: Any = await _spool(request)
    else:
        import urllib.request
        stream = await asyncio.to_thread(urllib.request.urlopen, source)
    image_id = await asyncio.to_thread(service.import_image, stream, repo, tag,
                                       request.query.get("message", ""), changes, source)
    return await stream_json_lines(request, [{"status": image_id}])


@routes.post("/images/prune")
async def prune(request: web.Request) -> web.Response:
    return web.json_response(await asyncio.to_thread(_images(request).prune, qfilters(request)))


async def _spool(request: web.Request) -> Any:
    """The request body in an anonymous temp file: archives can be larger than memory."""
    spool = tempfile.TemporaryFile()
    async for chunk in request.content.iter_chunked(1 << 20):
        await asyncio.to_thread(spool.write, chunk)
    spool.seek(0)
    return spool


@routes.get("/images/get")
async def save_many(request: web.Request) -> web.StreamResponse:
    return await _save(request, request.query.getall("names", []))


@routes.post("/images/load")
async def load(request: web.Request) -> web.StreamResponse:
    with await _spool(request) as body:
        messages = await asyncio.to_thread(_images(request).load, body)
    if qbool(request, "quiet"):
        messages = []
    return await stream_json_lines(request, [{"stream": m + "\n"} for m in messages])


async def _save(request: web.Request, names: list[str]) -> web.StreamResponse:
    chunks = _images(request).save(names)
    response = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    while True:
        chunk = await asyncio.to_thread(next, chunks, None)
        if chunk is None:
            break
        if chunk:
            await response.write(chunk)
    await response.write_eof()
    return response


@routes.get(r"/images/{name:.+}/get")
async def save_one(request: web.Request) -> web.StreamResponse:
    return await _save(request, [request.match_info["name"]])


@routes.get(r"/images/{name:.+}/json")
async def inspect(request: web.Request) -> web.Response:
    return web.json_response(_images(request).inspect(request.match_info["name"]))


@routes.get(r"/images/{name:.+}/history")
async def history(request: web.Request) -> web.Response:
    return web.json_response(_images(request).history(request.match_info["name"]))


@routes.post(r"/images/{name:.+}/tag")
async def tag(request: web.Request) -> web.Response:
    repo = request.query.get("repo", "")
    tag_name = request.query.get("tag") or None
    if repo and not tag_name and ":" in repo.rsplit("/", 1)[-1]:
        repo, tag_name = repo.rsplit(":", 1)
    _images(request).tag(request.match_info["name"], repo, tag_name)
    return web.Response(status=201)


@routes.delete(r"/images/{name:.+}")
async def remove(request: web.Request) -> web.Response:
    result = _images(request).remove(request.match_info["name"], qbool(request, "force"),
                                     qbool(request, "noprune"))
    return web.json_response(result)
