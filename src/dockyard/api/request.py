"""What every resource module's handlers share: the engine of the request, Docker's parsing
of query parameters and JSON bodies, and JSON-lines streams."""
from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from .. import gojson
from ..errors import InvalidParameter

ENGINE_KEY: web.AppKey[Any] = web.AppKey("engine")


def engine_of(request: web.Request) -> Any:
    return request.app[ENGINE_KEY]


def api_version(request: web.Request) -> tuple[int, ...]:
    """The client's API version (from the /v1.NN prefix, else ours) as a tuple."""
    from .. import API_VERSION
    try:
        return tuple(int(x) for x in (request.get("api_version") or API_VERSION).split("."))
    except ValueError:
        return tuple(int(x) for x in API_VERSION.split("."))


def qbool(request: web.Request, name: str, default: bool = False) -> bool:
    """Docker's boolean query parsing: absent → default; '', '0', 'false' → False."""
    value = request.query.get(name)
    if value is None:
        return default
    return value.strip().lower() not in ("", "0", "false", "no")


def qint(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidParameter(f"invalid value for {name}: {value!r}") from None


def qfilters(request: web.Request) -> dict[str, list[str]]:
    """Parse the `filters` query parameter (a JSON map of lists, or the legacy map of maps)."""
    raw = request.query.get("filters")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise InvalidParameter(f"invalid filter '{raw}'") from None
    if not isinstance(data, dict):
        raise InvalidParameter(f"invalid filter '{raw}'")
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out[key] = [k for k, v in value.items() if v]
        elif isinstance(value, list):
            out[key] = [str(v) for v in value]
        else:
            out[key] = [str(value)]
    return out


async def read_json(request: web.Request) -> Any:
    """The body as JSON, as Go reads it (gojson): Docker's "invalid JSON: ..." texts, and NaN,
    Infinity or numbers out of range refused as Go refuses them."""
    body = await request.read()
    if not body.strip():
        return None
    try:
        return gojson.loads(body)
    except gojson.GoJSONError as exc:
        raise InvalidParameter(f"invalid JSON: {exc}") from None


async def stream_json_lines(request: web.Request, items: Any) -> web.StreamResponse:
    """Send an (async) iterable of JSON-able objects as a chunked stream, one per chunk."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    if hasattr(items, "__aiter__"):
        async for item in items:
            await response.write(json.dumps(item).encode() + b"\r\n")
    else:
        for item in items:
            await response.write(json.dumps(item).encode() + b"\r\n")
    await response.write_eof()
    return response


BATCH = 1 << 20   # what a request body is read by


class BodyReader:
    """The request body as a blocking file object for a worker thread."""

    def __init__(self, request: web.Request, loop: asyncio.AbstractEventLoop) -> None:
        self.content = request.content
        self.loop = loop
        self.buffer = b""
        self.eof = False

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = [self.buffer]
            self.buffer = b""
            while not self.eof:
                parts.append(self._fetch())
            return b"".join(parts)
        while not self.buffer and not self.eof:
            self.buffer = self._fetch()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _fetch(self) -> bytes:
        chunk = asyncio.run_coroutine_threadsafe(self.content.read(BATCH), self.loop).result()
        if not chunk:
            self.eof = True
        return chunk

    def close(self) -> None:
        pass


async def drain_body(request: web.Request) -> None:
    """Read what is left of a body we failed on, so the client sees our answer."""
    try:
        while await request.content.read(BATCH):
            pass
    except Exception:  # noqa: BLE001 - the client went away: nothing left to tell it
        pass
