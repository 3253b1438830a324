"""Network errors in Go's words (what Docker's registry client prints), e.g.
`dial tcp 127.0.0.1:5000: connect: connection refused`."""
from __future__ import annotations

import os

import aiohttp


def describe_error(exc: BaseException | None) -> str:
    if exc is None:
        return "no endpoint"
    if isinstance(exc, aiohttp.ClientConnectorError):
        errno = exc.os_error.errno
        reason = os.strerror(errno).lower() if errno else str(exc.os_error)
        return f"dial tcp {exc.host}:{exc.port}: connect: {reason}"
    return str(exc) or exc.__class__.__name__
