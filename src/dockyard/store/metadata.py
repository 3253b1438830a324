"""Image metadata: the reference store (image/repositories.json) and one record per image
(image/images/<hex>.json).

repositories.json has Docker's layout, {"Repositories": {"busybox": {"busybox:latest":
"sha256:..."}}}, and is rewritten whole, atomically, on every change. A record holds what
the config blob does not: chain IDs, size, parent, last tag time. Every write is temp file +
fsync + rename + directory fsync, so a reader sees the old or the new file, never a torn one;
temp files a crash leaves behind start with '.' and are ignored and removed. The image
service writes blobs and layers before the record, and the record before the references,
so nothing on disk ever names something missing.
"""
from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

from .. import reference
from ..errors import InvalidParameter
from ..linux import atomic

log = logging.getLogger(__name__)
_RECORD_NAME = re.compile(r"^([a-f0-9]{64})\.json$")


class MetadataStore:
    def __init__(self, data_root: str) -> None:
        self.dir = os.path.join(data_root, "image")
        self.images_dir = os.path.join(self.dir, "images")
        self.refs_file = os.path.join(self.dir, "repositories.json")
        os.makedirs(self.images_dir, mode=0o700, exist_ok=True)
        for directory in (self.dir, self.images_dir):
            atomic.remove_temp_entries(directory)       # atomic writes cut short
        self.images: dict[str, dict[str, Any]] = self._load_images()
        self.refs: dict[str, str] = self._load_refs()      # full reference -> image ID

    # --- loading --------------------------------------------------------------------------------
    def _load_images(self) -> dict[str, dict[str, Any]]:
        images = {}
        for name in os.listdir(self.images_dir):
            match = _RECORD_NAME.match(name)
            if not match:
                continue
            try:
                with open(os.path.join(self.images_dir, name), "rb") as f:
                    record = json.load(f)
            except (OSError, ValueError) as exc:
                log.warning("ignoring unreadable image record %s: %s", name, exc)
                continue
            if record.get("id") != f"sha256:{match.group(1)}":
                log.warning("ignoring image record %s: wrong id", name)
                continue
            images[record["id"]] = record
        return images

    def _load_refs(self) -> dict[str, str]:
        try:
            with open(self.refs_file, "rb") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            log.warning("ignoring unreadable %s: %s", self.refs_file, exc)
            return {}
        flat: dict[str, str] = {}
        if isinstance(data.get("Repositories"), dict):
            for refs in data["Repositories"].values():
                flat.update(refs)
        if isinstance(data.get("refs"), dict):        # an earlier layout of this file
            flat.update(data["refs"])
        refs = {}
        for text, image_id in flat.items():
            try:
                refs[str(reference.parse_normalized_named(text))] = image_id
            except InvalidParameter:
                log.warning("ignoring invalid reference %r in %s", text, self.refs_file)
        return refs

    # --- references -----------------------------------------------------------------------------
    def save_refs(self) -> None:
        repositories: dict[str, dict[str, str]] = {}
        for text in sorted(self.refs):
            ref = reference.parse_normalized_named(text)
            repositories.setdefault(ref.familiar, {})[ref.familiar_string()] = self.refs[text]
        atomic.write_json(self.refs_file, {"Repositories": repositories})

    def refs_for(self, image_id: str) -> list[reference.Reference]:
        """References to an image, sorted like Docker's reference store does."""
        return [reference.parse_normalized_named(text) for text in sorted(self.refs)
                if self.refs[text] == image_id]

    def refs_by_name(self, name: str) -> list[tuple[reference.Reference, str]]:
        out = []
        for text in sorted(self.refs):
            ref = reference.parse_normalized_named(text)
            if ref.name == name:
                out.append((ref, self.refs[text]))
        return out

    def get_ref(self, ref: reference.Reference) -> str | None:
        return self.refs.get(str(ref))

    def set_ref(self, ref: reference.Reference, image_id: str) -> str | None:
        """Point a reference at an image (moving it if it existed); returns the old ID."""
        key = str(ref)
        previous = self.refs.get(key)
        self.refs[key] = image_id
        self.save_refs()
        return previous

    def delete_ref(self, ref: reference.Reference) -> str | None:
        image_id = self.refs.pop(str(ref), None)
        if image_id is not None:
            self.save_refs()
        return image_id

    # --- records --------------------------------------------------------------------------------
    def record_path(self, image_id: str) -> str:
        return os.path.join(self.images_dir, image_id.split(":", 1)[1] + ".json")

    def put_image(self, record: dict[str, Any]) -> None:
        atomic.write_json(self.record_path(record["id"]), record)
        self.images[record["id"]] = record

    def delete_image(self, image_id: str) -> None:
        try:
            os.unlink(self.record_path(image_id))
            atomic.fsync_dir(self.images_dir)
        except FileNotFoundError:
            pass
        self.images.pop(image_id, None)
