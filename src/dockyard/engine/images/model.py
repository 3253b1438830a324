"""What the image service hands out: a resolved image."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def short_id(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


@dataclass
class Image:
    """A resolved image: its ID, OCI/Docker config and local record."""
    id: str
    config: dict[str, Any]
    record: dict[str, Any]
    repo_tags: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)

    @property
    def short_id(self) -> str:
        return short_id(self.id)

    @property
    def size(self) -> int:
        return int(self.record.get("size", 0))

    @property
    def created(self) -> str:
        return self.config.get("created") or self.record.get("created") or ""

    @property
    def parent(self) -> str:
        return self.record.get("parent", "")

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def chain_ids(self) -> list[str]:
        return list(self.record.get("chain_ids") or [])

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.config.get("config") or {}).get("Labels") or {})
