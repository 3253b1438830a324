"""cgroup v1: one hierarchy per controller under /sys/fs/cgroup/<controller>."""
from __future__ import annotations

import os
from typing import Any

from . import cpu, cpuset, devices, freezer, memory, pids
from .base import CgroupManager, retry_while_parent_vanishes

_APPLY = {"memory": memory.apply_v1, "cpu": cpu.apply_v1, "cpuset": cpuset.apply_v1,
          "pids": pids.apply_v1, "devices": devices.apply_v1}


def hierarchies() -> dict[str, str]:
    """Controller name → mount point, from /proc/self/mounts (v1 cgroup mounts only)."""
    found: dict[str, str] = {}
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 4 or parts[2] != "cgroup":
                continue
            for option in parts[3].split(","):
                if option in ("rw", "ro", "relatime", "nosuid", "nodev", "noexec"):
                    continue
                found[option.removeprefix("name=")] = parts[1]
    return found


class V1Manager(CgroupManager):
    def directories(self) -> dict[str, str]:
        return {name: os.path.join(mount, self.path.lstrip("/"))
                for name, mount in hierarchies().items()}

    def create(self, resources: dict[str, Any]) -> None:
        for name, directory in self.directories().items():
            retry_while_parent_vanishes(lambda: self._make(name, directory))
        try:
            self.update(resources)
        except BaseException:
            self.destroy()
            raise

    @staticmethod
    def _make(name: str, directory: str) -> None:
        parent = os.path.dirname(directory)
        if name == "cpuset" and not os.path.isdir(parent):
            os.makedirs(parent, exist_ok=True)
            cpuset.inherit_v1(parent)
        os.makedirs(directory, exist_ok=True)

    def update(self, resources: dict[str, Any]) -> None:
        dirs = self.directories()
        for name, apply in _APPLY.items():
            if name in dirs:
                apply(dirs[name], resources)

    def freeze(self, frozen: bool) -> None:
        freezer.set_frozen_v1(self.directories()["freezer"], frozen)

    def pids(self) -> list[int]:
        directory = self.directories().get("pids") or self.directories()["memory"]
        with open(os.path.join(directory, "cgroup.procs")) as f:
            return [int(p) for p in f.read().split()]

    def mounts(self) -> list[tuple[str, str]]:
        """(name under /sys/fs/cgroup, host dir) pairs to bind into the container."""
        result = []
        for mount in sorted(set(hierarchies().values())):
            result.append((os.path.basename(mount), os.path.join(mount, self.path.lstrip("/"))))
        return result
