"""Reading a container's log for `logs` and attach's replay (the monitor writes it, as
json-file lines, for both the json-file and the local driver)."""
from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from typing import AsyncIterator, Iterator

from ...errors import NotImplemented_
from ...timeutil import parse_rfc3339
from .logconfig import log_file
from .model import Container

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
        try:
            f = gzip.open(name, "rb") if name.endswith(".gz") else open(name, "rb")
        except FileNotFoundError:   # rotated away, or the container removed meanwhile
            continue
        with f:
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


@dataclass(frozen=True)
class LogQuery:
    """GET /containers/{id}/logs's options, parsed."""
    stdout: bool
    stderr: bool
    since: float = 0.0
    until: float = 0.0
    tail: int | None = None
    timestamps: bool = False
    follow: bool = False


def frames(container: Container, query: LogQuery) -> AsyncIterator[tuple[int, bytes]]:
    """(stream, data) of the entries the query selects, then, when following a running
    container, new ones until it exits. Raises before anything is read when the driver
    keeps no readable log."""
    path = log_file(container.record, container.dir)
    if not path:
        raise NotImplemented_("configured logging driver does not support reading")
    return _frames(container, path, query)


async def _frames(container: Container, path: str, query: LogQuery
                  ) -> AsyncIterator[tuple[int, bytes]]:
    follow = query.follow and container.running
    try:
        offset = os.path.getsize(path)
    except FileNotFoundError:       # nothing logged yet, or the container is being removed
        offset = 0
    entries = await asyncio.to_thread(lambda: list(read_entries(path, offset)))
    for entry in select(entries, stdout=query.stdout, stderr=query.stderr, since=query.since,
                        until=query.until, tail=query.tail):
        yield render(entry, query.timestamps)
    if follow:
        async for entry in follow_file(path, offset, container.exit_event):
            if select([entry], stdout=query.stdout, stderr=query.stderr, since=query.since,
                      until=query.until, tail=None):
                yield render(entry, query.timestamps)


def replay(container: Container, stdout: bool, stderr: bool) -> list[tuple[int, bytes]]:
    """attach's `logs=1`: everything logged so far, as (stream, data). Blocks."""
    path = log_file(container.record, container.dir)
    if not path:
        return []
    return [render(entry, False) for entry in
            select(list(read_entries(path)), stdout=stdout, stderr=stderr, since=0, until=0,
                   tail=None)]
