"""Docker's timestamp formats (Go's RFC3339Nano) and its human durations: shared by the
engine, the API and the CLI, so it sits at the bottom (it imports only errors)."""
from __future__ import annotations

import datetime
import math
import re
import time

from .errors import InvalidParameter

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


_RFC3339 = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
                      r"(Z|z|[+-]\d\d:?\d\d)?$")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def rfc3339_ns(value: str | None) -> int:
    """Nanoseconds since the epoch of an RFC3339(Nano) timestamp; 0 when it is absent,
    invalid or Go's zero time (what image configs and container records hold)."""
    match = _RFC3339.match(value.strip()) if value else None
    if not match:
        return 0
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute),
                                   int(second), tzinfo=datetime.timezone.utc)
    except ValueError:
        return 0
    offset = 0
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    seconds = (moment - _EPOCH) // datetime.timedelta(seconds=1) - offset
    if seconds < 0:
        return 0
    return seconds * 1_000_000_000 + int((fraction or "0")[:9].ljust(9, "0"))


def parse_rfc3339(value: str) -> float:
    """Seconds since the epoch for an RFC3339(Nano) timestamp; 0 for Go's zero time."""
    return rfc3339_ns(value) / 1e9


def parse_timestamp(value: str, now: float | None = None) -> float:
    """The `since`/`until` forms Docker accepts: unix seconds (with fraction), RFC3339, or a
    Go duration relative to now such as 10m, 1h30m, 45s."""
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):      # nan and inf are no time
            raise InvalidParameter(f'failed to parse value as time or duration: "{value}"')
        return seconds
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", value)
    if parts and "".join(n + u for n, u in parts) == value:
        total = sum(float(n) * units[u] for n, u in parts)
        return (now if now is not None else time.time()) - total
    try:
        if "T" in value:
            text = value if value[-1] == "Z" or "+" in value[10:] or value.count("-") > 2 \
                else value + "Z"
            ns = rfc3339_ns(text)
            if not ns and not text.startswith("0001-01-01"):
                raise ValueError(f"invalid timestamp {value!r}")
            return ns / 1e9
        return datetime.datetime.strptime(value, "%Y-%m-%d").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except (ValueError, OverflowError):     # the docker CLI's own words for a bad value
        raise InvalidParameter(f'failed to parse value as time or duration: "{value}"'
                               ) from None
