"""Docker's go-units, shared by the daemon (ps Status text) and the CLI (tables)."""
from __future__ import annotations


_DECIMAL_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]


def human_size(size: float, precision: int = 3) -> str:
    """units.HumanSizeWithPrecision: decimal units, `precision` significant digits
    ("4.26MB", "1.24kB", "0B"). Docker's `images` uses 3, `prune` totals 4."""
    size = float(size)
    i = 0
    while size >= 1000.0 and i < len(_DECIMAL_UNITS) - 1:
        size /= 1000.0
        i += 1
    return f"{_go_g(size, precision)}{_DECIMAL_UNITS[i]}"


def _go_g(value: float, precision: int) -> str:
    """Go's %.<precision>g (Python's %g differs only in the exponent's minimum digits,
    which both render with two)."""
    return f"{value:.{precision}g}"


def human_duration(seconds: float) -> str:
    """units.HumanDuration: "Less than a second", "1 second", "N seconds",
    "About a minute", "N minutes", "About an hour", "N hours", "N days", "N weeks",
    "N months", "N years"."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
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
    return f"{int(seconds / 3600) // 24 // 365} years"


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


def parse_human_size(text: str) -> int:
    """units.FromHumanSize: decimal multiples ("10m" is 10,000,000; "1.5k", "20MB")."""
    import re

    match = re.fullmatch(r"(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?", text.strip())
    if not match:
        raise ValueError(f"invalid size: '{text}'")
    scale = 1000 ** (" kmgtp".index(match.group(2).lower()) if match.group(2) else 0)
    return int(float(match.group(1)) * scale)
