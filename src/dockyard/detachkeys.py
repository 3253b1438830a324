"""Detach keys (`--detach-keys`, `detachKeys`): Docker's "ctrl-p,ctrl-q" notation and the
scanner that spots the sequence in a stdin stream. Shared by the daemon (attach and exec
streams with a TTY) and the CLI (which, like the docker CLI, also watches its own input)."""
from __future__ import annotations

from .errors import InvalidParameter

DEFAULT = "ctrl-p,ctrl-q"
_CTRL_PUNCT = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse(spec: str) -> bytes:
    """Raises ValueError with Docker's message for a bad sequence."""
    out = bytearray()
    for key in spec.split(","):
        lowered = key.lower()
        if len(key) == 1:
            out.append(ord(key))
        elif lowered.startswith("ctrl-") and len(key) == 6:
            char = lowered[5]
            if "a" <= char <= "z":
                out.append(ord(char) - ord("a") + 1)
            elif char in _CTRL_PUNCT:
                out.append(_CTRL_PUNCT[char])
            else:
                raise ValueError(f"Unknown character: '{key[5]}'")
        else:
            raise ValueError(f"Unknown character: '{key}'")
    if not out:
        raise ValueError("Unknown character: ''")
    return bytes(out)


def checked(spec: str | None) -> bytes:
    """The daemon's parse: the default for none, Docker's 400 for a bad one."""
    try:
        return parse(spec or DEFAULT)
    except ValueError:
        raise InvalidParameter(f"Invalid detach keys ({spec}) provided") from None


class Scanner:
    """Passes input through, holding back a partial match of the sequence (as Docker does:
    a lone Ctrl-P waits for the next key), and reports a full match."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = bytearray()

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to forward, whether the sequence was completed). Bytes after a completed
        sequence are dropped: the stream ends there."""
        out = bytearray()
        for byte in data:
            if byte != self.keys[len(self.held)]:
                out += self.held
                self.held.clear()
                if byte != self.keys[0]:
                    out.append(byte)
                    continue
            self.held.append(byte)
            if len(self.held) == len(self.keys):
                self.held.clear()
                return bytes(out), True
        return bytes(out), False

    def flush(self) -> bytes:
        held, self.held = bytes(self.held), bytearray()
        return held
