"""The image service: resolve, list, inspect, history, tag, rmi, prune, import, load, save,
and the containers' writable layers, with Docker's rules and error texts.

One job per module, all over the shared state in `records.ImageRecords` (stores, lock,
lookup, naming, recording, garbage collection):

- query.py: list with filters, inspect, history
- delete.py: rmi's conflict rules, prune
- ingest.py: import, commit's and build's images, pulled and pushed records
- archives.py: save, load
- layers.py: the containers' writable layers (`ImageService.layers`)

Storage itself is the small services in dockyard.store: content (config blobs, layer tars),
metadata (records, references) and the overlay snapshotter (unpacked layers).
"""
from __future__ import annotations

from typing import Any

from . import archives, delete, ingest, layers, query
from .model import Image
from .records import ContainersUsing, ImageRecords

__all__ = ["ContainersUsing", "Image", "ImageService"]


class ImageService(ImageRecords):
    """The operations the API, distribution, commit and the container service call, each
    defined in the module of its job; `layers` is the containers' writable layers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.layers = layers.WritableLayers(self)

    list = query.list_images
    inspect = query.inspect
    history = query.history
    remove = delete.remove
    prune = delete.prune
    import_image = ingest.import_image
    create_image = ingest.create_image
    add_pulled = ingest.add_pulled
    add_repo_digest = ingest.add_repo_digest
    save = archives.save
    load = archives.load
    load_iter = archives.load_iter
