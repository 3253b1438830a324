"""Reading json-file logs for `logs` and attach replay (the shim writes them)."""
from __future__ import annotations

import asyncio
import json
import os
from typing import AsyncIterator, Iterator

from ...timeutil import parse_rfc3339

STREAMS = {"stdout": 1, "stderr": 2}


def _files(path: str) -> list[str]:
    """Rotated files oldest first: path.N ... path.1 (each possibly gzipped: path.N.gz),
    then path."""
    rotated = []
    n = 1
    while True:
        name = next((c for c in (f"{path}.{n}", f"{path}.{n}.gz") if os.path.exists(c)), None)
        if name is None:
            break
        rotated.append(name)
        n += 1
    return list(reversed(rotated)) + ([path] if os.path.exists(path) else [])


def read_entries(path: str, limit: int | None = None) -> Iterator[dict]:
    """Every entry, oldest first; `limit` stops the current file at that byte offset (where
    a follower takes over, so no line is sent twice)."""
    import gzip
    import io

    for name in _files(path):
        with (gzip.open(name, "rb") if name.endswith(".gz") else open(name, "rb")) as f:
            source = io.BytesIO(f.read(limit)) if name == path and limit is not None else f
            for line in source:
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
