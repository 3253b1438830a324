"""freezer: pause and resume every process of a container (v1 freezer.state, v2 cgroup.freeze)."""
from __future__ import annotations

import os
import time

from .base import write


def set_frozen_v1(directory: str, frozen: bool) -> None:
    want = "FROZEN" if frozen else "THAWED"
    write(directory, "freezer.state", want)
    for _ in range(500):  # FREEZING settles into FROZEN once every task stopped
        with open(os.path.join(directory, "freezer.state")) as f:
            if f.read().strip() == want:
                return
        time.sleep(0.002)
    if frozen:   # left FREEZING, its tasks would stay stopped: a kill could never finish
        write(directory, "freezer.state", "THAWED")
    raise TimeoutError(f"cgroup did not reach {want}")


def set_frozen_v2(directory: str, frozen: bool) -> None:
    write(directory, "cgroup.freeze", "1" if frozen else "0")
    for _ in range(500):
        with open(os.path.join(directory, "cgroup.events")) as f:
            if f"frozen {1 if frozen else 0}" in f.read():
                return
        time.sleep(0.002)
    if frozen:   # as for v1: a freeze that did not settle is undone
        write(directory, "cgroup.freeze", "0")
    raise TimeoutError("cgroup did not settle")
