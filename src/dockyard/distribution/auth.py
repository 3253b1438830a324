"""Registry authentication as Docker's engine does it: a registry answers 401 with a
`WWW-Authenticate` challenge, and the request is retried with HTTP basic credentials or with a
bearer token from the registry's token server (Docker Hub's flow), cached until it expires.

Credentials come from the client for one request (X-Registry-Auth, the POST /auth body); the
daemon keeps them only in the Authorizer of that pull, push or login."""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import time
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Iterable, Sequence
from urllib.parse import urlencode, urlsplit

import aiohttp
from yarl import URL

from ..errors import DockyardError, Forbidden, InvalidParameter, SystemError_, Unauthorized
from .neterrors import describe_error

CLIENT_ID = "docker"        # the OAuth client id Docker sends; token servers may log it
MIN_TOKEN_LIFETIME = 60     # seconds: Docker treats shorter or missing lifetimes as this


@dataclass(frozen=True)
class AuthConfig:
    """Credentials as Docker clients send them (X-Registry-Auth, POST /auth body)."""
    username: str = ""
    password: str = ""
    identitytoken: str = ""   # OAuth refresh token from a previous login
    registrytoken: str = ""   # a bearer token to use as is
    serveraddress: str = ""

    @classmethod
    def from_json(cls, data: Any, what: str) -> "AuthConfig":
        """Build from decoded JSON. Keys match case-insensitively (Go's JSON decoding does,
        and docker-py sends `IdentityToken`); a legacy `auth` (base64 "user:pass") fills in
        username and password. `what` names the source in error texts."""
        if not isinstance(data, dict):
            raise InvalidParameter(f"{what}: expected a JSON object")
        names = {f.name for f in fields(cls)}
        values: dict[str, str] = {}
        for key, value in data.items():
            name = key.lower()
            if name not in names and name != "auth":
                continue
            if value is None:
                continue
            if not isinstance(value, str):
                raise InvalidParameter(f"{what}: json: cannot unmarshal "
                                       f"{type(value).__name__} into Go struct field "
                                       f"AuthConfig.{name} of type string")
            values[name] = value
        legacy = values.pop("auth", "")
        if legacy and not values.get("username") and not values.get("password"):
            try:
                user, _, password = base64.b64decode(legacy, validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):   # binascii.Error, non-ASCII text
                raise InvalidParameter(f"{what}: invalid auth field") from None
            values["username"], values["password"] = user, password
        return cls(**values)


def decode_registry_auth(header: str | None) -> AuthConfig | None:
    """X-Registry-Auth value (base64url JSON, padding optional, as docker clients send it)
    -> AuthConfig; None when absent, empty or "{}". Bad base64/JSON -> InvalidParameter."""
    if header is None or not header.strip():
        return None
    what = "invalid X-Registry-Auth header"
    raw = header.strip()
    try:
        decoded = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_", validate=True)
        data = json.loads(decoded)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameter(f"{what}: {exc}") from None
    if data == {}:
        return None
    return AuthConfig.from_json(data, what)


# --- WWW-Authenticate -------------------------------------------------------------------------

@dataclass(frozen=True)
class Challenge:
    """One challenge of a WWW-Authenticate header; scheme and parameter names lower-cased."""
    scheme: str
    params: dict[str, str] = field(default_factory=dict)


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_SCHEME = re.compile(rf"[\s,]*({_TOKEN})(?=[\s,]|$)")
_PARAM = re.compile(rf"\s*({_TOKEN})\s*=\s*(?:\"((?:[^\"\\]|\\.)*)\"|({_TOKEN}))\s*")
_ESCAPE = re.compile(r"\\(.)")


def parse_challenges(header: str) -> list[Challenge]:
    """Parse `Bearer realm="https://a/token",service="reg",scope="repository:x:pull,push"`,
    `Basic realm="r"` or several challenges in one value (RFC 7235). Quoted values may hold
    commas and backslash escapes. Parsing stops at the first malformed part."""
    challenges: list[Challenge] = []
    pos = 0
    while pos < len(header):
        match = _SCHEME.match(header, pos)
        if not match:
            break
        scheme, pos = match.group(1).lower(), match.end()
        params: dict[str, str] = {}
        while param := _PARAM.match(header, pos):
            name, quoted, token = param.groups()
            params[name.lower()] = _ESCAPE.sub(r"\1", quoted) if quoted is not None else token
            pos = param.end()
            if pos < len(header) and header[pos] == ",":
                pos += 1
            else:
                break
        challenges.append(Challenge(scheme, params))
    return challenges


def merge_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Join scopes on the same resource ("repository:a:pull" + "repository:a:push" ->
    "repository:a:pull,push"), sorted, so equal needs share one cached token. Space-separated
    lists (a challenge's `scope`) are split first."""
    actions: dict[str, list[str]] = {}
    for scope in scopes:
        for item in scope.split():
            resource, sep, names = item.rpartition(":")
            if not sep or ":" not in resource:
                actions.setdefault(item, [])
                continue
            merged = actions.setdefault(resource, [])
            merged.extend(a for a in names.split(",") if a and a not in merged)
    return tuple(sorted(f"{r}:{','.join(sorted(a))}" if a else r for r, a in actions.items()))


# --- Docker's error texts ---------------------------------------------------------------------

_ERRCODE_MESSAGES = {"unauthorized": "authentication required",
                     "denied": "requested access to the resource is denied"}


def url_error(method: str, url: str, message: str) -> str:
    """Go's *url.Error text, which Docker shows for failed registry requests:
    `Head "https://host/v2/x/manifests/latest": unauthorized: ...`."""
    return f'{method[:1].upper()}{method[1:].lower()} "{url}": {message}'


def error_text(status: int, reason: str, body: bytes, challenge: str | None = None) -> str:
    """The text Docker's registry client gives a registry's or token server's error answer:
    an OAuth `error` in a Bearer challenge, Docker Hub's `{"details": ...}`, or the
    distribution spec's `{"errors": [{"code", "message"}]}`."""
    for ch in parse_challenges(challenge or ""):
        code = {"invalid_token": "unauthorized",
                "insufficient_scope": "denied"}.get(ch.params.get("error", ""))
        if ch.scheme == "bearer" and code:
            return f"{code}: {ch.params.get('error_description') or _ERRCODE_MESSAGES[code]}"
    if not 400 <= status < 500:
        return f"received unexpected HTTP status: {status} {reason}"
    text = body.decode(errors="replace")
    try:
        data = json.loads(text)
    except ValueError as exc:
        data, parse_error = None, str(exc)
    else:
        parse_error = "no error details found in HTTP response body"
    if isinstance(data, dict) and isinstance(data.get("details"), str) and data["details"]:
        code = {401: "unauthorized", 429: "toomanyrequests"}.get(status, "unknown")
        return f"{code}: {data['details']}"
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list) and errors:
        texts = []
        for err in errors:
            err = err if isinstance(err, dict) else {}
            code = str(err.get("code") or "unknown").lower().replace("_", " ")
            texts.append(f"{code}: {err.get('message') or _ERRCODE_MESSAGES.get(code, '')}")
        return texts[0] if len(texts) == 1 else "errors:\n" + "\n".join(texts) + "\n"
    if status == 401:
        return f"unauthorized: {_ERRCODE_MESSAGES['unauthorized']}"
    return f"error parsing HTTP {status} response body: {parse_error}: {json.dumps(text)}"


def error_for_status(status: int, message: str) -> DockyardError:
    """The engine error (and so the API status) for a refused registry or token request."""
    if status == 401:
        return Unauthorized(message)
    if status == 403:
        return Forbidden(message)
    return SystemError_(message)


# --- the Authorizer ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Token:
    value: str
    expires: float      # wall-clock seconds


class Authorizer:
    """Answers registries' 401 challenges during one pull/push/login; caches tokens per
    (realm, service, scope set)."""

    def __init__(self, session: aiohttp.ClientSession, auth: AuthConfig | None, *,
                 login: bool = False) -> None:
        """`login` is for POST /auth: it asks the token server for a refresh token too (one
        it hands out ends up in `identity_token`) and reports refused credentials as 401.
        During pulls and pushes dockerd reports them as unknown errors (500), and so do we:
        on a 401 the docker CLI would stop the pull to prompt for a login."""
        self._session = session
        self._auth = auth or AuthConfig()
        self._login = login
        self._tokens: dict[tuple[str, str, tuple[str, ...]], _Token] = {}
        self._locks: dict[tuple[str, str, tuple[str, ...]], asyncio.Lock] = {}
        self.identity_token = self._auth.identitytoken

    async def authorize(self, challenge: str, scopes: Sequence[str], *,
                        request: tuple[str, str] | None = None) -> str | None:
        """`challenge` is a 401's WWW-Authenticate value (Bearer realm=...,service=...,scope=...
        or Basic realm=...); `scopes` like "repository:library/busybox:pull" or
        "repository:me/app:pull,push". Returns the Authorization header value to retry with
        ("Bearer <token>" / "Basic <b64>"), or None when the challenge is Basic and there are no
        credentials. Anonymous bearer tokens are fetched without credentials. A token server
        refusing the credentials raises errors.Unauthorized for a login, SystemError_ (500)
        otherwise, with Docker's text ("unauthorized: incorrect username or password" for
        Docker Hub's answer); `request` = (method, url) of the registry request that was
        challenged prefixes it as Docker does: `Head "<url>": unauthorized: ...`."""
        parsed = parse_challenges(challenge)
        by_scheme = {c.scheme: c for c in parsed}
        bearer, basic = by_scheme.get("bearer"), by_scheme.get("basic")
        if bearer is not None:
            if self._auth.registrytoken:
                return f"Bearer {self._auth.registrytoken}"
            wanted = merge_scopes([*scopes, bearer.params.get("scope", "")])
            token = await self._token(bearer.params, wanted, request)
            return f"Bearer {token}"
        if basic is not None:
            if not (self._auth.username or self._auth.password):
                return None
            pair = f"{self._auth.username}:{self._auth.password}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        raise SystemError_(_prefixed(request, f"unsupported authentication challenge: "
                                              f"{challenge!r}"))

    async def _token(self, params: dict[str, str], scopes: tuple[str, ...],
                     request: tuple[str, str] | None) -> str:
        realm = params.get("realm", "")
        if urlsplit(realm).scheme not in ("http", "https"):
            raise SystemError_(_prefixed(request, f"invalid token auth challenge realm: "
                                                  f"{realm!r}"))
        key = (realm, params.get("service", ""), scopes)
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._tokens.get(key)
            if cached is not None and time.time() < cached.expires:
                return cached.value
            token = await self._fetch(realm, key[1], scopes, request)
            self._tokens[key] = token
            return token.value

    async def _fetch(self, realm: str, service: str, scopes: tuple[str, ...],
                     request: tuple[str, str] | None) -> _Token:
        """Docker's two ways: an OAuth2 refresh-token POST when there is an identity token
        (falling back to GET if the server has no POST endpoint), else a GET with basic
        credentials when there are any, anonymous otherwise."""
        if self.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": self.identity_token,
                    "client_id": CLIENT_ID, "scope": " ".join(scopes)}
            if service:
                form["service"] = service
            if self._login:
                form["access_type"] = "offline"
            answer = await self._call("POST", realm, request, data=form)
            if answer is not None:
                return answer
        query: list[tuple[str, str]] = [("service", service)] if service else []
        query += [("scope", s) for s in scopes]
        headers = {}
        if self._auth.username and self._auth.password:
            query.append(("account", self._auth.username))
            pair = f"{self._auth.username}:{self._auth.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        if self._login:
            query += [("offline_token", "true"), ("client_id", CLIENT_ID)]
        url = realm + ("&" if "?" in realm else "?") + urlencode(query) if query else realm
        answer = await self._call("GET", url, request, headers=headers)
        assert answer is not None
        return answer

    async def _call(self, method: str, url: str, request: tuple[str, str] | None,
                    **kwargs: Any) -> _Token | None:
        """One token request; None only for a POST the server does not know (404)."""
        try:
            async with self._session.request(method, URL(url, encoded=True),
                                             **kwargs) as resp:
                body = await resp.read()
                if resp.status == 404 and method == "POST":
                    return None
                if resp.status != 200:
                    text = error_text(resp.status, resp.reason or "", body,
                                      resp.headers.get("WWW-Authenticate"))
                    status = resp.status if self._login else 500
                    raise error_for_status(status, _prefixed(request, text))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise SystemError_(_prefixed(request, url_error(method, url.split("?")[0],
                                                            describe_error(exc)))) from None
        return self._parse(body, request)

    def _parse(self, body: bytes, request: tuple[str, str] | None) -> _Token:
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise SystemError_(_prefixed(request, f"unable to decode token response: "
                                                  f"{exc}")) from None
        # `access_token` (OAuth2) and `token` (Docker's) mean the same; OAuth2's wins.
        token = data.get("access_token") or data.get("token")
        if not token or not isinstance(token, str):
            raise SystemError_(_prefixed(request, "authorization server did not include a "
                                                  "token in the response"))
        if isinstance(data.get("refresh_token"), str) and data["refresh_token"]:
            self.identity_token = data["refresh_token"]
        lifetime = data.get("expires_in")
        if not isinstance(lifetime, (int, float)) or lifetime < MIN_TOKEN_LIFETIME:
            lifetime = MIN_TOKEN_LIFETIME
        issued = time.time()
        if isinstance(data.get("issued_at"), str):
            try:
                issued = datetime.fromisoformat(data["issued_at"]).timestamp()
            except ValueError:
                pass
        return _Token(token, issued + lifetime)


def _prefixed(request: tuple[str, str] | None, message: str) -> str:
    return url_error(request[0], request[1], message) if request else message
