"""HTTP/1.1 over the daemon's unix socket (or TCP), written on the socket module alone:
http.client pulls in the email package, a good part of a short command's start-up."""
from __future__ import annotations

import json
import os
import socket
from typing import TYPE_CHECKING, Any, BinaryIO, Iterable, Iterator

if TYPE_CHECKING:
    from .tls import ClientTLS

DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"
API_PREFIX = "/v1.45"
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


class APIError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ConnectionClosed(APIError):
    """The connection ended before a response (over TLS: our certificate was refused)."""


def quote_plus(text: str) -> str:
    """application/x-www-form-urlencoded, as urllib.parse.quote_plus."""
    return "".join(chr(b) if b in _SAFE else "+" if b == 0x20 else f"%{b:02X}"
                   for b in text.encode())


class Response:
    """A response read off the socket: status, headers, and the body with Content-Length,
    chunked or read-to-close framing undone. `fp` is the buffered socket reader, positioned
    after the headers (where a hijacked stream starts)."""

    def __init__(self, sock: socket.socket, method: str) -> None:
        self.sock = sock
        self.fp = sock.makefile("rb")
        line = self.fp.readline(65537)
        parts = line.decode("latin-1").split(None, 2)
        if not line:
            raise ConnectionClosed(0, "the daemon closed the connection without answering")
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise APIError(0, f"malformed HTTP response from the daemon: {line[:80]!r}")
        self.status = int(parts[1])
        self.reason = parts[2].strip() if len(parts) > 2 else ""
        self.headers: dict[str, str] = {}
        while (header := self.fp.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            key = name.strip().lower()
            value = value.strip()
            self.headers[key] = f"{self.headers[key]}, {value}" if key in self.headers \
                else value
        self._chunked = False
        self._left: int | None = None          # body bytes left; None: until close
        if method == "HEAD" or self.status in (204, 304) or 100 <= self.status < 200:
            self._left = 0
        elif "chunked" in self.headers.get("transfer-encoding", "").lower():
            self._chunked, self._left = True, 0
        elif "content-length" in self.headers:
            self._left = int(self.headers["content-length"])
        self._done = self._left == 0 and not self._chunked

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def _next_chunk(self) -> None:
        line = self.fp.readline(65537)
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while self.fp.readline(65537) not in (b"\r\n", b"\n", b""):
                pass                          # trailers
            self._done = True
        self._left = size

    def read1(self, size: int = -1) -> bytes:
        """Some body bytes (at most `size`), b"" at its end; one socket read at most."""
        if self._done:
            return b""
        if self._chunked and self._left == 0:
            self._next_chunk()
            if self._done:
                return b""
        want = 1 << 16 if size is None or size < 0 else size
        if self._left is not None:
            want = min(want, self._left)
        data = self.fp.read1(want)
        if self._left is not None:
            if not data:
                self._done = True
                return b""
            self._left -= len(data)
            if self._left == 0:
                if self._chunked:
                    self.fp.readline(3)       # the CRLF after a chunk
                else:
                    self._done = True
        elif not data:
            self._done = True
        return data

    def read(self, size: int = -1) -> bytes:
        parts = []
        while size is None or size < 0 or size > 0:
            data = self.read1(size if size and size > 0 else 1 << 16)
            if not data:
                break
            parts.append(data)
            if size and size > 0:
                size -= len(data)
        return b"".join(parts)

    def close(self) -> None:
        self.fp.close()
        self.sock.close()


class APIClient:
    """One connection per request; a docker CLI run makes only a handful of them."""

    def __init__(self, host: str | None = None, tls: ClientTLS | None = None) -> None:
        self.host = host or os.environ.get("DOCKYARD_HOST") or os.environ.get("DOCKER_HOST") \
            or DEFAULT_HOST
        self.tls = tls

    def _tcp(self, timeout: float | None) -> socket.socket:
        """A TCP connection, TLS-wrapped when asked for (port 2376 by default, else 2375)."""
        address = self.host[len("tcp://"):].rstrip("/")
        host, colon, port = address.rpartition(":")
        if not colon or "]" in port:
            host, port = address, ""
        host = host.strip("[]")
        if self.tls is None:
            return socket.create_connection((host, int(port or 2375)), timeout)
        import ssl

        from .tlssocket import TLSSocket

        try:
            context = self.tls.context()
        except ValueError as exc:
            raise APIError(0, str(exc)) from None
        sock = socket.create_connection((host, int(port or 2376)), timeout)
        try:
            return TLSSocket(sock, context, host)   # type: ignore[return-value]
        except ssl.SSLError as exc:
            sock.close()
            raise APIError(0, self._tls_error(exc)) from None

    def _tls_error(self, exc: BaseException) -> str:
        from .tls import connect_error

        return connect_error(exc, "https://" + self.host[len("tcp://"):].rstrip("/"))

    def _connect(self, timeout: float | None) -> socket.socket:
        try:
            if self.host.startswith("unix://"):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(timeout)
                try:
                    sock.connect(self.host[len("unix://"):])
                except OSError:
                    sock.close()
                    raise
                return sock
            if self.host.startswith("tcp://"):
                return self._tcp(timeout)
        except (FileNotFoundError, ConnectionRefusedError):
            raise APIError(0, f"Cannot connect to the Docker daemon at {self.host}. "
                              "Is the docker daemon running?") from None
        raise APIError(0, f"unsupported host: {self.host}")

    def _url(self, path: str, params: dict[str, Any] | None) -> str:
        query = ""
        if params:
            pairs: list[str] = []
            for key, value in params.items():
                if value is None:
                    continue
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, bool):
                        item = "1" if item else "0"
                    elif isinstance(item, (dict, tuple)):
                        item = json.dumps(item)
                    pairs.append(f"{quote_plus(key)}={quote_plus(str(item))}")
            query = "?" + "&".join(pairs) if pairs else ""
        return API_PREFIX + path + query

    def _send(self, method: str, path: str, params: dict[str, Any] | None, body: Any,
              headers: dict[str, str], timeout: float | None = None) -> Response:
        """Write the request (bytes, a file or an iterable of bytes as its body) and read
        the response's status line and headers."""
        sock = self._connect(timeout)
        try:
            names = {k.lower() for k in headers}
            lines = [f"{method} {self._url(path, params)} HTTP/1.1", "Host: docker"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            chunked = False
            if isinstance(body, (bytes, bytearray)):
                if "content-length" not in names:
                    lines.append(f"Content-Length: {len(body)}")
            elif body is None:
                if method in ("POST", "PUT", "PATCH") and "content-length" not in names:
                    lines.append("Content-Length: 0")
            elif "content-length" not in names:
                chunked = True
                lines.append("Transfer-Encoding: chunked")
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            if isinstance(body, (bytes, bytearray)):
                sock.sendall(head + body)
            else:
                sock.sendall(head)
                if body is not None:
                    for piece in _pieces(body):
                        if chunked:
                            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                        else:
                            sock.sendall(piece)
                    if chunked:
                        sock.sendall(b"0\r\n\r\n")
            return Response(sock, method)
        except ConnectionClosed:
            sock.close()
            if self.tls is None:
                raise
            raise APIError(0, self._tls_error(EOFError("EOF"))) from None   # cert refused
        except OSError as exc:
            sock.close()
            if self.tls is not None and type(exc).__module__ == "ssl":
                raise APIError(0, self._tls_error(exc)) from None   # e.g. our cert refused
            raise
        except BaseException:
            sock.close()
            raise

    @staticmethod
    def _raise_for(response: Response) -> None:
        if response.status < 400:
            return
        raw = response.read()
        response.close()
        try:
            message = json.loads(raw)["message"]
        except (ValueError, KeyError, TypeError):
            message = raw.decode(errors="replace").strip()
        raise APIError(response.status, message)

    def request(self, method: str, path: str, params: dict[str, Any] | None = None,
                json_body: Any = None, data: bytes | BinaryIO | Iterable[bytes] | None = None,
                headers: dict[str, str] | None = None,
                timeout: float | None = None) -> Response:
        """Send a request; return the open response for 2xx, raise APIError otherwise."""
        hdrs = dict(headers or {})
        body: Any = data
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        response = self._send(method, path, params, body, hdrs, timeout)
        self._raise_for(response)
        return response

    def call(self, method: str, path: str, params: dict[str, Any] | None = None,
             json_body: Any = None, data: bytes | BinaryIO | None = None,
             headers: dict[str, str] | None = None) -> Any:
        """A request whose (possibly empty) JSON answer is returned decoded."""
        response = self.request(method, path, params, json_body, data, headers)
        raw = response.read()
        response.close()
        if not raw or response.status == 204:
            return None
        if (response.getheader("Content-Type") or "").startswith("application/json"):
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
        try:
            while chunk := response.read1(65536):
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
        finally:
            response.close()

    def stream_raw(self, method: str, path: str, params: dict[str, Any] | None = None
                   ) -> Response:
        return self.request(method, path, params)

    def hijack(self, path: str, params: dict[str, Any] | None = None,
               json_body: Any = None) -> tuple[socket.socket, "HijackedStream"]:
        """POST with `Upgrade: tcp` and return the raw socket plus a reader positioned after
        the response headers (the stream may already be buffered there)."""
        body = json.dumps(json_body).encode() if json_body is not None else b""
        response = self._send("POST", path, params, body,
                              {"Connection": "Upgrade", "Upgrade": "tcp",
                               "Content-Type": "application/json"})
        self._raise_for(response)
        return response.sock, HijackedStream(response)


def _pieces(body: Any) -> Iterator[bytes]:
    """A request body as pieces: a file read 1 MiB at a time, or an iterable's items."""
    if hasattr(body, "read"):
        while piece := body.read(1 << 20):
            yield piece
        return
    for piece in body:
        if piece:
            yield bytes(piece)


class HijackedStream:
    """The raw stream after a hijack: what follows the response headers on the socket."""

    def __init__(self, response: Response) -> None:
        self._response = response
        self._fp = response.fp

    def read(self, size: int = -1) -> bytes:
        return self._fp.read1(size) if size > 0 else self._fp.read()

    def close(self) -> None:
        self._response.close()


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
