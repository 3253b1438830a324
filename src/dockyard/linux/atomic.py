"""Crash-safe file writes: temp file in the same directory, fsync, rename, fsync the directory.

Every temp entry the daemon makes in its data root is named `.tmp-<pid>-...` (`temp_name`), so
a store check run by the live daemon can tell its own writes in flight (its pid) from what an
earlier, killed daemon left behind; start-up removes every `.tmp-` entry.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from typing import Any

log = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"


def temp_name(tag: str = "") -> str:
    """A temp entry name owned by this process: `.tmp-<pid>-<random>[-tag]`."""
    name = f"{TEMP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}"
    return f"{name}-{tag}" if tag else name


def temp_owner(name: str, prefix: str = TEMP_PREFIX) -> int | None:
    """The pid a temp entry's name carries, None when it carries none."""
    head = name[len(prefix):].split("-", 1)[0] if name.startswith(prefix) else ""
    return int(head) if head.isdigit() else None


def remove_temp_entries(directory: str, prefixes: tuple[str, ...] = (TEMP_PREFIX,)) -> None:
    """At start-up: remove the temp files and dirs an interrupted operation left in
    `directory`, saying so in the log."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    for name in names:
        if not name.startswith(prefixes):
            continue
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                continue
        log.warning("repaired: removed %s (left by an interrupted operation)", path)


def write_bytes(path: str, data: bytes, mode: int = 0o600) -> None:
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, temp_name(os.path.basename(path)))
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
