"""/containers/{id}/archive: HEAD (stat), GET (tar of a path), PUT (extract a tar)."""
from __future__ import annotations

import base64
import json
from typing import Any, AsyncIterator

from aiohttp import web

from ..engine.containers import archive
from ..errors import InvalidParameter
from .request import engine_of, qbool

routes = web.RouteTableDef()
_STAT_HEADER = "X-Docker-Container-Path-Stat"


def _path(request: web.Request) -> str:
    path = request.query.get("path", "")
    if not path:
        raise InvalidParameter("path is required")
    if "\x00" in path:     # no system call takes it; Go's fails with EINVAL
        raise InvalidParameter(f"invalid path {path!r}: invalid argument")
    return path


def _stat_header(stat: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(stat).encode()).decode()


@routes.head("/containers/{id}/archive")
async def stat_path(request: web.Request) -> web.Response:
    stat = await archive.stat_path(engine_of(request).containers, request.match_info["id"],
                                   _path(request))
    return web.Response(headers={_STAT_HEADER: _stat_header(stat),
                                 "Content-Type": "application/x-tar"})


@routes.get("/containers/{id}/archive", allow_head=False)
async def get_archive(request: web.Request) -> web.StreamResponse:
    stat, chunks = await archive.archive_path(engine_of(request).containers,
                                              request.match_info["id"], _path(request))
    response = web.StreamResponse(headers={_STAT_HEADER: _stat_header(stat),
                                           "Content-Type": "application/x-tar"})
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        async for chunk in chunks:
            await response.write(chunk)
    finally:
        await chunks.aclose()       # type: ignore[attr-defined]
    await response.write_eof()
    return response


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    while chunk := await request.content.read(1 << 20):
        yield chunk


@routes.put("/containers/{id}/archive")
async def put_archive(request: web.Request) -> web.Response:
    await archive.extract_to_dir(engine_of(request).containers, request.match_info["id"],
                                 _path(request), _body(request),
                                 copy_uid_gid=qbool(request, "copyUIDGID"),
                                 no_overwrite_dir_nondir=qbool(request,
                                                               "noOverwriteDirNonDir"))
    return web.Response(status=200)
