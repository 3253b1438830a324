"""Draws a daemon's JSON progress stream as the docker CLI does (jsonmessage): on a
terminal one line per layer, redrawn in place; otherwise plain status lines."""
from __future__ import annotations

import shutil
import sys
from typing import Any, Iterable, TextIO


class StreamError(Exception):
    """An error line in the stream ({"errorDetail": {...}, "error": ...}); `code` is the
    detail's code (a failed build step's exit code), 1 without one."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _progress_text(detail: dict[str, Any], width: int) -> str:
    from ..distribution.progress import bar

    return bar(int(detail.get("current") or 0), int(detail.get("total") or 0),
               float(detail.get("start") or 0), width=width)


def _line(message: dict[str, Any], tty: bool, width: int) -> str | None:
    detail = message.get("progressDetail")
    text = _progress_text(detail, width) if isinstance(detail, dict) else ""
    if not tty and text:
        return None                   # no bars off a terminal
    prefix = f"{message['id']}: " if message.get("id") else ""
    if tty and detail is not None:
        return f"\x1b[2K\r{prefix}{message.get('status', '')} {text}\r"
    if message.get("stream"):
        return prefix + message["stream"]
    return f"{prefix}{message.get('status', '')}\n"


def display(messages: Iterable[dict[str, Any]], out: TextIO | None = None,
            tty: bool | None = None) -> list[dict[str, Any]]:
    """Render the stream; returns the aux objects; raises StreamError on an error line."""
    out = out or sys.stdout
    tty = out.isatty() if tty is None else tty
    width = shutil.get_terminal_size((200, 24)).columns if tty else 200
    lines: dict[str, int] = {}
    aux = []
    for message in messages:
        if message.get("errorDetail") or message.get("error"):
            detail = message.get("errorDetail") or {}
            code = detail.get("code")
            raise StreamError(detail.get("message") or message.get("error") or "",
                              code if isinstance(code, int) and code > 0 else 1)
        if "aux" in message:
            aux.append(message["aux"])
            continue
        rendered = _line(message, tty, width)
        ident = message.get("id")
        diff = 0
        if ident and message.get("progressDetail") is not None:
            if ident not in lines:
                lines[ident] = len(lines)
                if tty:
                    out.write("\n")
            diff = len(lines) - lines[ident]
            if tty:
                out.write(f"\x1b[{diff}A")
        else:
            lines = {}
        if rendered is not None:
            out.write(rendered)
        if tty and diff:
            out.write(f"\x1b[{diff}B")
        out.flush()
    return aux
