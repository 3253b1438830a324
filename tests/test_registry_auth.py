"""distribution/auth.py against real registries: Debian's docker-registry behind our test
token server (Docker Hub's bearer flow) and behind htpasswd (basic)."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any, Awaitable, Callable

import aiohttp
import pytest

from dockyard.distribution.auth import (AuthConfig, Authorizer, decode_registry_auth,
                                        error_text, merge_scopes, parse_challenges)
from dockyard.errors import InvalidParameter, SystemError_, Unauthorized
from registry import Registry
from tokenserver import TokenServer

ALICE = AuthConfig(username="alice", password="s3cret")
BLOB = b"dockyard auth test blob\n"
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


def run(coro_fn: Callable[[aiohttp.ClientSession], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with aiohttp.ClientSession() as session:
            return await coro_fn(session)
    return asyncio.run(main())


async def call(session: aiohttp.ClientSession, authorizer: Authorizer, method: str, url: str,
               scopes: list[str], data: bytes | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    """A registry request retried once with the Authorizer's answer, as the registry client
    does. Returns the final status, the response headers and the request headers used."""
    headers = dict(headers or {})
    for _ in range(2):
        async with session.request(method, url, headers=headers, data=data) as resp:
            await resp.read()
            if resp.status != 401 or "Authorization" in headers:
                return resp.status, resp.headers, headers
            challenge = resp.headers.get("WWW-Authenticate", "")
        answer = await authorizer.authorize(challenge, scopes, request=(method, url))
        if answer is None:
            return 401, resp.headers, headers
        headers["Authorization"] = answer
    raise AssertionError("unreachable")


async def push_blob(session: aiohttp.ClientSession, authorizer: Authorizer, base: str,
                    repo: str) -> int:
    """Upload BLOB (POST a session, PUT its bytes); the final status (201 when stored)."""
    scopes = [f"repository:{repo}:pull,push"]
    status, resp_headers, used = await call(session, authorizer, "POST",
                                            f"{base}/v2/{repo}/blobs/uploads/", scopes)
    if status != 202:
        return status
    location = resp_headers["Location"]
    location = location if location.startswith("http") else base + location
    sep = "&" if "?" in location else "?"
    status, _, _ = await call(session, authorizer, "PUT", f"{location}{sep}digest={DIGEST}",
                              scopes, data=BLOB, headers=used)
    return status


async def head_blob(session: aiohttp.ClientSession, authorizer: Authorizer, base: str,
                    repo: str) -> tuple[int, str]:
    """HEAD BLOB in repo: the status and the last challenge."""
    status, headers, _ = await call(session, authorizer, "HEAD",
                                    f"{base}/v2/{repo}/blobs/{DIGEST}", [f"repository:{repo}:pull"])
    return status, headers.get("WWW-Authenticate", "")


# --- parsing ----------------------------------------------------------------------------------

def test_parse_bearer_challenge_with_quoted_commas() -> None:
    [ch] = parse_challenges('Bearer realm="https://auth.example/token",service="reg.example",'
                            'scope="repository:a/b:pull,push",error="insufficient_scope"')
    assert ch.scheme == "bearer"
    assert ch.params == {"realm": "https://auth.example/token", "service": "reg.example",
                         "scope": "repository:a/b:pull,push", "error": "insufficient_scope"}


def test_parse_several_challenges_and_escapes() -> None:
    chs = parse_challenges('Basic realm="basic \\"realm\\"", BEARER realm=tok , Negotiate')
    assert [c.scheme for c in chs] == ["basic", "bearer", "negotiate"]
    assert chs[0].params == {"realm": 'basic "realm"'}
    assert chs[1].params == {"realm": "tok"}


def test_merge_scopes_is_order_insensitive() -> None:
    assert merge_scopes(["repository:a:push", "repository:a:pull", "repository:b:pull"]) == \
        ("repository:a:pull,push", "repository:b:pull")
    assert merge_scopes(["repository:a:pull,push"]) == merge_scopes(
        ["repository:a:push repository:a:pull"])


def test_decode_registry_auth_as_clients_send_it() -> None:
    body = {"username": "alice", "password": "s3cret?>", "serveraddress": "127.0.0.1:5000"}
    raw = json.dumps(body).encode()
    padded = base64.urlsafe_b64encode(raw).decode()              # docker CLI, docker-py
    assert decode_registry_auth(padded) == AuthConfig(**body)
    assert decode_registry_auth(padded.rstrip("=")) == AuthConfig(**body)
    legacy = base64.urlsafe_b64encode(json.dumps(
        {"IdentityToken": "tok", "auth": base64.b64encode(b"bob:pw").decode()}).encode())
    assert decode_registry_auth(legacy.decode()) == AuthConfig(username="bob", password="pw",
                                                               identitytoken="tok")
    assert decode_registry_auth(None) is None
    assert decode_registry_auth("") is None
    assert decode_registry_auth(base64.urlsafe_b64encode(b"{}").decode()) is None
    for bad in ("!!!", base64.urlsafe_b64encode(b"not json").decode(),
                base64.urlsafe_b64encode(b'{"username": 5}').decode()):
        with pytest.raises(InvalidParameter, match="^invalid X-Registry-Auth header: "):
            decode_registry_auth(bad)


def test_error_texts_as_docker_shows_them() -> None:
    assert error_text(401, "Unauthorized", b'{"details":"incorrect username or password"}') \
        == "unauthorized: incorrect username or password"
    assert error_text(401, "Unauthorized", b"") == "unauthorized: authentication required"
    assert error_text(404, "Not Found", b'{"errors":[{"code":"NAME_UNKNOWN","message":'
                      b'"repository name not known to registry"}]}') == \
        "name unknown: repository name not known to registry"
    assert error_text(401, "Unauthorized", b"", 'Bearer realm="x",error="insufficient_scope"') \
        == "denied: requested access to the resource is denied"
    assert error_text(502, "Bad Gateway", b"") == \
        "received unexpected HTTP status: 502 Bad Gateway"


# --- bearer tokens against the token-protected registry ---------------------------------------

def test_alice_pushes_and_anonymous_pulls_public(
        token_registry: tuple[TokenServer, Registry]) -> None:
    server, reg = token_registry

    async def scenario(session: aiohttp.ClientSession) -> None:
        assert await push_blob(session, Authorizer(session, ALICE), reg.url, "public/base") \
            == 201
        anonymous = Authorizer(session, None)
        assert (await head_blob(session, anonymous, reg.url, "public/base"))[0] == 200
        # anonymous may not push public/*: the token comes without push access
        assert await push_blob(session, anonymous, reg.url, "public/base") == 401
    run(scenario)
    anonymous_gets = [r for r in server.requests if r["method"] == "GET" and not r["auth"]]
    assert anonymous_gets and all("account" not in r["query"] for r in anonymous_gets)


def test_private_repository_refuses_anonymous(
        token_registry: tuple[TokenServer, Registry]) -> None:
    _, reg = token_registry

    async def scenario(session: aiohttp.ClientSession) -> None:
        assert await push_blob(session, Authorizer(session, ALICE), reg.url, "alice/app") == 201
        assert (await head_blob(session, Authorizer(session, ALICE), reg.url,
                                "alice/app"))[0] == 200
        status, challenge = await head_blob(session, Authorizer(session, None), reg.url,
                                            "alice/app")
        assert status == 401
        assert 'error="insufficient_scope"' in challenge
    run(scenario)


def test_wrong_password_is_refused_with_dockers_text(
        token_registry: tuple[TokenServer, Registry]) -> None:
    _, reg = token_registry
    url = f"{reg.url}/v2/alice/app/manifests/latest"
    wrong = AuthConfig(username="alice", password="wrong")

    async def scenario(session: aiohttp.ClientSession) -> None:
        async with session.head(url) as resp:
            challenge = resp.headers["WWW-Authenticate"]
        # during a pull or push: 500, as dockerd (a 401 makes the docker CLI prompt)
        with pytest.raises(SystemError_) as err:
            await Authorizer(session, wrong).authorize(
                challenge, ["repository:alice/app:pull"], request=("HEAD", url))
        assert err.value.status == 500
        assert err.value.message == \
            f'Head "{url}": unauthorized: incorrect username or password'
        # during a login: 401
        with pytest.raises(Unauthorized, match="^unauthorized: incorrect username or pass"):
            await Authorizer(session, wrong, login=True).authorize(
                challenge, ["repository:alice/app:pull"])
    run(scenario)


def test_tokens_are_cached_per_scope_set(token_registry: tuple[TokenServer, Registry]) -> None:
    server, reg = token_registry

    async def scenario(session: aiohttp.ClientSession) -> None:
        async with session.get(f"{reg.url}/v2/") as resp:
            challenge = resp.headers["WWW-Authenticate"]
        authorizer = Authorizer(session, ALICE)
        before = server.count()
        first = await authorizer.authorize(challenge, ["repository:alice/app:pull,push"])
        again = await asyncio.gather(*(authorizer.authorize(
            challenge, ["repository:alice/app:push", "repository:alice/app:pull"])
            for _ in range(5)))
        assert set(again) == {first}
        assert server.count() == before + 1
        other = await authorizer.authorize(challenge, ["repository:alice/other:pull"])
        assert other != first and server.count() == before + 2
        last = server.requests[-1]
        assert last["query"]["scope"] == ["repository:alice/other:pull"]
        assert last["query"]["service"] == ["dockyard-test-registry"]
        assert last["query"]["account"] == ["alice"]
    run(scenario)


def test_expired_tokens_are_fetched_again(tmp_path: Any) -> None:
    # issued 59 s ago with Docker's minimum lifetime of 60 s: expires one second from now
    server = TokenServer(str(tmp_path), expires_in=60, issued_at_offset=-59).start()
    try:
        challenge = f'Bearer realm="{server.realm}",service="dockyard-test-registry"'

        async def scenario(session: aiohttp.ClientSession) -> None:
            authorizer = Authorizer(session, ALICE)
            await authorizer.authorize(challenge, ["repository:alice/a:pull"])
            await authorizer.authorize(challenge, ["repository:alice/a:pull"])
            assert server.count() == 1
            await asyncio.sleep(1.2)
            await authorizer.authorize(challenge, ["repository:alice/a:pull"])
            assert server.count() == 2
        run(scenario)
    finally:
        server.stop()


def test_identity_token_uses_the_oauth_refresh_flow(
        token_registry: tuple[TokenServer, Registry]) -> None:
    server, reg = token_registry

    async def scenario(session: aiohttp.ClientSession) -> None:
        async with session.get(f"{reg.url}/v2/") as resp:
            challenge = resp.headers["WWW-Authenticate"]
        login = Authorizer(session, ALICE, login=True)
        await login.authorize(challenge, [])
        query = server.requests[-1]["query"]
        assert query["offline_token"] == ["true"] and query["client_id"] == ["docker"]
        assert login.identity_token in server.refresh_tokens
        refreshed = Authorizer(session, AuthConfig(identitytoken=login.identity_token))
        posts = server.count("POST")
        assert await push_blob(session, refreshed, reg.url, "alice/fromtoken") == 201
        assert server.count("POST") == posts + 1
        form = server.requests[-1]["form"]
        assert form["grant_type"] == ["refresh_token"]
        assert form["scope"] == ["repository:alice/fromtoken:pull,push"]
        stale = Authorizer(session, AuthConfig(identitytoken="not-a-refresh-token"))
        with pytest.raises(SystemError_, match="incorrect username or password"):
            await stale.authorize(challenge, [])
    run(scenario)


def test_unreachable_token_server() -> None:
    from registry import free_port

    port = free_port()             # nothing listens there
    challenge = f'Bearer realm="http://127.0.0.1:{port}/token",service="s"'
    url = "http://127.0.0.1:5000/v2/a/manifests/latest"

    async def scenario(session: aiohttp.ClientSession) -> None:
        with pytest.raises(SystemError_) as err:
            await Authorizer(session, ALICE).authorize(challenge, [], request=("GET", url))
        assert err.value.message == (f'Get "{url}": Get "http://127.0.0.1:{port}/token": '
                                     f"dial tcp 127.0.0.1:{port}: connect: connection refused")
    run(scenario)


def test_registry_token_is_used_as_is(token_registry: tuple[TokenServer, Registry]) -> None:
    server, reg = token_registry
    token = server.issue("alice", ["repository:alice/app:pull"])

    async def scenario(session: aiohttp.ClientSession) -> None:
        before = server.count()
        status, _ = await head_blob(session, Authorizer(session, AuthConfig(
            registrytoken=token)), reg.url, "alice/app")
        assert status == 200 and server.count() == before
    run(scenario)


def test_x5c_signed_tokens_are_accepted_too(tmp_path: Any) -> None:
    server = TokenServer(str(tmp_path), key_style="x5c").start()
    reg = Registry(auth=server.registry_auth())
    try:
        reg.start()

        async def scenario(session: aiohttp.ClientSession) -> None:
            assert await push_blob(session, Authorizer(session, ALICE), reg.url,
                                   "alice/x5c") == 201
        run(scenario)
    finally:
        reg.stop()
        server.stop()


# --- basic auth against the htpasswd registry -------------------------------------------------

def test_basic_auth_registry() -> None:
    reg = Registry(users={"alice": "s3cret"}).start()
    try:
        async def scenario(session: aiohttp.ClientSession) -> None:
            async with session.get(f"{reg.url}/v2/") as resp:
                challenge = resp.headers["WWW-Authenticate"]
            assert challenge.startswith("Basic ")
            header = await Authorizer(session, ALICE).authorize(challenge, [])
            assert header == "Basic " + base64.b64encode(b"alice:s3cret").decode()
            assert await Authorizer(session, None).authorize(challenge, []) is None
            assert await push_blob(session, Authorizer(session, ALICE), reg.url,
                                   "any/repo") == 201
            wrong = Authorizer(session, AuthConfig(username="alice", password="nope"))
            assert (await head_blob(session, wrong, reg.url, "any/repo"))[0] == 401
        run(scenario)
    finally:
        reg.stop()


# --- registry hosts ---------------------------------------------------------------------------

def test_registry_hosts_and_endpoints() -> None:
    from dockyard.distribution.registry_host import (endpoint_urls, is_insecure,
                                                     registry_hostname)

    for hub in ("https://index.docker.io/v1/", "docker.io", "registry-1.docker.io",
                "index.docker.io", ""):
        assert registry_hostname(hub) == "docker.io"
        assert endpoint_urls(registry_hostname(hub)) == ["https://registry-1.docker.io"]
    assert registry_hostname("http://reg.example:5000/v2/") == "reg.example:5000"
    assert endpoint_urls("reg.example:5000") == ["https://reg.example:5000"]
    assert endpoint_urls("127.0.0.5:5000") == ["https://127.0.0.5:5000", "http://127.0.0.5:5000"]
    assert is_insecure("localhost:5000")
    assert not is_insecure("[::1]:5000")          # dockerd trusts only 127.0.0.0/8
    assert is_insecure("10.1.2.3:5000", ["10.0.0.0/8"])
    assert is_insecure("reg.example:5000", ["reg.example:5000"])
    assert not is_insecure("reg.example:5000", ["10.0.0.0/8"])
