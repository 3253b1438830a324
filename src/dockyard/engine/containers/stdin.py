"""A client's input to a container's or exec's stdin, with Docker's rules: which attach gets
stdin at all, the detach keys, what the client's EOF means, and flow control towards the
monitor. The API hands each hijacked connection's bytes to a relay made here."""
from __future__ import annotations

import asyncio
from typing import Callable

from ... import detachkeys
from .execs import ExecInstance
from .model import Container
from .monitor import ShimLink

_PAUSE_AT = 1 << 20   # stdin bytes queued towards the monitor before the client is paused


class StdinRelay:
    """Client input to a process's stdin, with Docker's rules: with a TTY the detach keys
    end the stream (the process keeps running); at the client's EOF, `close_stdin` (and no
    TTY) closes the process's stdin and output keeps flowing, else the stream ends."""

    def __init__(self, link: Callable[[], ShimLink], tty: bool, close_stdin: bool,
                 keys: bytes, end_stream: Callable[[], None]) -> None:
        self.link = link
        self.tty = tty
        self.close_stdin = close_stdin
        self.scanner = detachkeys.Scanner(keys) if tty else None
        self.end_stream = end_stream
        self.done = False
        self._held: list[bytes | None] | None = []   # input before start(); None: EOF

    def start(self) -> None:
        """Begin relaying (Docker connects stdin after the logs replay, so a reply to the
        input cannot also show up in the replay)."""
        held, self._held = self._held or [], None
        for item in held:
            if item is None:
                self.eof()
            else:
                self.feed(item)

    def feed(self, data: bytes, transport: asyncio.Transport | None = None) -> None:
        if self._held is not None:
            self._held.append(data)
            return
        if self.done:
            return
        detached = False
        if self.scanner is not None:
            data, detached = self.scanner.feed(data)
        link = self.link()
        if data:
            link.stdin(data)
        if detached:
            self.done = True
            self.end_stream()
        elif transport is not None and link.backlog() > _PAUSE_AT:
            transport.pause_reading()
            asyncio.ensure_future(self._resume(link, transport))

    async def _resume(self, link: ShimLink, transport: asyncio.Transport) -> None:
        await link.drain()
        if not transport.is_closing():
            transport.resume_reading()

    def eof(self) -> None:
        if self._held is not None:
            self._held.append(None)
            return
        if self.done:
            return
        self.done = True
        if self.scanner is not None and (rest := self.scanner.flush()):
            self.link().stdin(rest)
        if self.close_stdin and not self.tty:
            self.link().close_stdin()
        else:
            self.end_stream()


def for_attach(container: Container, stdin: bool, keys: str | None,
               end_stream: Callable[[], None]) -> StdinRelay | None:
    """Docker attaches stdin only if asked and the container was created with OpenStdin;
    StdinOnce closes the container's stdin when this attach's input ends. Bad detach keys
    are refused whether or not stdin is attached."""
    checked = detachkeys.checked(keys)
    if not stdin or not container.config.get("OpenStdin"):
        return None
    return StdinRelay(lambda: container.shim, bool(container.config.get("Tty")),
                      bool(container.config.get("StdinOnce")), checked, end_stream)


def for_exec(instance: ExecInstance, end_stream: Callable[[], None]) -> StdinRelay | None:
    """An exec's stdin, when it was created with AttachStdin: its EOF closes the
    process's stdin (without a TTY), as Docker's exec does."""
    if not instance.config.get("AttachStdin"):
        return None
    keys = detachkeys.checked(instance.config.get("DetachKeys"))
    return StdinRelay(lambda: instance.link, bool(instance.config.get("Tty")), True, keys,
                      end_stream)
