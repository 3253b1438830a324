"""The aiohttp application: version prefixes, Docker's headers, error bodies, route tables."""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Awaitable, Callable

from aiohttp import web

from .. import API_VERSION, MIN_API_VERSION, __version__
from ..errors import DockyardError
from .request import ENGINE_KEY

log = logging.getLogger(__name__)

_VERSION_PREFIX = re.compile(r"^/v(\d+\.\d+)(/.*)$")


def _vtuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def error_response(status: int, message: str) -> web.Response:
    # Exactly "application/json" (no charset): the docker CLI decodes error bodies only then.
    return web.Response(body=json.dumps({"message": message}).encode() + b"\n",
                        status=status, content_type="application/json")


@web.middleware
async def docker_middleware(request: web.Request,
                            handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                            ) -> web.StreamResponse:
    try:
        response = await handler(request)
    except Exception as exc:
        if request.get("prepared"):  # a stream already started: only closing is left
            raise
        response = _error_for(request, exc)
    if not response.prepared:        # record saves queued by the request are on disk first
        await request.app[ENGINE_KEY].db.settled()
    return response


def _error_for(request: web.Request, exc: Exception) -> web.Response:
    """Docker's error body and status for an exception; never a traceback."""
    if isinstance(exc, DockyardError):
        return error_response(exc.status, exc.message)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        return error_response(exc.status, exc.text or exc.reason)
    log.exception("handler failed: %s %s", request.method, request.path)
    return error_response(500, str(exc) or exc.__class__.__name__)


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    request["prepared"] = True
    response.headers["Api-Version"] = API_VERSION
    response.headers["Server"] = f"Docker/{__version__} (linux)"
    response.headers["Ostype"] = "linux"
    response.headers.setdefault("Docker-Experimental", "false")


def _rewrite_version(request: web.Request) -> web.Request | web.Response:
    """Strip /v1.NN from the path and record the client's API version on the request."""
    match = _VERSION_PREFIX.match(request.rel_url.raw_path)
    version = API_VERSION
    if match:
        version, rest = match.group(1), match.group(2)
        if _vtuple(version) < _vtuple(MIN_API_VERSION):
            return error_response(400, f"client version {version} is too old. Minimum supported "
                                  f"API version is {MIN_API_VERSION}, please upgrade your client "
                                  "to a newer version")
        if _vtuple(version) > _vtuple(API_VERSION):
            return error_response(400, f"client version {version} is too new. Maximum supported "
                                  f"API version is {API_VERSION}")
        query = request.rel_url.raw_query_string
        request = request.clone(rel_url=rest + (f"?{query}" if query else ""))
    request["api_version"] = version
    return request


class _VersionedApplication(web.Application):
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rewritten = _rewrite_version(request)
        if isinstance(rewritten, web.Response):
            return rewritten
        return await super()._handle(rewritten)


async def _not_found(request: web.Request) -> web.Response:
    return error_response(404, "page not found")


def make_app(engine: Any) -> web.Application:
    from . import (archive, auth, build, commit, containers, execs, images, networks,
                   swarm, system, volumes)

    app = _VersionedApplication(middlewares=[docker_middleware], client_max_size=0)
    app[ENGINE_KEY] = engine
    app.on_response_prepare.append(_on_prepare)
    for module in (system, containers, execs, images, auth, archive, commit, volumes,
                   build, networks, swarm):
        app.router.add_routes(module.routes)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app
