"""Image metadata: references (repositories.json) and per-image records, written atomically.

Blobs and layers are always written before the metadata that names them, so a crash at any
moment leaves at worst an unreferenced blob, never a reference to something missing."""
from __future__ import annotations

import json
import os
import shutil
from typing import Any

from ..linux import atomic


class MetadataStore:
    def __init__(self, root: str) -> None:
        self.dir = os.path.join(root, "image")
        self.images_dir = os.path.join(self.dir, "images")
        os.makedirs(self.images_dir, mode=0o700, exist_ok=True)
        for name in os.listdir(self.dir):  # an archive load interrupted by a crash
            if name.startswith(".load-"):
                shutil.rmtree(os.path.join(self.dir, name), ignore_errors=True)
        self.refs_file = os.path.join(self.dir, "repositories.json")
        self.refs: dict[str, str] = self._load_refs()
        self.images: dict[str, dict[str, Any]] = self._load_images()

    def _load_refs(self) -> dict[str, str]:
        try:
            with open(self.refs_file, "rb") as f:
                return dict(json.load(f).get("refs", {}))
        except FileNotFoundError:
            return {}

    def _load_images(self) -> dict[str, dict[str, Any]]:
        images = {}
        for name in os.listdir(self.images_dir):
            if not name.endswith(".json") or name.startswith("."):
                continue  # leftover temp files from a crash are ignored
            with open(os.path.join(self.images_dir, name), "rb") as f:
                record = json.load(f)
            images[record["id"]] = record
        return images

    def save_refs(self) -> None:
        atomic.write_json(self.refs_file, {"refs": self.refs})

    def put_image(self, record: dict[str, Any]) -> None:
        atomic.write_json(os.path.join(self.images_dir, record["id"].split(":")[1] + ".json"),
                          record)
        self.images[record["id"]] = record

    def delete_image(self, image_id: str) -> None:
        try:
            os.unlink(os.path.join(self.images_dir, image_id.split(":")[1] + ".json"))
        except FileNotFoundError:
            pass
        self.images.pop(image_id, None)
