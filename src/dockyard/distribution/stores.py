"""What distribution needs of the image service, as a typed boundary: pull writes layers
straight into the content store and the snapshotter it is handed, then records the image
through `ImageRecorder`; push reads blobs from the content store."""
from __future__ import annotations

from typing import Protocol

from ..reference import Reference


class PushableImage(Protocol):
    @property
    def diff_ids(self) -> list[str]: ...


class ImageRecorder(Protocol):
    def exists(self, ref: str) -> bool: ...

    def resolve(self, ref: str) -> PushableImage: ...

    def lease(self) -> str:
        """A lease: garbage collection keeps the layers and blobs a pull claims or writes
        under it until `end_lease`."""

    def end_lease(self, lease: str) -> None: ...

    def add_pulled(self, config_raw: bytes, chains: list[str], targets: list[Reference]
                   ) -> tuple[str, bool]: ...

    def add_repo_digest(self, image_id: str, target: Reference) -> None: ...

    def target(self, ref: Reference) -> str | None:
        """The listed image a reference names, if any."""

    def tagged(self, name: str) -> list[tuple[Reference, str]]:
        """(tag, image ID) of every listed image tagged in repository `name`."""
