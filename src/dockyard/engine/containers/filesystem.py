"""A container's filesystem seen from outside: changes against its image, and export."""
from __future__ import annotations

import os
import stat
import tarfile
from typing import Any, Iterator

from ...linux import syscalls
from .service import ContainerService

KIND_MODIFIED, KIND_ADDED, KIND_DELETED = 0, 1, 2
# Mount points the runtime creates for bind-mounted files. New containers have them in
# their init layer (store/initlayer.py); this hides them in containers made before that.
_MOUNT_TARGETS = {"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}


def _in_lower(lowerdirs: list[str], rel: str) -> bool:
    for lower in lowerdirs:
        if os.path.lexists(os.path.join(lower, rel)):
            return True
    return False


def diff(service: ContainerService, ref: str) -> list[dict[str, Any]]:
    """Docker's changes list: walk the overlay upper dir; a whiteout is a deletion, a path
    the image also has is a change, anything else was added."""
    container = service.get(ref)
    overlay = service.layers.prepare(container.id, container.record["Image"])
    changes = []
    for root, dirs, files in os.walk(overlay.upperdir):
        for name in sorted(dirs + files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, overlay.upperdir)
            st = os.lstat(full)
            path = "/" + rel
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                changes.append({"Path": path, "Kind": KIND_DELETED})
            elif _in_lower(overlay.lowerdirs, rel):
                changes.append({"Path": path, "Kind": KIND_MODIFIED})
            elif not (path in _MOUNT_TARGETS and st.st_size == 0):
                changes.append({"Path": path, "Kind": KIND_ADDED})
    changes.sort(key=lambda c: c["Path"])
    return changes


class _Chunks:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def export(service: ContainerService, ref: str) -> Iterator[bytes]:
    """The container's merged filesystem as a tar stream (mounted for the occasion when the
    container is not running)."""
    container = service.get(ref)
    rootfs = container.rootfs
    mounted_here = False
    if not os.path.ismount(rootfs):
        overlay = service.layers.prepare(container.id, container.record["Image"])
        syscalls.mount("overlay", rootfs, "overlay", syscalls.MS_RDONLY, overlay.options())
        mounted_here = True
    service.emit(container, "export")

    def generate() -> Iterator[bytes]:
        sink = _Chunks()
        try:
            with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for root, dirs, files in os.walk(rootfs):
                    dirs.sort()
                    for name in sorted(dirs) + sorted(files):
                        full = os.path.join(root, name)
                        arcname = os.path.relpath(full, rootfs)
                        tar.add(full, arcname=arcname, recursive=False)
                        if len(sink.parts) > 16:
                            yield sink.take()
            yield sink.take()
        finally:
            if mounted_here:
                syscalls.umount(rootfs, syscalls.MNT_DETACH)

    return generate()
