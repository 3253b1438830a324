"""HTTP to one repository of one registry (OCI distribution spec), for one pull or push.

Picks the first endpoint that answers `GET /v2/` (mirrors first for Docker Hub; HTTPS
before plain HTTP for insecure registries, and the scheme that worked is remembered),
answers 401 challenges through distribution.auth.Authorizer, and turns the registry's
error bodies into Docker's texts ("manifest unknown: manifest unknown").
"""
from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import aiohttp

from ..errors import DockyardError
from ..reference import Reference
from .endpoints import Endpoint, RegistrySettings
from .neterrors import describe_error

_CONNECT_ERRORS = (aiohttp.ClientConnectionError, ssl.SSLError, OSError, asyncio.TimeoutError)


class RegistryError(DockyardError):
    """A registry's error answer: HTTP status, first error code and Docker's text."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.http_status = status
        self.code = code


class Unreachable(DockyardError):
    pass


async def error_from(response: aiohttp.ClientResponse) -> RegistryError:
    """Read an error response into a RegistryError (and release it)."""
    try:
        body = await response.read()
    finally:
        response.release()
    if 'error="insufficient_scope"' in response.headers.get("WWW-Authenticate", ""):
        # the token lacks the scope: Docker reports the challenge's OAuth error first
        return RegistryError(response.status, "DENIED",
                             "denied: requested access to the resource is denied")
    code, text = "", ""
    try:
        errors = json.loads(body).get("errors") or []
        parts = []
        for item in errors:
            item_code = str(item.get("code", ""))
            code = code or item_code
            # errcode's Error(): the code in lower case, then the registry's message
            described = item_code.lower().replace("_", " ")
            parts.append(f"{described}: {item.get('message', '')}")
        text = "; ".join(parts)
    except (ValueError, AttributeError):
        pass
    if not text:
        reason = response.reason or ""
        if response.status == 401:
            code, text = "UNAUTHORIZED", "unauthorized: authentication required"
        elif response.status == 404:
            code, text = "NOT_FOUND", "not found"
        else:
            text = f"received unexpected HTTP status: {response.status} {reason}".strip()
    return RegistryError(response.status, code, text)


class Repository:
    """One repository on one registry endpoint, with the credentials of one operation."""

    def __init__(self, session: aiohttp.ClientSession, settings: RegistrySettings,
                 ref: Reference, auth: Any = None, push: bool = False) -> None:
        self.session = session
        self.settings = settings
        self.ref = ref
        self.path = ref.path
        self.auth = auth
        self.actions = "pull,push" if push else "pull"
        self.endpoint: Endpoint | None = None
        self.base = ""
        self._authorization: str | None = None
        self._authorizer: Any = None

    def scopes(self, extra: tuple[str, ...] = ()) -> list[str]:
        return [f"repository:{self.path}:{self.actions}", *extra]

    async def connect(self, endpoint: Endpoint) -> None:
        """Use `endpoint`: probe /v2/ (HTTPS, then plain HTTP where that is allowed)."""
        urls = [endpoint.url] + ([endpoint.fallback_http] if endpoint.fallback_http else [])
        last: BaseException | None = None
        tried = endpoint.url
        for url in urls:
            tried = url
            try:
                async with self.session.get(f"{url}/v2/") as response:
                    await response.read()
            except _CONNECT_ERRORS as exc:
                last = exc
                continue
            self.endpoint, self.base = endpoint, url
            host = url.split("://", 1)[1]
            self.settings.schemes[host] = url.split("://", 1)[0]
            return
        raise Unreachable(f'Get "{tried}/v2/": {describe_error(last)}')

    async def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                      data: Any = None, params: dict[str, str] | None = None,
                      scopes: tuple[str, ...] = (), url: str | None = None,
                      allow_redirects: bool = True) -> aiohttp.ClientResponse:
        """Send a request to /v2/<name>/<path> (or `url`); answers one 401 challenge. The
        caller reads and releases the response; error statuses are returned, not raised."""
        target = url or f"{self.base}/v2/{self.path}/{path}"
        hdrs = dict(headers or {})
        if self._authorization:
            hdrs["Authorization"] = self._authorization
        response = await self._send(method, target, hdrs, data, params, allow_redirects)
        challenge = response.headers.get("WWW-Authenticate")
        if response.status != 401 or not challenge or hasattr(data, "__aiter__"):
            return response     # (a streamed body can't be sent twice)
        response.release()
        if self._authorizer is None:
            from .auth import Authorizer
            self._authorizer = Authorizer(self.session, self.auth)
        value = await self._authorizer.authorize(challenge, self.scopes(scopes),
                                                 request=(method.title(), target))
        if value is None:
            return await self._send(method, target, hdrs, data, params, allow_redirects)
        self._authorization = value
        hdrs["Authorization"] = value
        return await self._send(method, target, hdrs, data, params, allow_redirects)

    async def _send(self, method: str, url: str, headers: dict[str, str], data: Any,
                    params: dict[str, str] | None, allow_redirects: bool
                    ) -> aiohttp.ClientResponse:
        try:
            return await self.session.request(method, url, headers=headers, data=data,
                                              params=params, allow_redirects=allow_redirects)
        except _CONNECT_ERRORS as exc:
            raise Unreachable(f'{method.title()} "{url}": {describe_error(exc)}') from None


def new_session() -> aiohttp.ClientSession:
    """A session for one operation: no total time limit (big layers), but stalls end it."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=300)
    return aiohttp.ClientSession(timeout=timeout, auto_decompress=False,
                                 connector=aiohttp.TCPConnector(limit=16))
