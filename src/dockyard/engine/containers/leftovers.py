"""What a crash leaves of a container create or rm, removed when the daemon starts.

A container exists once its record (its row in the metadata database) does: create writes
it last and rm deletes it first. So a container directory without a record, and a writable
layer whose container has no directory, are what an interrupted create or rm left, and
nothing names them. A directory that still holds a record file of the JSON layout the
migration could not read is kept (`system check` reports it).
"""
from __future__ import annotations

import logging
import os
import shutil

from ...linux import atomic, syscalls
from ..images.layers import WritableLayers
from ...store.container_records import LEGACY_RECORD

log = logging.getLogger(__name__)


def remove_unrecorded(root: str, layers: WritableLayers, recorded: set[str]) -> None:
    """Under `root` (the containers directory): directories of no record (`recorded`: the
    IDs that have one) and temp files of interrupted writes go; then the writable layers of
    no container."""
    for cid in os.listdir(root):
        directory = os.path.join(root, cid)
        if not os.path.isdir(directory):
            continue
        if cid in recorded or os.path.exists(os.path.join(directory, LEGACY_RECORD)):
            atomic.remove_temp_entries(directory)
            continue
        log.warning("repaired: removed container directory %s: it has no record (its create "
                    "or removal was interrupted)", cid[:12])
        rootfs = os.path.join(directory, "bundle", "rootfs")
        if os.path.ismount(rootfs):
            syscalls.umount(rootfs, syscalls.MNT_DETACH)
        shutil.rmtree(directory, ignore_errors=True)
    layers.remove_orphans(set(os.listdir(root)))

