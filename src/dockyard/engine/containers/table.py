"""The daemon's containers by ID: owned by the container service, read by the image
service (rmi's and prune's "is this image in use") from its worker threads."""
from __future__ import annotations

from .model import Container


class ContainerTable(dict[str, Container]):
    def using_image(self, image_id: str) -> list[tuple[str, bool]]:
        """(container ID, running) of every container of the image. Safe from any thread:
        the values are copied in one step (no Python code runs during the copy, so the
        event loop cannot change the table under it)."""
        return [(c.id, c.running) for c in tuple(self.values())
                if c.record["Image"] == image_id]
