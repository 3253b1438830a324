"""Crash-safe file writes: temp file in the same directory, fsync, rename, fsync the directory."""
from __future__ import annotations

import json
import os
from typing import Any


def write_bytes(path: str, data: bytes, mode: int = 0o600) -> None:
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".tmp-{os.path.basename(path)}-{os.getpid()}-{id(data)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    fsync_dir(directory)


def write_json(path: str, obj: Any, mode: int = 0o600) -> None:
    write_bytes(path, json.dumps(obj, separators=(",", ":")).encode(), mode)


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
