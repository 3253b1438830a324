"""A token server for the tests, issuing registry tokens the way Docker Hub's auth service
does: `GET /token?service=&scope=...` with optional basic credentials (and the OAuth2
`POST /token` form for refresh tokens) answers a JWT signed with an EC key whose self-signed
certificate is the registry's `rootcertbundle`.

distribution 2.8 finds the signing key from the JWT header: `kid` holding the key's libtrust
ID (what Docker Hub sends) matched against the bundle's keys, or `x5c`, a certificate chain
verified against the bundle. Both work; `key_style` picks one.

Policy: alice may pull and push `alice/*` and `public/*`; everyone (anonymous too) may pull
`public/*`. Scopes asked for beyond that are left out of the token, as Docker Hub does."""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SERVICE = "dockyard-test-registry"
ISSUER = "dockyard-test-tokenserver"


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """libtrust's key ID: the first 240 bits of SHA-256 over the DER SubjectPublicKeyInfo,
    base32 without padding, in 12 colon-separated groups of four."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i:i + 4] for i in range(0, len(encoded), 4))


def allowed_actions(user: str, resource_type: str, name: str, wanted: list[str]) -> list[str]:
    if resource_type != "repository":
        return []
    granted: set[str] = set()
    if name.startswith("public/"):
        granted.add("pull")
    if user == "alice" and (name.startswith("alice/") or name.startswith("public/")):
        granted |= {"pull", "push"}
    return [a for a in wanted if a in granted]


class TokenServer:
    """One server thread on 127.0.0.1. `requests` counts token requests by method."""

    def __init__(self, directory: str, users: dict[str, str] | None = None,
                 key_style: str = "kid", expires_in: int = 300,
                 issued_at_offset: float = 0) -> None:
        self.users = users if users is not None else {"alice": "s3cret"}
        self.key_style = key_style
        self.expires_in = expires_in
        self.issued_at_offset = issued_at_offset
        self.requests: list[dict[str, Any]] = []
        self.refresh_tokens: dict[str, str] = {}
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._cert = self._self_signed(self._key)
        self.cert_file = os.path.join(directory, "token-root.pem")
        with open(self.cert_file, "wb") as f:
            f.write(self._cert.public_bytes(serialization.Encoding.PEM))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.realm = f"http://127.0.0.1:{self._httpd.server_address[1]}/token"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @staticmethod
    def _self_signed(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.timezone.utc)
        return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))

    def registry_auth(self) -> dict[str, Any]:
        """The registry's `auth:` section trusting this server."""
        return {"token": {"realm": self.realm, "service": SERVICE, "issuer": ISSUER,
                          "rootcertbundle": self.cert_file}}

    def start(self) -> "TokenServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def count(self, method: str | None = None) -> int:
        return sum(1 for r in self.requests if method is None or r["method"] == method)

    # --- issuing --------------------------------------------------------------------------

    def issue(self, user: str, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            resource_type, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            granted = allowed_actions(user, resource_type, name, actions.split(","))
            if granted:
                access.append({"type": resource_type, "name": name, "actions": granted})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": user, "aud": SERVICE, "exp": now + self.expires_in,
                  "nbf": now - 1, "iat": now, "jti": secrets.token_hex(8), "access": access}
        if self.key_style == "x5c":
            der = self._cert.public_bytes(serialization.Encoding.DER)
            headers: dict[str, Any] = {"x5c": [base64.b64encode(der).decode()]}
        else:
            headers = {"kid": libtrust_key_id(self._key.public_key())}
        return jwt.encode(claims, self._key, algorithm="ES256", headers=headers)

    def answer(self, user: str, scopes: list[str], offline: bool) -> dict[str, Any]:
        issued = datetime.datetime.now(datetime.timezone.utc) + \
            datetime.timedelta(seconds=self.issued_at_offset)
        token = self.issue(user, scopes)
        body: dict[str, Any] = {"token": token, "access_token": token,
                                "expires_in": self.expires_in,
                                "issued_at": issued.isoformat().replace("+00:00", "Z")}
        if offline and user:
            refresh = secrets.token_hex(16)
            self.refresh_tokens[refresh] = user
            body["refresh_token"] = refresh
        return body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _basic_user(self) -> str | None:
                """'' for anonymous, the user for good credentials, None for bad ones."""
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return ""
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                return user if server.users.get(user) == password and password else None

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                server.requests.append({"method": "GET", "query": query,
                                        "auth": self.headers.get("Authorization")})
                if url.path != "/token":
                    return self._reply(404, {"details": "not found"})
                user = self._basic_user()
                if user is None:
                    return self._reply(401, {"details": "incorrect username or password"})
                scopes = [s for value in query.get("scope", []) for s in value.split()]
                self._reply(200, server.answer(user, scopes,
                                               query.get("offline_token") == ["true"]))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                server.requests.append({"method": "POST", "form": form})
                if urllib.parse.urlsplit(self.path).path != "/token":
                    return self._reply(404, {"details": "not found"})
                grant = form.get("grant_type", [""])[0]
                if grant == "refresh_token":
                    user = server.refresh_tokens.get(form.get("refresh_token", [""])[0])
                elif grant == "password":
                    name = form.get("username", [""])[0]
                    good = server.users.get(name) == form.get("password", [""])[0]
                    user = name if good else None
                else:
                    return self._reply(400, {"error": "unsupported_grant_type"})
                if not user:
                    return self._reply(401, {"details": "incorrect username or password"})
                scopes = form.get("scope", [""])[0].split()
                self._reply(200, server.answer(user, scopes,
                                               form.get("access_type") == ["offline"]))

        return Handler
