"""Doing things inside another network namespace without leaving the daemon's.

setns(CLONE_NEWNET) changes only the calling thread, and a socket stays in the namespace it
was created in for its whole life. So the daemon opens a container's sockets on a thread of
its own that joins the namespace, does the one job and ends: no thread of the daemon's pools
(asyncio's executor reuses its threads) is ever left in a container's namespace, and no fork
is needed (so none of the signal rules of linux/forking.py come into play).
"""
from __future__ import annotations

import os
import threading
from typing import Callable, TypeVar

from . import syscalls

T = TypeVar("T")


def open_ns(path: str) -> int:
    """An fd on the network namespace at `path` (/proc/<pid>/ns/net, /run/netns/<name>):
    holding it keeps the namespace usable even after that path is gone."""
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def run_in(ns_fd: int, job: Callable[[], T]) -> T:
    """Run `job` on a fresh thread that has joined the network namespace `ns_fd`; returns
    its result or raises its exception. Blocks until the thread ends (call it through
    asyncio.to_thread from the event loop)."""
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            syscalls.setns(ns_fd, syscalls.CLONE_NEWNET)
            result.append(job())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            error.append(exc)

    thread = threading.Thread(target=body, name="dockyard-netns", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]
