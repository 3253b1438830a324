"""Docker's filter semantics shared by every list and stream that takes `filters`."""
from __future__ import annotations

from .errors import InvalidParameter


def match_kv(conditions: list[str], labels: dict[str, str]) -> bool:
    """filters.Args.MatchKVList: every `key` or `key=value` condition holds in `labels`."""
    for condition in conditions:
        key, sep, value = condition.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def check_keys(filters: dict[str, list[str]] | None, accepted: set[str]
               ) -> dict[str, list[str]]:
    """A copy of `filters`; a key the list does not know is Docker's "invalid filter"."""
    filters = {k: list(v) for k, v in (filters or {}).items()}
    for key in filters:
        if key not in accepted:
            raise InvalidParameter(f"invalid filter '{key}'")
    return filters
