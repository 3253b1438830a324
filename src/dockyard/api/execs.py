"""Exec endpoints: create in a container, start (detached or hijacked, with stdin and a
TTY), resize, inspect."""
from __future__ import annotations

import asyncio

from aiohttp import web

from ..engine.containers import stdin
from ..errors import DockyardError
from . import hijack, schema
from .containers import tty_size
from .request import engine_of, read_json

routes = web.RouteTableDef()


@routes.post("/containers/{id}/exec")
async def create(request: web.Request) -> web.Response:
    body = await read_json(request)
    schema.check(body, schema.EXEC)
    exec_id = engine_of(request).containers.execs.create(request.match_info["id"], body)
    return web.json_response({"Id": exec_id}, status=201)


@routes.post("/exec/{id}/start")
async def start(request: web.Request) -> web.StreamResponse:
    execs = engine_of(request).containers.execs
    body = await read_json(request)
    schema.check(body, schema.EXEC_START)   # as dockerd: decoded before the exec is looked up
    body = body or {}
    instance = execs.get(request.match_info["id"])
    console_size = body.get("ConsoleSize") or None
    if body.get("Detach"):
        await execs.start(instance.id, console_size)
        return web.Response(status=200)
    raw = bool(body.get("Tty"))  # as in Docker, the start request picks the stream format
    want = {1: bool(instance.config.get("AttachStdout", True)),
            2: bool(instance.config.get("AttachStderr", True))}
    queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
    relay = stdin.for_exec(instance, lambda: queue.put_nowait(None))
    if relay is not None:
        relay.start()
    instance.subscribers.add(queue)
    # As in Docker: upgrade first, then start the process. A client's HTTP parser may read
    # past the headers, so stream bytes must not be on the wire before it has them.
    transport = hijack.take_over(request, raw, relay, lambda: queue.put_nowait(None))
    try:
        await hijack.until_read(transport)
        await execs.start(instance.id, console_size)
        await hijack.pump(transport, queue, want, raw)
    except DockyardError as exc:
        # Docker writes the error on the stdout stream; the exit code is in exec inspect.
        transport.write(hijack.frame(1, exc.message.encode() + b"\r\n", raw))
    finally:
        instance.subscribers.discard(queue)
    await hijack.finish(transport)
    raise AssertionError("unreachable")


@routes.post("/exec/{id}/resize")
async def resize(request: web.Request) -> web.Response:
    rows, cols = tty_size(request)
    engine_of(request).containers.execs.resize(request.match_info["id"], rows, cols)
    return web.Response(status=200)


@routes.get("/exec/{id}/json")
async def inspect(request: web.Request) -> web.Response:
    return web.json_response(engine_of(request).containers.execs.get(
        request.match_info["id"]).inspect())
