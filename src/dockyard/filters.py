"""Docker's filter semantics shared by every list and stream that takes `filters`."""
from __future__ import annotations


def match_kv(conditions: list[str], labels: dict[str, str]) -> bool:
    """filters.Args.MatchKVList: every `key` or `key=value` condition holds in `labels`."""
    for condition in conditions:
        key, sep, value = condition.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True
