"""The containers' writable layers (a snapshot service): each container's overlay on top of
its image's layers. The container service, cp, diff, export, commit and df use it; it
keeps the image's layers (and a hidden record of an image removed with `rmi -f`) alive
while a container sits on them."""
from __future__ import annotations

import logging

from ...linux.fsutil import disk_usage
from ...store.snapshots import OverlayMount
from .records import ImageRecords

log = logging.getLogger(__name__)


class WritableLayers:
    def __init__(self, images: ImageRecords) -> None:
        self._images = images

    def prepare(self, container_id: str, image_id: str) -> OverlayMount:
        """The container's overlay: lowerdirs (topmost first), upperdir, workdir.
        Idempotent; once created it no longer depends on the image still being listed."""
        images = self._images
        with images.lock:
            if images.snapshots.rw_info(container_id) is not None:
                return images.snapshots.prepare_rw(container_id)
            record = images.meta.images.get(image_id)
            if record is None:
                image_id = images.lookup(image_id, allow_removed=True)
                record = images.meta.images[image_id]
            return images.snapshots.prepare_rw(container_id, image_id,
                                               list(record.get("chain_ids") or []))

    def usage(self, container_id: str, image_id: str) -> int:
        """Bytes the container wrote (its upper dir): SizeRw. Blocks (walks the dir)."""
        return disk_usage(self.prepare(container_id, image_id).upperdir)

    def remove(self, container_id: str) -> None:
        """The container's layer goes, then whatever only it kept."""
        with self._images.lock:
            self._images.snapshots.remove_rw(container_id)
            self._images.collect()

    def remove_orphans(self, containers: set[str]) -> None:
        """At start-up: drop writable layers whose container is not in `containers` (a
        create or rm was interrupted), then what only they kept."""
        images = self._images
        with images.lock:
            orphans = [key for key in images.snapshots.list_rw() if key not in containers]
            for key in orphans:
                log.warning("repaired: removed writable layer %s: it belongs to no container",
                            key[:12])
                images.snapshots.remove_rw(key)
            if orphans:
                images.collect()
