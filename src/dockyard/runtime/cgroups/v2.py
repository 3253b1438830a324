"""cgroup v2: a single unified hierarchy; controllers are enabled down the tree."""
from __future__ import annotations

import os
from typing import Any

from . import cpu, cpuset, freezer, memory, pids
from .base import CgroupManager, retry_while_parent_vanishes, write

ROOT = "/sys/fs/cgroup"
_WANTED = ("cpu", "cpuset", "memory", "pids", "io")


class V2Manager(CgroupManager):
    def __init__(self, cgroups_path: str, root: str = ROOT) -> None:
        super().__init__(cgroups_path)
        self.root = root

    def directories(self) -> dict[str, str]:
        return {"unified": os.path.join(self.root, self.path.lstrip("/"))}

    def create(self, resources: dict[str, Any]) -> None:
        with open(os.path.join(self.root, "cgroup.controllers")) as f:
            available = set(f.read().split())
        enable = " ".join(f"+{c}" for c in _WANTED if c in available)
        retry_while_parent_vanishes(lambda: self._make(enable))
        try:
            self.update(resources)
        except BaseException:
            self.destroy()
            raise

    def _make(self, enable: str) -> None:
        current = self.root
        for part in self.path.strip("/").split("/"):
            if enable:
                try:
                    write(current, "cgroup.subtree_control", enable)
                except OSError:
                    pass
            current = os.path.join(current, part)
            os.makedirs(current, exist_ok=True)

    def update(self, resources: dict[str, Any]) -> None:
        directory = self.directories()["unified"]
        for apply in (memory.apply_v2, cpu.apply_v2, cpuset.apply_v2, pids.apply_v2):
            apply(directory, resources)

    def freeze(self, frozen: bool) -> None:
        freezer.set_frozen_v2(self.directories()["unified"], frozen)
