"""What a crash leaves of a container create or rm, removed when the daemon starts.

A container exists once its record (config.v2.json) does: create writes it last and rm
deletes it first. So a container directory without a record, and a writable layer whose
container has no directory, are what an interrupted create or rm left, and nothing names
them. A directory whose record is there but unreadable is kept (`system check` reports it).
"""
from __future__ import annotations

import logging
import os
import shutil

from ...linux import atomic, syscalls
from ..images.layers import WritableLayers
from .model import RECORD_FILE

log = logging.getLogger(__name__)


def remove_unrecorded(root: str, layers: WritableLayers) -> None:
    """Under `root` (the containers directory): directories without a record and temp
    files of interrupted record writes go; then the writable layers of no container."""
    for cid in os.listdir(root):
        directory = os.path.join(root, cid)
        if not os.path.isdir(directory):
            continue
        if os.path.exists(os.path.join(directory, RECORD_FILE)):
            atomic.remove_temp_entries(directory)
            continue
        log.warning("repaired: removed container directory %s: it has no record (its create "
                    "or removal was interrupted)", cid[:12])
        rootfs = os.path.join(directory, "bundle", "rootfs")
        if os.path.ismount(rootfs):
            syscalls.umount(rootfs, syscalls.MNT_DETACH)
        shutil.rmtree(directory, ignore_errors=True)
    layers.remove_orphans(set(os.listdir(root)))

