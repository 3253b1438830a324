"""Raw HTTP to a daemon's unix socket, for tests that must send bytes no client library would
(wrong JSON types, broken bodies, odd query strings) and see the answer as it is."""
from __future__ import annotations

import http.client
import json
import socket
from typing import Any


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def request(daemon: Any, method: str, path: str, body: bytes | str | None = None,
            headers: dict[str, str] | None = None, timeout: float = 30
            ) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection: status, headers and the whole body."""
    conn = UnixConnection(daemon.sock, timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def decoded(data: bytes) -> Any:
    """A JSON answer decoded, else the bytes as they came."""
    try:
        return json.loads(data) if data else None
    except (ValueError, RecursionError):     # not JSON, not UTF-8, or nested too deep
        return data


def post(daemon: Any, path: str, body: bytes | str | Any) -> tuple[int, Any]:
    """POST a JSON body (bytes and str are sent as they are): status and decoded answer."""
    raw = body if isinstance(body, bytes) else \
        (body if isinstance(body, str) else json.dumps(body)).encode()
    status, _, data = request(daemon, "POST", path, raw,
                              {"Content-Type": "application/json"})
    return status, decoded(data)
