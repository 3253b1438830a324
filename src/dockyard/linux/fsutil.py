"""Filesystem measurements."""
from __future__ import annotations

import os


def disk_usage(path: str) -> int:
    """Bytes allocated under `path` (like `du -s`), without following symlinks."""
    total = 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total
