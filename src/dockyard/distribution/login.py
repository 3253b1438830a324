"""Checking credentials against a registry for `POST /auth` (`docker login`), as dockerd
does: `GET /v2/` on each endpoint of the registry, answering its challenge with the
credentials; HTTPS first, then plain HTTP for insecure registries."""
from __future__ import annotations

import asyncio
from typing import Sequence

import aiohttp

from ..errors import SystemError_, Unauthorized
from .auth import AuthConfig, Authorizer, url_error
from .neterrors import describe_error
from .registry_host import HUB_SERVER, endpoint_urls, is_insecure, registry_hostname

_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=15)


async def login(auth: AuthConfig, insecure_registries: Sequence[str] = ()) -> str:
    """Return the identity token the registry's token server handed out ("" if none).
    Refused credentials raise Unauthorized with Docker's text; an unreachable registry
    raises the last endpoint's connection error."""
    host = registry_hostname(auth.serveraddress or HUB_SERVER)
    insecure = is_insecure(host, insecure_registries)
    error: Exception = SystemError_(f"no endpoint for registry {host}")
    async with aiohttp.ClientSession(timeout=_TIMEOUT) as session:
        for base in endpoint_urls(host, insecure_registries):
            url = f"{base}/v2/"
            try:
                return await _login_endpoint(session, url, auth, verify=not insecure)
            except Unauthorized:
                raise               # refused credentials: no other endpoint is tried
            except SystemError_ as exc:
                error = exc         # not a registry there, say: the next endpoint may be
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                error = SystemError_(url_error("GET", url, describe_error(exc)))
    raise error


async def _login_endpoint(session: aiohttp.ClientSession, url: str, auth: AuthConfig,
                          verify: bool) -> str:
    authorizer = Authorizer(session, auth, login=True)
    headers: dict[str, str] = {}
    for attempt in range(2):
        async with session.get(url, headers=headers, ssl=None if verify else False) as resp:
            await resp.read()
            if resp.status == 200:
                return authorizer.identity_token
            challenge = resp.headers.get("WWW-Authenticate")
            text = f"login attempt to {url} failed with status: {resp.status} {resp.reason}"
            failed = Unauthorized(text) if resp.status == 401 else SystemError_(text)
        if resp.status != 401 or not challenge or attempt:
            raise failed
        answer = await authorizer.authorize(challenge, [], request=("GET", url))
        if answer is None:
            raise failed
        headers["Authorization"] = answer
    raise AssertionError("unreachable")
