"""HTTP over the daemon's unix socket (or TCP) with the stdlib, to keep CLI start-up fast."""
from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse
from typing import Any, BinaryIO, Iterator

DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"
API_PREFIX = "/v1.45"


class APIError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None = None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class APIClient:
    """One connection per request; a docker CLI run makes only a handful of them."""

    def __init__(self, host: str | None = None) -> None:
        self.host = host or os.environ.get("DOCKYARD_HOST") or os.environ.get("DOCKER_HOST") \
            or DEFAULT_HOST

    def _connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        if self.host.startswith("unix://"):
            return _UnixConnection(self.host[len("unix://"):], timeout)
        if self.host.startswith("tcp://"):
            netloc = self.host[len("tcp://"):]
            return http.client.HTTPConnection(netloc, timeout=timeout)
        raise APIError(0, f"unsupported host: {self.host}")

    def _url(self, path: str, params: dict[str, Any] | None) -> str:
        query = ""
        if params:
            pairs: list[tuple[str, str]] = []
            for key, value in params.items():
                if value is None:
                    continue
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, bool):
                        item = "1" if item else "0"
                    elif isinstance(item, (dict, tuple)):
                        item = json.dumps(item)
                    pairs.append((key, str(item)))
            query = "?" + urllib.parse.urlencode(pairs) if pairs else ""
        return API_PREFIX + path + query

    def request(self, method: str, path: str, params: dict[str, Any] | None = None,
                json_body: Any = None, data: bytes | BinaryIO | None = None,
                headers: dict[str, str] | None = None,
                timeout: float | None = None) -> http.client.HTTPResponse:
        """Send a request; return the open response for 2xx, raise APIError otherwise."""
        conn = self._connection(timeout)
        hdrs = dict(headers or {})
        body: Any = data
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        try:
            conn.request(method, self._url(path, params), body=body, headers=hdrs)
            response = conn.getresponse()
        except FileNotFoundError:
            raise APIError(0, f"Cannot connect to the Docker daemon at {self.host}. "
                              "Is the docker daemon running?") from None
        except ConnectionRefusedError:
            raise APIError(0, f"Cannot connect to the Docker daemon at {self.host}. "
                              "Is the docker daemon running?") from None
        if response.status >= 400:
            raw = response.read()
            try:
                message = json.loads(raw)["message"]
            except (ValueError, KeyError, TypeError):
                message = raw.decode(errors="replace").strip()
            raise APIError(response.status, message)
        return response

    def call(self, method: str, path: str, params: dict[str, Any] | None = None,
             json_body: Any = None, data: bytes | BinaryIO | None = None,
             headers: dict[str, str] | None = None) -> Any:
        """A request whose (possibly empty) JSON answer is returned decoded."""
        response = self.request(method, path, params, json_body, data, headers)
        raw = response.read()
        if not raw or response.status == 204:
            return None
        if response.getheader("Content-Type", "").startswith("application/json"):
            return json.loads(raw)
        return raw.decode()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.call("GET", path, params)

    def post(self, path: str, params: dict[str, Any] | None = None, json: Any = None,
             data: bytes | BinaryIO | None = None, headers: dict[str, str] | None = None) -> Any:
        return self.call("POST", path, params, json, data, headers)

    def delete(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.call("DELETE", path, params)

    def stream_json(self, method: str, path: str, params: dict[str, Any] | None = None,
                    json_body: Any = None, data: bytes | BinaryIO | None = None,
                    headers: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Decode a chunked stream of concatenated JSON objects as they arrive."""
        response = self.request(method, path, params, json_body, data, headers)
        decoder = json.JSONDecoder()
        buffer = ""
        while True:
            chunk = response.read1(65536) if hasattr(response, "read1") else response.read(65536)
            if not chunk:
                break
            buffer += chunk.decode()
            while True:
                buffer = buffer.lstrip()
                if not buffer:
                    break
                try:
                    obj, end = decoder.raw_decode(buffer)
                except ValueError:
                    break
                buffer = buffer[end:]
                yield obj

    def stream_raw(self, method: str, path: str, params: dict[str, Any] | None = None
                   ) -> http.client.HTTPResponse:
        return self.request(method, path, params)

    def hijack(self, path: str, params: dict[str, Any] | None = None,
               json_body: Any = None) -> tuple[socket.socket, "HijackedStream"]:
        """POST with `Upgrade: tcp` and return the raw socket plus a reader positioned after
        the response headers (the stream may already be buffered there)."""
        conn = self._connection(None)
        body = json.dumps(json_body).encode() if json_body is not None else b""
        headers = {"Connection": "Upgrade", "Upgrade": "tcp",
                   "Content-Type": "application/json"}
        try:
            conn.request("POST", self._url(path, params), body=body, headers=headers)
            sock = conn.sock
        except (FileNotFoundError, ConnectionRefusedError):
            raise APIError(0, f"Cannot connect to the Docker daemon at {self.host}. "
                              "Is the docker daemon running?") from None
        response = conn.getresponse()
        if response.status >= 400:
            raw = response.read()
            try:
                message = json.loads(raw)["message"]
            except (ValueError, KeyError, TypeError):
                message = raw.decode(errors="replace")
            raise APIError(response.status, message)
        assert sock is not None
        return sock, HijackedStream(conn, response)


class HijackedStream:
    """The raw stream after a hijack. Holds the connection and response so that neither is
    garbage-collected (which would close the socket) while the stream is read."""

    def __init__(self, conn: http.client.HTTPConnection,
                 response: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._response = response
        self._fp = response.fp

    def read(self, size: int = -1) -> bytes:
        return self._fp.read1(size) if size > 0 else self._fp.read()

    def close(self) -> None:
        self._response.close()
        self._conn.close()


def demux_frames(reader: Any) -> Iterator[tuple[int, bytes]]:
    """Split Docker's multiplexed stream (8-byte headers) into (stream, payload) pairs."""
    while True:
        header = _read_exact(reader, 8)
        if len(header) < 8:
            return
        size = int.from_bytes(header[4:8], "big")
        payload = _read_exact(reader, size)
        yield header[0], payload
        if len(payload) < size:
            return


def _read_exact(reader: BinaryIO, size: int) -> bytes:
    parts = []
    while size > 0:
        chunk = reader.read(size)
        if not chunk:
            break
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)
