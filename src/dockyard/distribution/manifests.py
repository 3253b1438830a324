"""Manifest formats: Docker schema 2 manifests and manifest lists, OCI manifests and
indexes; choosing the entry for a platform as Docker (containerd's matcher) does."""
from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidParameter, NotFound
from ..mediatypes import INDEXES, LAYERS, MANIFESTS, OCI_INDEX, OCI_MANIFEST
from ..platforms import Platform, normalise

ACCEPT = ", ".join(INDEXES + MANIFESTS)
# Foreign (non-distributable) layers are fetched from the registry like any other layer and
# never from their `urls`, which is what dockerd does on Linux.

def _compatible_variants(want: Platform) -> list[str]:
    """Variants `want` can run, best first (arm v7 runs v6 and v5; amd64 runs v1 images)."""
    if want.architecture == "arm" and want.variant.startswith("v"):
        try:
            level = int(want.variant[1:])
        except ValueError:
            return [want.variant]
        return [f"v{n}" for n in range(level, 4, -1)]
    return [want.variant, ""] if want.variant else [""]


def select(index: dict[str, Any], want: Platform) -> dict[str, Any]:
    """The descriptor in a list/index that best matches the platform."""
    variants = _compatible_variants(want)
    best: tuple[int, dict[str, Any]] | None = None
    for entry in index.get("manifests") or []:
        if entry.get("mediaType") not in MANIFESTS + ("",) and "mediaType" in entry:
            continue
        plat = entry.get("platform") or {}
        have = normalise(plat.get("os", ""), plat.get("architecture", ""),
                         plat.get("variant", ""))
        if have.os != want.os or have.architecture != want.architecture:
            continue
        if have.variant not in variants:
            continue
        rank = variants.index(have.variant)
        if best is None or rank < best[0]:
            best = (rank, entry)
    if best is None:
        raise NotFound(f"no matching manifest for {want} in the manifest list entries")
    return best[1]


def media_type(raw: bytes, content_type: str) -> str:
    """The manifest's media type: its own field, else the response's Content-Type."""
    try:
        doc = json.loads(raw)
    except ValueError:
        raise InvalidParameter("invalid manifest: not JSON") from None
    declared = doc.get("mediaType") if isinstance(doc, dict) else None
    if declared:
        return str(declared)
    if content_type.split(";")[0].strip() in INDEXES + MANIFESTS:
        return content_type.split(";")[0].strip()
    if isinstance(doc, dict) and "manifests" in doc:
        return OCI_INDEX
    if isinstance(doc, dict) and "layers" in doc:
        return OCI_MANIFEST
    if isinstance(doc, dict) and doc.get("schemaVersion") == 1:
        raise InvalidParameter("[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image "
                               "manifest version 2, schema 1 support has been removed.")
    raise InvalidParameter(f"unsupported manifest media type {content_type!r}")


def check_manifest(doc: dict[str, Any]) -> None:
    """A manifest we can pull: a config descriptor and layer descriptors we understand."""
    config = doc.get("config")
    if not isinstance(config, dict) or not config.get("digest"):
        raise InvalidParameter("invalid manifest: no config descriptor")
    for layer in doc.get("layers") or []:
        if layer.get("mediaType") not in LAYERS:
            raise InvalidParameter(f"unsupported layer media type {layer.get('mediaType')}")
