"""The event bus behind /events: services publish, API streams subscribe."""
from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Any, AsyncGenerator

from ..filters import check_keys, match_kv

FILTERS = {"config", "container", "daemon", "event", "image", "label", "network", "node",
           "plugin", "scope", "secret", "service", "type", "volume"}


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

    def watch(self, filters: dict[str, list[str]], since: float | None = None,
              until: float | None = None) -> AsyncGenerator[dict[str, Any], None]:
        """GET /events: the kept events from `since` on, then new ones until `until` (or
        for good), those `filters` select (an unknown filter is refused now, before any
        stream starts). The generator subscribes at its first step, before any await, so a
        caller that starts reading right after answering its client misses nothing; the
        subscription ends with the generator."""
        return self._watch(check_keys(filters, FILTERS), since, until)

    async def _watch(self, filters: dict[str, list[str]], since: float | None,
                     until: float | None) -> AsyncGenerator[dict[str, Any], None]:
        queue = self.subscribe()
        try:
            if since is not None:
                for event in self.history():
                    moment = event["timeNano"] / 1e9
                    if moment >= since and (until is None or moment <= until) and \
                            matches(event, filters):
                        yield event
            while True:
                timeout = None if until is None else until - time.time()
                if timeout is not None and timeout <= 0:
                    return
                try:
                    event = await asyncio.wait_for(queue.get(), timeout)
                except asyncio.TimeoutError:
                    return
                if matches(event, filters):
                    yield event
        finally:
            self.unsubscribe(queue)


def matches(event: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    """Docker's event filters: type, event, container, image (ID prefix or name), volume
    (its name), label."""
    actor = event["Actor"]
    attributes = actor.get("Attributes") or {}
    for key, values in filters.items():
        if key == "type" and event["Type"] not in values:
            return False
        if key == "event" and event["Action"] not in values:
            return False
        if key in ("container", "image") and (event["Type"] != key or not any(
                actor["ID"].startswith(v) or attributes.get("name") == v for v in values)):
            return False
        if key == "volume" and (event["Type"] != key or actor["ID"] not in values):
            return False
        if key == "label" and not match_kv(values, attributes):
            return False
    return True
