"""Containers whose files are being created or removed (the store check skips them)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator


class InFlight:
    """The containers in flux now, and for each store check running (in a thread) every
    container that was in flux at any moment since it began: the check lists a directory
    and reads the files under it later, so a container whose create or rm ran in between
    looked half-made even when it was no longer in flux once its turn came."""

    def __init__(self) -> None:
        self._now: set[str] = set()
        self._watches: list[set[str]] = []

    def add(self, cid: str) -> None:
        self._now.add(cid)
        for seen in self._watches:
            seen.add(cid)

    def discard(self, cid: str) -> None:
        self._now.discard(cid)

    @contextlib.contextmanager
    def watch(self) -> Iterator[set[str]]:
        """Enter and leave in the event loop; the set only grows while the watch lasts."""
        seen = set(self._now)
        self._watches.append(seen)
        try:
            yield seen
        finally:
            self._watches.remove(seen)
