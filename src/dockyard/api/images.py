"""Image endpoints (/images/...). Names may contain slashes, so the routes taking a name
match greedily and end in a fixed suffix (json, history, tag, get, push); the fixed paths
(json, create, load, get, prune) are registered first.

The image service blocks (disk work): every call runs in a worker thread. Request bodies
(import, load) are read by the worker as a stream, straight from the connection.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any, Iterator

from aiohttp import web

from ..errors import DockyardError, InvalidParameter
from .request import (BATCH, BodyReader, drain_body, engine_of, qbool, qfilters,
                      stream_json_lines)

routes = web.RouteTableDef()


def _images(request: web.Request) -> Any:
    return engine_of(request).images


def _version(request: web.Request) -> tuple[int, ...]:
    from .. import API_VERSION
    text = request.get("api_version") or API_VERSION
    try:
        return tuple(int(x) for x in text.split("."))
    except ValueError:
        return (1, 45)


def _registry_auth(request: web.Request) -> Any:
    """X-Registry-Auth, decoded by the registry auth module (None when absent)."""
    header = request.headers.get("X-Registry-Auth")
    if not header:
        return None
    from ..distribution.auth import decode_registry_auth
    return decode_registry_auth(header)


async def _with_body(request: web.Request, func: Any, *args: Any) -> Any:
    body = BodyReader(request, asyncio.get_running_loop())
    try:
        return await asyncio.to_thread(func, body, *args)
    except BaseException:
        await drain_body(request)
        raise


async def _json_stream(request: web.Request, items: list[dict[str, Any]]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for item in items:
        await response.write(json.dumps(item).encode() + b"\r\n")
    await response.write_eof()
    return response


# --- fixed paths ----------------------------------------------------------------------------

@routes.get("/images/json")
async def list_images(request: web.Request) -> web.Response:
    filters = qfilters(request)
    legacy = request.query.get("filter")
    if legacy:
        filters.setdefault("reference", []).append(legacy)
    result = await asyncio.to_thread(_images(request).list, qbool(request, "all"), filters,
                                     qbool(request, "digests"),
                                     qbool(request, "shared-size"))
    version = _version(request)
    for summary in result:
        if version < (1, 43) and not summary["RepoTags"] and not summary["RepoDigests"]:
            summary["RepoTags"] = ["<none>:<none>"]
            summary["RepoDigests"] = ["<none>@<none>"]
        if version >= (1, 44):
            summary.pop("VirtualSize", None)
    return web.json_response(result)


@routes.post("/images/create")
async def create(request: web.Request) -> web.StreamResponse:
    service = _images(request)
    from_image = request.query.get("fromImage")
    if from_image:
        await drain_body(request)
        messages = await engine_of(request).distribution.pull(
            from_image, request.query.get("tag") or None,
            request.query.get("platform") or None, _registry_auth(request))
        return await stream_json_lines(request, messages)
    source = request.query.get("fromSrc", "-") or "-"
    repo = request.query.get("repo") or None
    tag = request.query.get("tag") or None
    message = request.query.get("message", "")
    changes = request.query.getall("changes", [])
    platform = request.query.get("platform") or None
    if source == "-":
        image_id = await _with_body(
            request, lambda body: service.import_image(body, repo, tag, message, changes,
                                                       platform))
    else:
        await drain_body(request)
        image_id = await asyncio.to_thread(service.import_image, source, repo, tag, message,
                                           changes, platform)
    return await _json_stream(request, [{"status": image_id}])


@routes.post("/images/load")
async def load(request: web.Request) -> web.StreamResponse:
    service = _images(request)
    quiet = qbool(request, "quiet")
    try:
        messages = await _with_body(request, lambda body: service.load(body, quiet))
    except DockyardError as exc:  # dockerd answers 200 and puts the error in the stream
        return await _json_stream(request, [{"errorDetail": {"message": exc.message},
                                             "error": exc.message}])
    return await _json_stream(request, [{"stream": m + "\n"} for m in messages])


@routes.post("/images/prune")
async def prune(request: web.Request) -> web.Response:
    service = _images(request)
    return web.json_response(await asyncio.to_thread(service.prune, None, qfilters(request)))


@routes.get("/images/get")
async def save_many(request: web.Request) -> web.StreamResponse:
    return await _save(request, request.query.getall("names", []))


def _next_batch(chunks: Iterator[bytes]) -> bytes | None:
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size >= BATCH:
            break
    if not parts:
        return None
    return b"".join(parts)


async def _save(request: web.Request, names: list[str]) -> web.StreamResponse:
    if not names:
        raise InvalidParameter("no images specified")
    chunks = await asyncio.to_thread(_images(request).save, names)
    try:
        response = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        while True:
            data = await asyncio.to_thread(_next_batch, chunks)
            if data is None:
                break
            await response.write(data)
        await response.write_eof()
        return response
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            await asyncio.to_thread(close)


# --- /images/{name}/... ---------------------------------------------------------------------

@routes.get(r"/images/{name:.+}/get")
async def save_one(request: web.Request) -> web.StreamResponse:
    return await _save(request, [request.match_info["name"]])


@routes.get(r"/images/{name:.+}/json")
async def inspect(request: web.Request) -> web.Response:
    result = await asyncio.to_thread(_images(request).inspect, request.match_info["name"])
    version = _version(request)
    if version >= (1, 44):
        result.pop("VirtualSize", None)
    if version >= (1, 45):
        result.pop("Container", None)
        result.pop("ContainerConfig", None)
    return web.json_response(result)


@routes.get(r"/images/{name:.+}/history")
async def history(request: web.Request) -> web.Response:
    return web.json_response(await asyncio.to_thread(_images(request).history,
                                                     request.match_info["name"]))


@routes.post(r"/images/{name:.+}/tag")
async def tag(request: web.Request) -> web.Response:
    await asyncio.to_thread(_images(request).tag, request.match_info["name"],
                            request.query.get("repo", ""), request.query.get("tag") or None)
    return web.Response(status=201)


@routes.post(r"/images/{name:.+}/push")
async def push(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    tag_name = request.query.get("tag")
    _images(request)
    messages = await engine_of(request).distribution.push(name, tag_name or None,
                                                          _registry_auth(request))
    return await stream_json_lines(request, messages)


@routes.get(r"/distribution/{name:.+}/json")
async def distribution_inspect(request: web.Request) -> web.Response:
    result = await engine_of(request).distribution.inspect(request.match_info["name"],
                                                           _registry_auth(request))
    return web.json_response(result)


@routes.delete(r"/images/{name:.+}")
async def remove(request: web.Request) -> web.Response:
    result = await asyncio.to_thread(_images(request).remove, request.match_info["name"],
                                     qbool(request, "force"), qbool(request, "noprune"))
    return web.json_response(result)
