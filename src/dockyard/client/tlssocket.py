"""A client TLS connection that can half-close (see TLSSocket); imported only when a
command talks TLS."""
from __future__ import annotations

import io
import socket
import ssl
import threading
from typing import Any


class TLSSocket:
    """A client TLS connection on a plain socket, with TLS records handled by an
    `ssl.SSLObject` on memory buffers. Why not `ssl.SSLSocket`: its shutdown() drops TLS
    altogether, and an attach must close its write side (close_notify, as the docker CLI's
    CloseWrite) while it still reads the container's output. Reads and writes may come from
    two threads (an attach's input and output): the SSL object is used under a lock, and
    records go out in the order they were made."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server_hostname: str
                 ) -> None:
        self._ssl = ssl
        self._sock = sock
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing,
                                     server_hostname=server_hostname)
        self._lock = threading.Lock()          # the SSL object
        self._send_lock = threading.Lock()     # the socket's write side
        self._handshake()

    def _handshake(self) -> None:
        while True:
            with self._lock:
                try:
                    self._tls.do_handshake()
                    done = True
                except self._ssl.SSLWantReadError:
                    done = False
            self._send_pending()
            if done:
                return
            if not self._feed():
                raise self._ssl.SSLEOFError("EOF during the TLS handshake")

    def _feed(self) -> bool:
        """Move what the socket has into the SSL object; False at the socket's end."""
        data = self._sock.recv(1 << 16)
        with self._lock:
            if data:
                self._incoming.write(data)
            else:
                self._incoming.write_eof()
        return bool(data)

    def _send_pending(self) -> None:
        with self._send_lock:
            with self._lock:
                data = self._outgoing.read()
            if data:
                self._sock.sendall(data)

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        size = nbytes or len(buffer)
        ssl = self._ssl
        while True:
            with self._lock:
                try:
                    data: bytes | None = self._tls.read(size)
                except ssl.SSLWantReadError:
                    data = None
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    data = b""                  # close_notify, or the socket's end
            self._send_pending()                # e.g. an answer to a key update
            if data is not None:
                buffer[:len(data)] = data
                return len(data)
            self._feed()

    def recv(self, size: int) -> bytes:
        buffer = bytearray(size)
        return bytes(buffer[:self.recv_into(buffer)])

    def sendall(self, data: bytes) -> None:
        with self._lock:
            self._tls.write(data)
        self._send_pending()

    def shutdown(self, how: int) -> None:
        """SHUT_WR: close_notify, reading goes on (a half-close); SHUT_RDWR: both ways."""
        with self._lock:
            try:
                self._tls.unwrap()
            except self._ssl.SSLError:           # the daemon's close_notify is still to come
                pass
        self._send_pending()
        if how == socket.SHUT_RDWR:
            self._sock.shutdown(how)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        return io.BufferedReader(_RawReader(self))

    def settimeout(self, timeout: float | None) -> None:
        self._sock.settimeout(timeout)

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()


class _RawReader(io.RawIOBase):
    def __init__(self, sock: TLSSocket) -> None:
        self._tls_sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._tls_sock.recv_into(buffer)
