"""/proc/self/mountinfo read as the kernel writes it: which mount holds a path and what
propagation it has (the optional fields `shared:N`, `master:N`)."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Mount:
    point: str
    optional: tuple[str, ...]       # e.g. ("shared:1",), ("master:3",), ()

    @property
    def shared(self) -> bool:
        return any(f.startswith("shared:") for f in self.optional)

    @property
    def slave(self) -> bool:
        return any(f.startswith("master:") for f in self.optional)


def _unescape(text: str) -> str:
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n") \
        .replace("\\134", "\\")


def mounts() -> list[Mount]:
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            end = fields.index("-")
            found.append(Mount(_unescape(fields[4]), tuple(fields[6:end])))
    return found


def is_mount_point(path: str) -> bool:
    return any(m.point == path for m in mounts())


def holding(path: str) -> Mount:
    """The mount `path` (symlinks resolved) lives on: the last mounted of the longest
    matching mount point, as the kernel resolves it."""
    path = os.path.realpath(path)
    best: Mount | None = None
    for mount in mounts():
        point = mount.point
        if path == point or path.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) >= len(best.point):
                best = mount
    assert best is not None     # "/" holds everything
    return best
