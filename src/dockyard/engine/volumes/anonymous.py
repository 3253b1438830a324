"""Anonymous volumes as they are until the volume service exists: the image's VOLUME paths
and `-v /path` without a source become directories of the container's root filesystem."""
from __future__ import annotations

import os
import posixpath
from typing import Any

from ...linux.securejoin import secure_join


def paths(host_config: dict[str, Any], config: dict[str, Any], covered: set[str]
          ) -> list[str]:
    """Paths of anonymous volumes (the image's VOLUME, `-v /path`) that no mount's
    destination in `covered` takes."""
    wanted = list((config.get("Volumes") or {}).keys())
    wanted += [b for b in host_config.get("Binds") or [] if ":" not in str(b)]
    return [p for p in dict.fromkeys(posixpath.normpath(str(p)) for p in wanted)
            if p.startswith("/") and p not in covered]


def make_directories(rootfs: str, paths: list[str]) -> None:
    """Make each path a directory of the (mounted, not yet running) rootfs, resolved inside
    it so a symlink in the image cannot point the mkdir at the host."""
    for path in paths:
        target = secure_join(rootfs, path)
        if not os.path.lexists(target):
            os.makedirs(target, mode=0o755, exist_ok=True)
