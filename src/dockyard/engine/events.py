"""The event bus behind /events: services publish, API streams subscribe."""
from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any


class Events:
    """Keeps the last events in memory (for `since`) and fans new ones out to subscribers."""

    def __init__(self, history: int = 1000) -> None:
        self._history: deque[dict[str, Any]] = deque(maxlen=history)
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

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
