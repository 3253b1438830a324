"""Attached sessions of the CLI (run, start -a, attach, exec): the client terminal in raw
mode, stdin pumped to the hijacked socket, window size sent at start and on SIGWINCH,
signals forwarded when there is no TTY, and the detach keys spotted in the input as the
docker CLI does."""
from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import struct
import sys
import termios
import threading
import tty as ttymod
from typing import Any, Callable

from .. import detachkeys
from ..client.transport import demux_frames

# The docker CLI forwards every signal except these (and SIGKILL/SIGSTOP, which it can't catch).
_NOT_FORWARDED = {signal.SIGCHLD, signal.SIGPIPE, signal.SIGURG, signal.SIGWINCH,
                  signal.SIGKILL, signal.SIGSTOP}


def configured_detach_keys(flag: str | None) -> str:
    """--detach-keys, else `detachKeys` in the docker CLI's config.json, else Docker's."""
    if flag:
        return flag
    directory = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"),
                                                                  ".docker")
    try:
        with open(os.path.join(directory, "config.json")) as f:
            value = json.load(f).get("detachKeys")
    except (OSError, ValueError, AttributeError):
        value = None
    return value if isinstance(value, str) and value else detachkeys.DEFAULT


def parse_keys(spec: str) -> bytes:
    try:
        return detachkeys.parse(spec)
    except ValueError:
        print(f"Invalid detach keys ({spec}) provided", file=sys.stderr)
        sys.exit(125)


def terminal_size() -> tuple[int, int] | None:
    """(rows, cols) of the client's terminal, if stdout is one."""
    for fd in (1, 0):
        if os.isatty(fd):
            rows, cols = struct.unpack("hh", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 4))
            return (rows, cols) if rows and cols else None
    return None


def require_tty_input() -> None:
    if not os.isatty(0):
        print("the input device is not a TTY", file=sys.stderr)
        sys.exit(1)


class Session:
    """One hijacked stream. `run()` returns True if the user detached."""

    def __init__(self, sock: socket.socket, reader: Any, *, tty: bool, stdin: bool,
                 keys: bytes, resize: Callable[[int, int], None] | None = None,
                 forward_signal: Callable[[int], None] | None = None) -> None:
        self.sock = sock
        self.reader = reader
        self.tty = tty
        self.stdin = stdin
        self.keys = keys
        self.resize = resize
        self.forward_signal = forward_signal
        self.detached = threading.Event()

    def run(self) -> bool:
        saved = None
        if self.stdin and self.tty and os.isatty(0):
            saved = termios.tcgetattr(0)
            ttymod.setraw(0)
        previous: dict[int, Any] = {}
        try:
            if self.tty and self.resize is not None:
                self.send_size()
                previous[signal.SIGWINCH] = signal.signal(signal.SIGWINCH,
                                                          lambda *_: self.send_size())
            if not self.tty and self.forward_signal is not None:
                for sig in signal.valid_signals():
                    if sig in _NOT_FORWARDED:
                        continue
                    try:
                        previous[sig] = signal.signal(sig, self._forward)
                    except (OSError, ValueError):
                        pass
            if self.stdin:
                threading.Thread(target=self._pump_input, daemon=True).start()
            self._pump_output()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if saved is not None:
                termios.tcsetattr(0, termios.TCSADRAIN, saved)
        return self.detached.is_set()

    def send_size(self) -> None:
        size = terminal_size()
        if size and self.resize is not None:
            try:
                self.resize(*size)
            except Exception:  # noqa: BLE001 - a resize racing the exit is harmless
                pass

    def _forward(self, sig: int, _frame: Any) -> None:
        assert self.forward_signal is not None
        try:
            self.forward_signal(sig)
        except Exception:  # noqa: BLE001 - the container may be gone already
            pass

    def _pump_input(self) -> None:
        scanner = detachkeys.Scanner(self.keys) if self.tty else None
        try:
            while True:
                data = os.read(0, 32768)
                if not data:
                    break
                if scanner is not None:
                    data, detached = scanner.feed(data)
                    if data:
                        self.sock.sendall(data)
                    if detached:
                        self.detached.set()
                        self.sock.shutdown(socket.SHUT_RDWR)
                        return
                    continue
                self.sock.sendall(data)
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _pump_output(self) -> None:
        out, err = sys.stdout.buffer, sys.stderr.buffer
        try:
            if self.tty:
                while chunk := self.reader.read(32768):
                    out.write(chunk)
                    out.flush()
                return
            for kind, payload in demux_frames(self.reader):
                target = err if kind == 2 else out
                target.write(payload)
                target.flush()
        except OSError:
            if not self.detached.is_set():
                raise


def attach_container(api: Any, cid: str, sock: socket.socket, stream: Any, *, tty: bool,
                     stdin: bool, keys: bytes, sig_proxy: bool) -> bool:
    """Relay an attached container's streams (run, start -a, attach): resizes and, without
    a TTY, signals go to the container. True if the user detached."""
    from ..client import containers as api_containers

    return Session(sock, stream, tty=tty, stdin=stdin, keys=keys,
                   resize=lambda rows, cols: api_containers.resize(api, cid, rows, cols),
                   forward_signal=(lambda sig: api_containers.kill(api, cid, str(sig)))
                   if sig_proxy else None).run()
