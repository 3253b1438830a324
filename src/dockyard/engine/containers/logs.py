"""Reading json-file logs for `logs` and attach replay (the shim writes them)."""
from __future__ import annotations

import asyncio
import json
import os
from typing import AsyncIterator, Iterator

from ..timeutil import parse_rfc3339

STREAMS = {"stdout": 1, "stderr": 2}


def _files(path: str) -> list[str]:
    """Rotated files oldest first: path.N ... path.1, path."""
    rotated = []
    n = 1
    while os.path.exists(f"{path}.{n}"):
        rotated.append(f"{path}.{n}")
        n += 1
    return list(reversed(rotated)) + ([path] if os.path.exists(path) else [])


def read_entries(path: str, upto: int | None = None) -> Iterator[dict]:
    """All entries; of the current file only its first `upto` bytes (where a follow
    starts, so no entry is both replayed and followed)."""
    for name in _files(path):
        left = upto if upto is not None and name == path else None
        with open(name, "rb") as f:
            for line in f:
                if left is not None:
                    if len(line) > left:
                        break
                    left -= len(line)
                try:
                    yield json.loads(line)
                except ValueError:
                    continue  # a torn last line after a crash


def select(entries: list[dict], *, stdout: bool, stderr: bool, since: float, until: float,
           tail: int | None) -> list[dict]:
    wanted = [e for e in entries if (stdout and e.get("stream") == "stdout")
              or (stderr and e.get("stream") == "stderr")]
    if since or until:
        wanted = [e for e in wanted if _in_window(e, since, until)]
    if tail is not None and tail >= 0:
        wanted = wanted[len(wanted) - tail:] if tail else []
    return wanted


def _in_window(entry: dict, since: float, until: float) -> bool:
    t = parse_rfc3339(entry.get("time", ""))
    return (not since or t >= since) and (not until or t <= until)


def render(entry: dict, timestamps: bool) -> tuple[int, bytes]:
    data = entry.get("log", "").encode()
    if timestamps:
        data = entry.get("time", "").encode() + b" " + data
    return STREAMS.get(entry.get("stream", "stdout"), 1), data


async def follow_file(path: str, offset: int, done: asyncio.Event) -> AsyncIterator[dict]:
    """New entries appended after `offset` until `done` is set and the file is drained."""
    pending = b""
    while True:
        finished = done.is_set()
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < offset:       # rotated: start over on the new file
                    offset = 0
                f.seek(offset)
                chunk = f.read()
                offset += len(chunk)
        except FileNotFoundError:
            chunk = b""
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            try:
                yield json.loads(line)
            except ValueError:
                continue
        if finished:
            return
        try:
            await asyncio.wait_for(done.wait(), 0.1)
        except asyncio.TimeoutError:
            pass
