"""What every cgroup manager offers, and small file helpers shared by the controllers."""
from __future__ import annotations

import errno
import os
import time
from typing import Any, Callable

from ...errors import InvalidParameter


def write(directory: str, name: str, value: str) -> None:
    try:
        with open(os.path.join(directory, name), "w") as f:
            f.write(value)
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.EBUSY, errno.ERANGE):
            raise InvalidParameter(f"failed to write {value!r} to {name}: "
                                   f"{os.strerror(exc.errno)}") from None
        raise


def remove_dir(directory: str) -> None:
    """rmdir, retrying while the last tasks are still leaving the group."""
    for _ in range(100):
        try:
            os.rmdir(directory)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            time.sleep(0.01)


def retry_while_parent_vanishes(make: Callable[[], None]) -> None:
    """Run a cgroup mkdir sequence again when it fails with ENOENT/ENODEV: the shared parent group
    (`dockyard`) is removed by whoever finds it empty (another daemon's clean-up), and that
    can land between its mkdir and the child's."""
    for attempt in range(20):
        try:
            make()
            return
        except OSError as exc:   # ENODEV: a write into the group as it went
            if exc.errno not in (errno.ENOENT, errno.ENODEV) or attempt == 19:
                raise


class CgroupManager:
    def __init__(self, cgroups_path: str) -> None:
        self.path = "/" + cgroups_path.strip("/")

    def directories(self) -> dict[str, str]:
        """Controller (or "unified") → host directory of this container's cgroup."""
        raise NotImplementedError

    def create(self, resources: dict[str, Any]) -> None:
        raise NotImplementedError

    def join_self(self) -> None:
        """Move the calling process in (safe in a forked child: plain writes only)."""
        for directory in set(self.directories().values()):
            with open(os.path.join(directory, "cgroup.procs"), "w") as f:
                f.write("0")

    def update(self, resources: dict[str, Any]) -> None:
        """Apply `linux.resources` to an existing group (live, for `docker update`)."""
        raise NotImplementedError

    def freeze(self, frozen: bool) -> None:
        raise NotImplementedError

    def pids(self) -> list[int]:
        """Every process in the container's cgroup (host pids)."""
        directory = next(iter(self.directories().values()))
        with open(os.path.join(directory, "cgroup.procs")) as f:
            return [int(p) for p in f.read().split()]

    def destroy(self) -> None:
        for directory in set(self.directories().values()):
            remove_dir(directory)
