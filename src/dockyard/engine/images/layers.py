"""The containers' writable layers on top of their image's layers."""
from __future__ import annotations

import logging

from ...store.snapshots import OverlayMount
from .records import ImageRecords

log = logging.getLogger(__name__)


# --- containers' writable layers ---------------------------------------------------------------
def prepare_rw(images: ImageRecords, container_id: str, image_id: str) -> OverlayMount:
    """The container's overlay: lowerdirs (topmost first), upperdir, workdir. Idempotent;
    once created it no longer depends on the image still being listed."""
    with images.lock:
        if images.snapshots.rw_info(container_id) is not None:
            return images.snapshots.prepare_rw(container_id)
        record = images.meta.images.get(image_id)
        if record is None:
            image_id = images.lookup(image_id, allow_removed=True)
            record = images.meta.images[image_id]
        return images.snapshots.prepare_rw(container_id, image_id,
                                           list(record.get("chain_ids") or []))


def remove_rw(images: ImageRecords, container_id: str) -> None:
    with images.lock:
        images.snapshots.remove_rw(container_id)
        images.collect()


def remove_orphan_rw(images: ImageRecords, containers: set[str]) -> None:
    """At start-up: drop writable layers whose container is not in `containers` (a
    create or rm was interrupted), then what only they kept."""
    with images.lock:
        orphans = [key for key in images.snapshots.list_rw() if key not in containers]
        for key in orphans:
            log.warning("repaired: removed writable layer %s: it belongs to no container",
                        key[:12])
            images.snapshots.remove_rw(key)
        if orphans:
            images.collect()
