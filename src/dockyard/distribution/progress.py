"""Docker's JSON progress messages (pkg/jsonmessage), as pull and push stream them."""
from __future__ import annotations

import time
from typing import Any

from ..units import human_size


def short_id(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def status(text: str, id: str | None = None, layer: bool = True) -> dict[str, Any]:
    """A plain line ("Digest: ..."), a per-layer one ("abc: Pull complete", with an empty
    progressDetail so clients redraw it in place) or a titled one ("latest: Pulling...")."""
    msg: dict[str, Any] = {"status": text}
    if id is not None:
        if layer:
            msg["progressDetail"] = {}
        msg["id"] = id
    return msg


def progress(text: str, id: str, current: int, total: int, start: float) -> dict[str, Any]:
    """A progress line: progressDetail for clients that draw their own bar, and the
    daemon-side bar text JSONProgress.String() renders at its default width."""
    detail = {"current": current, "total": total} if total > 0 else {"current": current}
    return {"status": text, "progressDetail": detail, "progress": bar(current, total, start),
            "id": id}


def bar(current: int, total: int, start: float, now: float | None = None,
        width: int = 200) -> str:
    """JSONProgress.String(): the bar (over 110 columns), sizes, time left (over 50)."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current, 4):>8}"
    percentage = min(int(current / total * 100) // 2, 50)
    box = f"[{'=' * percentage}>{' ' * (50 - percentage)}] " if width > 110 else ""
    numbers = f"{human_size(current, 4):>8}/{human_size(total, 4)}"
    if current > total:
        numbers = f"{human_size(current, 4):>8}"
    left = ""
    if current > 0 and start > 0 and percentage < 50 and width > 50:
        elapsed = (now or time.time()) - start
        remaining = int(elapsed / current * (total - current))
        left = " " + _go_duration(remaining)
    return box + numbers + left


def _go_duration(seconds: int) -> str:
    """time.Duration.String() of whole seconds: 0s, 5s, 1m30s, 2h0m5s."""
    if seconds <= 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def error(message: str) -> dict[str, Any]:
    return {"errorDetail": {"message": message}, "error": message}


class Throttle:
    """Limits progress lines per layer to about ten a second (plus the final one)."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.last = 0.0

    def due(self, final: bool = False) -> bool:
        now = time.monotonic()
        if final or now - self.last >= self.interval:
            self.last = now
            return True
        return False
