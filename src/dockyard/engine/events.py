"""The event bus behind /events: services publish, API streams subscribe."""
from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Any


class Events:
    """Keeps the last events in memory (for `since`) and fans new ones out to subscribers.
    Services may emit from worker threads (the image service runs in asyncio.to_thread):
    such events are handed to the loop the bus is bound to, where the queues live."""

    def __init__(self, history: int = 1000) -> None:
        self._history: deque[dict[str, Any]] = deque(maxlen=history)
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The daemon's event loop: subscribers' queues belong to it."""
        self._loop, self._loop_thread = loop, threading.get_ident()

    def emit(self, type_: str, action: str, actor_id: str,
             attributes: dict[str, str] | None = None) -> None:
        now = time.time_ns()
        event: dict[str, Any] = {
            "Type": type_, "Action": action,
            "Actor": {"ID": actor_id, "Attributes": dict(attributes or {})},
            "scope": "local", "time": now // 1_000_000_000, "timeNano": now,
        }
        if type_ == "container":  # the deprecated top-level fields clients still read
            event.update(status=action, id=actor_id, **{"from": (attributes or {}).get("image", "")})
        elif type_ == "image":
            event.update(status=action, id=actor_id)
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._publish, event)
            return
        self._publish(event)

    def _publish(self, event: dict[str, Any]) -> None:
        self._history.append(event)
        for queue in list(self._subscribers):
            queue.put_nowait(event)

    def history(self) -> list[dict[str, Any]]:
        return list(self._history)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)
