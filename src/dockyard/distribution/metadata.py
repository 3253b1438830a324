"""What the daemon knows about layers on registries: for each diff ID the compressed blobs
(digest, size, media type) that hold it and the repositories they are known to be in.

Pulls and pushes add to it; a push uses it to skip layers a registry already has and to
mount them from another repository on the same registry instead of uploading them again.

    distribution/layers/<diff-id hex>.json   {"blobs": [{"digest", "size", "mediaType",
                                                           "repos": ["host/path", ...]}]}
"""
from __future__ import annotations

import json
import os
import threading
from typing import Any

from ..linux import atomic


class BlobCache:
    def __init__(self, data_root: str) -> None:
        self.dir = os.path.join(data_root, "distribution", "layers")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        for name in os.listdir(self.dir):
            if name.startswith(".tmp-"):         # an atomic write a crash cut short
                try:
                    os.unlink(os.path.join(self.dir, name))
                except OSError:
                    pass
        self._lock = threading.Lock()

    def _path(self, diff_id: str) -> str:
        return os.path.join(self.dir, diff_id.split(":", 1)[1] + ".json")

    def get(self, diff_id: str) -> list[dict[str, Any]]:
        try:
            with open(self._path(diff_id), "rb") as f:
                return list(json.load(f).get("blobs") or [])
        except (OSError, ValueError):
            return []

    def add(self, diff_id: str, digest: str, size: int, media_type: str, repo: str) -> None:
        """Remember that `repo` ("host/path") holds `digest`, a compressed form of diff_id."""
        with self._lock:
            blobs = self.get(diff_id)
            for blob in blobs:
                if blob.get("digest") == digest:
                    if repo in blob.setdefault("repos", []):
                        return
                    blob["repos"].append(repo)
                    break
            else:
                blobs.append({"digest": digest, "size": size, "mediaType": media_type,
                              "repos": [repo]})
            atomic.write_json(self._path(diff_id), {"blobs": blobs})
