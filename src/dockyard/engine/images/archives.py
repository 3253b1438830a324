"""Image archives: `docker save` (streamed) and `docker load` of Docker or OCI archives."""
from __future__ import annotations

import json
import shutil
from typing import BinaryIO, Callable, Iterator

from ... import reference
from ...errors import InvalidParameter
from ...reference import Reference
from ...store import archive
from .records import ImageRecords


class _Stream:
    """An iterator of archive chunks that releases what it holds when closed (also when
    it is dropped without being read)."""

    def __init__(self, chunks: Iterator[bytes], release: Callable[[], None]) -> None:
        self._chunks = chunks
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> "_Stream":
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
            release()

    def __del__(self) -> None:
        self.close()


# --- archives ----------------------------------------------------------------------------------
def save(images: ImageRecords, refs: list[str]) -> Iterator[bytes]:
    """`docker save`: every name is resolved first (errors before any byte), then the
    archive streams. Returns an iterator with close()."""
    if not refs:
        raise InvalidParameter("no images specified")
    with images.lock:
        order: list[str] = []
        tags: dict[str, list[Reference]] = {}
        for name in refs:
            parsed = reference.parse_any(name)
            if isinstance(parsed, Reference) and parsed.familiar != "sha256" and \
                    parsed.is_name_only:
                assoc = [(r, i) for r, i in images.meta.refs_by_name(parsed.name)
                         if images.live(i)]
                if assoc:
                    for ref, image_id in assoc:
                        _add_assoc(order, tags, image_id, ref)
                    continue
                image_id = images.lookup(name)
                _add_assoc(order, tags, image_id, None)
                continue
            if isinstance(parsed, Reference) and parsed.familiar != "sha256":
                image_id = images.lookup(name)
                target = parsed.tag_name_only()
                _add_assoc(order, tags, image_id,
                           target if images.meta.get_ref(target) == image_id else None)
                continue
            _add_assoc(order, tags, images.lookup(name), None)
        items = [archive.SaveImage(i, images.content.read(i), images.image(i).diff_ids,
                                   tags[i]) for i in order]
        # the stream's lease: an rmi meanwhile leaves the blobs it reads until it closes
        lease = images.lease()
        for item in items:
            for digest in (item.image_id, *item.diff_ids):
                images.content.claim(digest, lease)
    for image_id in order:
        images.emit("save", image_id, image_id, images.image(image_id).labels)
    return _Stream(archive.save_archive(items, images.content.open),
                   lambda: images.end_lease(lease))


def _add_assoc(order: list[str], tags: dict[str, list[Reference]], image_id: str,
               ref: Reference | None) -> None:
    if image_id not in tags:
        order.append(image_id)
        tags[image_id] = []
    if ref is not None and ref.tag and not ref.digest and ref not in tags[image_id]:
        tags[image_id].append(ref)


def load(images: ImageRecords, stream: BinaryIO, quiet: bool = False) -> list[str]:
    """`docker load` of a Docker or OCI archive. Returns Docker's messages ("Loaded
    image: busybox:latest", "Loaded image ID: sha256:..."). Loading twice is harmless."""
    return list(load_iter(images, stream, quiet))


def load_iter(images: ImageRecords, stream: BinaryIO, quiet: bool = False) -> Iterator[str]:
    """Like load, yielding each message as soon as its image is recorded."""
    with images.ingest() as lease:
        workdir = archive.temp_dir(images.meta.dir)
        try:
            archive.extract_archive(stream, workdir)
            items = archive.read_archive(workdir)
            for item in items:
                yield from _load_one(images, item, lease)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _load_one(images: ImageRecords, item: archive.ArchiveImage, lease: str
              ) -> Iterator[str]:
    try:
        config = json.loads(item.config_raw)
    except ValueError as exc:
        raise InvalidParameter(f"invalid image config: {exc}") from None
    if not isinstance(config, dict):
        raise InvalidParameter("invalid image config")
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    if len(diff_ids) != len(item.layers):
        raise InvalidParameter(f"invalid manifest, layers length mismatch: expected "
                               f"{len(diff_ids)}, got {len(item.layers)}")
    for diff_id in diff_ids:
        reference.validate_digest(diff_id)
    targets = []
    for tag in item.tags:
        try:
            ref = reference.parse_normalized_named(tag)
        except InvalidParameter:
            raise InvalidParameter(f"invalid reference {tag!r} in archive") from None
        if ref.digest:
            raise InvalidParameter(f"invalid tag {tag!r}: digest references can't be "
                                   "loaded as tags")
        targets.append(ref.tag_name_only())
    parent_chain: str | None = None
    chains = []
    for position, (layer, diff_id) in enumerate(zip(item.layers, diff_ids)):
        with open(layer.path, "rb") as f:
            try:
                info = images.snapshots.unpack(parent_chain, f, diff_id, layer.digest,
                                               lease)
            except InvalidParameter as exc:
                raise InvalidParameter(f"{exc.message} (layer {position})") from None
        chains.append(info.chain_id)
        parent_chain = info.chain_id
    parent = item.parent if item.parent in images.meta.images else ""
    messages = []
    with images.lock:
        with images.meta.transaction():          # the record and its tags: one commit
            image_id = images.store_image(config, chains, parent, item.config_raw, lease)
            for target in targets:
                previous = images.meta.get_ref(target)
                if previous is not None and previous != image_id:
                    messages.append(f"The image {target.familiar_string()} already exists, "
                                    f"renaming the old one with ID {previous} to empty string")
                images.meta.set_ref(target, image_id)
                messages.append(f"Loaded image: {target.familiar_string()}")
        if not targets:
            messages.append(f"Loaded image ID: {image_id}")
        images.emit("load", image_id, image_id, images.image(image_id).labels)
    yield from messages
