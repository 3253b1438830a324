"""Docker's go-units, shared by the daemon (ps Status text) and the CLI (tables)."""
from __future__ import annotations


def human_duration(seconds: float) -> str:
    """units.HumanDuration: "Less than a second", "About a minute", "3 weeks", ..."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def human_size(size: float, precision: int = 3) -> str:
    """units.HumanSizeWithPrecision: decimal units, `precision` significant digits."""
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000.0
        i += 1
    text = f"{size:.{precision}g}"
    if "e" in text:
        text = f"{size:.0f}"
    return f"{text}{units[i]}"


def bytes_size(size: float) -> str:
    """units.BytesSize: binary units, 4 significant digits ("1.5MiB", "23.42GiB")."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    i = 0
    while size >= 1024 and i < len(units) - 1:
        size /= 1024.0
        i += 1
    return f"{size:.4g}{units[i]}"


def parse_bytes(text: str) -> int:
    """units.RAMInBytes: "512m", "1g", "100k", "2048" (binary multiples, as docker -m uses)."""
    value = text.strip().lower()
    multipliers = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4,
                   "p": 1024 ** 5}
    number = value.rstrip("bkmgtpi")
    suffix = value[len(number):].rstrip("ib") or "b"
    if value.endswith("b") and suffix == "b" and len(value) > len(number) + 1:
        suffix = value[len(number)]
    try:
        amount = float(number)
    except ValueError:
        raise ValueError(f"invalid size: '{text}'") from None
    if suffix not in multipliers or amount < 0:
        raise ValueError(f"invalid size: '{text}'")
    return int(amount * multipliers[suffix])


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration ("30s", "1m30s", "500ms", "2h") in nanoseconds."""
    import re

    units = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
             "m": 60_000_000_000, "h": 3_600_000_000_000}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        if text == "0":
            return 0
        raise ValueError(f'time: invalid duration "{text}"')
    return int(sum(float(n) * units[u] for n, u in parts))
