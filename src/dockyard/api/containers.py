"""Container endpoints (/containers/...), including the hijacked attach stream."""
from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from ..engine.containers import filesystem, processes, stats
from ..engine.containers import logs as logfiles
from ..engine.containers import stdin
from ..engine.networks.settings_view import network_settings
from ..errors import InvalidParameter
from ..timeutil import parse_timestamp
from . import hijack, schema
from .request import api_version, engine_of, qbool, qfilters, qint, read_json, stream_json_lines

routes = web.RouteTableDef()



def _containers(request: web.Request) -> Any:
    return engine_of(request).containers


@routes.get("/containers/json")
async def list_containers(request: web.Request) -> web.Response:
    result = _containers(request).list(all_=qbool(request, "all"), limit=qint(request, "limit"),
                                       filters=qfilters(request))
    return web.json_response(result)


@routes.post("/containers/create")
async def create(request: web.Request) -> web.Response:
    body = await read_json(request)
    schema.check(body, schema.CREATE)
    result = await _containers(request).create(body, request.query.get("name"))
    return web.json_response(result, status=201)


@routes.post("/containers/prune")
async def prune(request: web.Request) -> web.Response:
    return web.json_response(await _containers(request).prune(qfilters(request)))


@routes.get("/containers/{id}/json")
async def inspect(request: web.Request) -> web.Response:
    record = _containers(request).inspect(request.match_info["id"])
    shaped = {**record, "NetworkSettings": network_settings(record, api_version(request))}
    return web.json_response(shaped)


@routes.post("/containers/{id}/start")
async def start(request: web.Request) -> web.Response:
    started = await _containers(request).start(request.match_info["id"])
    return web.Response(status=204 if started else 304)


def _timeout(request: web.Request) -> int | None:
    value = request.query.get("t", request.query.get("timeout"))
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidParameter(f"invalid value for t: {value!r}") from None


@routes.post("/containers/{id}/stop")
async def stop(request: web.Request) -> web.Response:
    stopped = await _containers(request).stop(request.match_info["id"], _timeout(request),
                                              request.query.get("signal"))
    return web.Response(status=204 if stopped else 304)


@routes.post("/containers/{id}/restart")
async def restart(request: web.Request) -> web.Response:
    await _containers(request).restart(request.match_info["id"], _timeout(request))
    return web.Response(status=204)


@routes.post("/containers/{id}/kill")
async def kill(request: web.Request) -> web.Response:
    await _containers(request).kill(request.match_info["id"], request.query.get("signal"))
    return web.Response(status=204)


@routes.post("/containers/{id}/wait")
async def wait(request: web.Request) -> web.StreamResponse:
    # The lookup happens at once: a 404 must come before the 200 headers.
    waiting = asyncio.ensure_future(_containers(request).wait(
        request.match_info["id"], request.query.get("condition", "not-running")))
    await asyncio.sleep(0)  # let the waiter register before clients may start the container
    # Headers go out at once: the docker CLI waits for them before it calls start.
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    # aiohttp does not cancel a handler whose client left (the docker CLI's `run -d` leaves
    # such a wait behind): give up on it then, or it holds up the daemon's shutdown.
    while not waiting.done():
        await asyncio.wait({waiting}, timeout=0.5)
        if not waiting.done() and (request.transport is None or
                                   request.transport.is_closing()):
            waiting.cancel()
            return response
    try:
        result = waiting.result()
    except InvalidParameter as exc:
        result = {"StatusCode": -1, "Error": {"Message": exc.message}}
    await response.write(json.dumps(result).encode() + b"\n")
    await response.write_eof()
    return response


@routes.delete("/containers/{id:.+}")   # a link's name has a slash: <parent>/<alias>
async def remove(request: web.Request) -> web.Response:
    if qbool(request, "link"):
        await _containers(request).remove_link(request.match_info["id"])
    else:
        await _containers(request).remove(request.match_info["id"],
                                          force=qbool(request, "force"),
                                          volumes=qbool(request, "v"))
    return web.Response(status=204)


@routes.post("/containers/{id}/rename")
async def rename(request: web.Request) -> web.Response:
    name = request.query.get("name", "")
    if not name:
        raise InvalidParameter("name cannot be empty")
    await _containers(request).rename(request.match_info["id"], name)
    return web.Response(status=204)


@routes.post("/containers/{id}/pause")
async def pause(request: web.Request) -> web.Response:
    await processes.pause(_containers(request), request.match_info["id"])
    return web.Response(status=204)


@routes.post("/containers/{id}/unpause")
async def unpause(request: web.Request) -> web.Response:
    await processes.unpause(_containers(request), request.match_info["id"])
    return web.Response(status=204)


@routes.get("/containers/{id}/top")
async def top(request: web.Request) -> web.Response:
    return web.json_response(await processes.top(_containers(request),
                                                  request.match_info["id"],
                                                  request.query.get("ps_args", "")))


@routes.get("/containers/{id}/changes")
async def changes(request: web.Request) -> web.Response:
    result = await asyncio.to_thread(filesystem.diff, _containers(request),
                                     request.match_info["id"])
    return web.json_response(result or None)


@routes.get("/containers/{id}/export")
async def export(request: web.Request) -> web.StreamResponse:
    chunks = filesystem.export(_containers(request), request.match_info["id"])
    response = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
        if chunk:
            await response.write(chunk)
    await response.write_eof()
    return response


@routes.post("/containers/{id}/update")
async def update(request: web.Request) -> web.Response:
    from ..engine.containers.update import update as apply_update
    body = await read_json(request)
    schema.check(body, schema.UPDATE)
    return web.json_response(await apply_update(_containers(request),
                                                request.match_info["id"], body))


@routes.get("/containers/{id}/stats")
async def container_stats(request: web.Request) -> web.StreamResponse:
    service = _containers(request)
    service.get(request.match_info["id"])
    follow = qbool(request, "stream", True)
    samples = stats.stream(service, request.match_info["id"], follow,
                           qbool(request, "one-shot"))
    if not follow:
        async for sample in samples:
            return web.json_response(sample)
    return await stream_json_lines(request, samples)


@routes.get("/containers/{id}/logs")
async def container_logs(request: web.Request) -> web.StreamResponse:
    container = _containers(request).get(request.match_info["id"])
    stdout, stderr = qbool(request, "stdout"), qbool(request, "stderr")
    if not (stdout or stderr):
        raise InvalidParameter("You must choose at least one stream")
    tail_raw = request.query.get("tail", "all")
    tail = None if tail_raw in ("all", "") else int(tail_raw) if tail_raw.lstrip("-").isdigit() \
        else None
    since = parse_timestamp(request.query["since"]) if request.query.get("since") else 0.0
    until = parse_timestamp(request.query["until"]) if request.query.get("until") else 0.0
    frames = logfiles.frames(container, logfiles.LogQuery(
        stdout, stderr, since, until, tail, qbool(request, "timestamps"),
        qbool(request, "follow")))
    tty = bool(container.config.get("Tty"))
    response = web.StreamResponse(headers={"Content-Type": hijack.RAW if tty else hijack.MUX})
    response.enable_chunked_encoding()
    await response.prepare(request)
    async for kind, data in frames:
        await response.write(hijack.frame(kind, data, tty))
    await response.write_eof()
    return response


def _stdin_relay(request: web.Request, container: Any,
                 queue: asyncio.Queue[tuple[int, bytes] | None] | None
                 ) -> hijack.StdinRelay | None:
    keys = request.query.get("detachKeys")
    return stdin.for_attach(container, queue is not None and qbool(request, "stdin"), keys,
                            lambda: queue.put_nowait(None) if queue else None)


@routes.post("/containers/{id}/attach")
async def attach(request: web.Request) -> web.StreamResponse:
    service = _containers(request)
    container = service.get(request.match_info["id"])
    want = {1: qbool(request, "stdout"), 2: qbool(request, "stderr")}
    tty = bool(container.config.get("Tty"))
    queue = service.subscribe(container) if qbool(request, "stream") else None
    try:
        relay = _stdin_relay(request, container, queue)
    except InvalidParameter:
        if queue is not None:
            container.subscribers.discard(queue)
        raise
    transport = hijack.take_over(request, tty, relay,
                                 (lambda: queue.put_nowait(None)) if queue else None)
    try:
        await hijack.until_read(transport)
        if qbool(request, "logs"):
            replayed = await asyncio.to_thread(logfiles.replay, container, want[1], want[2])
            for kind, data in replayed:
                transport.write(hijack.frame(kind, data, tty))
        if relay is not None:
            relay.start()
        if queue is not None:
            await hijack.pump(transport, queue, want, tty)
    finally:
        if queue is not None:
            container.subscribers.discard(queue)
    await hijack.finish(transport)
    raise AssertionError("unreachable")


@routes.get("/containers/{id}/attach/ws")
async def attach_ws(request: web.Request) -> web.StreamResponse:
    """The websocket attach: binary messages carry the raw streams both ways."""
    service = _containers(request)
    container = service.get(request.match_info["id"])
    want = {1: qbool(request, "stdout"), 2: qbool(request, "stderr")}
    queue = service.subscribe(container) if qbool(request, "stream") else None
    try:
        relay = _stdin_relay(request, container, queue)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
    except BaseException:
        if queue is not None:
            container.subscribers.discard(queue)
        raise

    async def read_input() -> None:
        async for message in ws:
            if relay is not None and message.type == web.WSMsgType.BINARY:
                relay.feed(message.data)
            elif relay is not None and message.type == web.WSMsgType.TEXT:
                relay.feed(message.data.encode())
        if relay is not None:
            relay.eof()
        elif queue is not None:  # the client went away: nothing more to relay
            queue.put_nowait(None)

    reading = asyncio.ensure_future(read_input())
    try:
        if qbool(request, "logs"):
            replayed = await asyncio.to_thread(logfiles.replay, container, want[1], want[2])
            for _kind, data in replayed:
                await ws.send_bytes(data)
        if relay is not None:
            relay.start()
        while queue is not None:
            item = await queue.get()
            if item is None or ws.closed:
                break
            if want.get(item[0]):
                await ws.send_bytes(item[1])
    finally:
        if queue is not None:
            container.subscribers.discard(queue)
        reading.cancel()
    await ws.close()
    return ws


@routes.post("/containers/{id}/resize")
async def resize(request: web.Request) -> web.Response:
    rows, cols = tty_size(request)
    _containers(request).resize(request.match_info["id"], rows, cols)
    return web.Response(status=200)


def tty_size(request: web.Request) -> tuple[int, int]:
    """h and w as Docker parses them (strconv.Atoi's errors)."""
    values = []
    for key in ("h", "w"):
        raw = request.query.get(key, "")
        try:
            values.append(int(raw))
        except ValueError:
            raise InvalidParameter(f'strconv.Atoi: parsing "{raw}": invalid syntax') from None
    return values[0], values[1]
