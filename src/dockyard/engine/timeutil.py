"""Docker's timestamp formats (Go's RFC3339Nano) and its human durations."""
from __future__ import annotations

import datetime
import time

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339nano(ns: int | None = None) -> str:
    """Go's time.RFC3339Nano in UTC: trailing zeros of the fraction trimmed."""
    if ns is None:
        ns = time.time_ns()
    seconds, frac = divmod(ns, 1_000_000_000)
    base = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S")
    fraction = f"{frac:09d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def parse_rfc3339(value: str) -> float:
    """Seconds since the epoch for an RFC3339(Nano) timestamp; 0 for Go's zero time."""
    if not value or value.startswith("0001-01-01"):
        return 0.0
    main, _, rest = value.partition(".")
    if rest:
        digits = ""
        for ch in rest:
            if not ch.isdigit():
                break
            digits += ch
        tz = rest[len(digits):]
    else:
        digits, tz = "", value[19:]
        main = value[:19]
    dt = datetime.datetime.strptime(main, "%Y-%m-%dT%H:%M:%S")
    offset = 0
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        hours, minutes = tz[1:].split(":")
        offset = sign * (int(hours) * 3600 + int(minutes) * 60)
    epoch = dt.replace(tzinfo=datetime.timezone.utc).timestamp() - offset
    return epoch + (int(digits[:9].ljust(9, "0")) / 1e9 if digits else 0.0)


def parse_timestamp(value: str, now: float | None = None) -> float:
    """The `since`/`until` forms Docker accepts: unix seconds (with fraction), RFC3339, or a
    Go duration relative to now such as 10m, 1h30m, 45s."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    import re
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", value)
    if parts and "".join(n + u for n, u in parts) == value:
        total = sum(float(n) * units[u] for n, u in parts)
        return (now if now is not None else time.time()) - total
    if "T" in value:
        return parse_rfc3339(value if value[-1] == "Z" or "+" in value[10:]
                             or value.count("-") > 2 else value + "Z")
    return datetime.datetime.strptime(value, "%Y-%m-%d").replace(
        tzinfo=datetime.timezone.utc).timestamp()
