"""New images: import of a root filesystem tarball, commit's and build's images, and the
records of pulled and pushed images."""
from __future__ import annotations

import json
from typing import Any, BinaryIO, Iterable

from ... import __version__, reference
from ...errors import InvalidParameter, NotFound
from ...reference import Reference
from ...store import archive
from ...store.snapshots import chain_ids
from ...timeutil import rfc3339nano
from ..build.config import apply_changes
from .records import ImageRecords


# --- creating images ---------------------------------------------------------------------------
def import_image(images: ImageRecords, source: str | BinaryIO, repo: str | None = None,
                 tag: str | None = None, message: str = "", changes: list[str] | None = None,
                 platform: str | None = None) -> str:
    """`docker import`: a root filesystem tarball (a stream, or a URL to fetch) becomes
    a one-layer image, optionally tagged repo[:tag]. Returns the image ID."""
    target = None
    if repo:
        target = reference.parse_normalized_named(repo)
        if target.digest:
            raise InvalidParameter("cannot import digest reference")
        target = target.with_tag(tag) if tag else target.tag_name_only()
    container_config = apply_changes({}, changes or [])   # fails before any layer is read
    archive.import_platform(platform)
    with images.ingest() as lease:
        if isinstance(source, str):
            if source in ("", "-"):
                raise InvalidParameter("import source must be a stream or a URL")
            url = source if "://" in source else f"http://{source}"
            stream: Any = archive.open_url(url)
            origin = url
        else:
            stream, origin = source, "-"
        try:
            layer = images.snapshots.unpack(None, stream, lease=lease)
        finally:
            if isinstance(source, str):
                stream.close()
        config = archive.import_config(layer.diff_id, rfc3339nano(), origin, message,
                                       container_config, platform, __version__)
        with images.lock:
            with images.meta.transaction():          # the record and its tag: one commit
                image_id = images.store_image(config, [layer.chain_id], lease=lease)
                if target is not None:
                    images.set_tag(image_id, target)
            images.emit("import", image_id, image_id, images.image(image_id).labels)
    return image_id


def create_image(images: ImageRecords, config: dict[str, Any], layers: Iterable[BinaryIO] = (),
                 parent: str = "", tags: Iterable[str] = ()) -> str:
    """Register an image (for commit and build): `config`'s rootfs.diff_ids name layers
    that already exist (e.g. the parent's); each stream in `layers` is unpacked on top
    and its diff ID appended. Returns the image ID."""
    config = json.loads(json.dumps(config))
    rootfs = config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    rootfs.setdefault("type", "layers")
    diff_ids = list(rootfs.get("diff_ids") or [])
    with images.ingest() as lease:
        chains = chain_ids(diff_ids)
        missing = [c for c in chains if not images.snapshots.claim(c, lease)]
        if missing:
            raise NotFound(f"layer {missing[0]} does not exist")
        for stream in layers:
            layer = images.snapshots.unpack(chains[-1] if chains else None, stream,
                                            lease=lease)
            diff_ids.append(layer.diff_id)
            chains.append(layer.chain_id)
        rootfs["diff_ids"] = diff_ids
        targets = [reference.parse(t) for t in tags]
        with images.lock, images.meta.transaction():   # the record and its tags: one commit
            image_id = images.store_image(config, chains, parent, lease=lease)
            for target in targets:
                images.set_tag(image_id, target)
    return image_id


def add_pulled(images: ImageRecords, config_raw: bytes, chains: list[str],
               targets: list[Reference]) -> tuple[str, bool]:
    """Record a pulled image (config verified, layers unpacked) and point its tag and
    repo digest at it. Returns (image ID, whether a reference was created or moved)."""
    config = json.loads(config_raw)
    changed = False
    with images.lock:
        with images.meta.transaction():          # the record and its references: one commit
            image_id = images.store_image(config, chains, "", config_raw)
            for target in targets:
                if images.meta.get_ref(target) != image_id:
                    images.meta.set_ref(target, image_id)
                    changed = True
        images.emit("pull", targets[0].familiar_string(), targets[0].familiar,
                    images.image(image_id).labels)
    return image_id, changed


def add_repo_digest(images: ImageRecords, image_id: str, target: Reference) -> None:
    """After a push: the image is also known as name@digest (RepoDigests)."""
    with images.lock:
        if images.live(image_id) and images.meta.get_ref(target) != image_id:
            images.meta.set_ref(target, image_id)
