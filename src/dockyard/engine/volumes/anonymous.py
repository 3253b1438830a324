"""Anonymous volumes: the paths where a container gets one (the image's VOLUME, `-v /path`
and a lone path in HostConfig.Binds) that none of its own mounts takes; each becomes a
volume with a random 64-hex name (volumemounts.claim)."""
from __future__ import annotations

import posixpath
from typing import Any


def paths(host_config: dict[str, Any], config: dict[str, Any], covered: set[str]
          ) -> list[str]:
    """Paths of anonymous volumes that no mount's destination in `covered` takes."""
    wanted = list((config.get("Volumes") or {}).keys())
    wanted += [b for b in host_config.get("Binds") or [] if ":" not in str(b)]
    return [p for p in dict.fromkeys(posixpath.normpath(str(p)) for p in wanted)
            if p.startswith("/") and p not in covered]
