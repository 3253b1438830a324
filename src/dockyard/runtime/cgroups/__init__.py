"""cgroup managers for v1 (one hierarchy per controller) and v2 (unified), one module per
controller, each translating the OCI `linux.resources` section into its files."""
from __future__ import annotations

from ...linux import cgroupfs
from .base import CgroupManager


def manager(cgroups_path: str) -> CgroupManager:
    if cgroupfs.unified():
        from .v2 import V2Manager
        return V2Manager(cgroups_path)
    from .v1 import V1Manager
    return V1Manager(cgroups_path)
