"""Which cgroup hierarchy the host mounts: asked once, answered everywhere the same."""
from __future__ import annotations

import functools
import os

ROOT = "/sys/fs/cgroup"


@functools.cache
def unified() -> bool:
    """cgroup v2 (the unified hierarchy) is mounted at /sys/fs/cgroup."""
    return os.path.exists(os.path.join(ROOT, "cgroup.controllers"))
