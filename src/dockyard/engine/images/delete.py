"""Removing images: rmi with Docker's conflict rules, and prune."""
from __future__ import annotations

import logging
from typing import Any

from ... import reference
from ...errors import Conflict, NotFound
from ...filters import check_keys, match_kv
from ...reference import Reference
from ...timeutil import rfc3339_ns
from .model import short_id
from .query import dangling_filter, until_ns
from .records import ImageRecords

log = logging.getLogger(__name__)

PRUNE_FILTERS = {"dangling", "label", "label!", "until"}


def _single_reference(refs: list[Reference]) -> bool:
    """moby's isSingleReference: at most one tag, and all refs in one repository."""
    if len(refs) <= 1:
        return len(refs) == 1
    single: Reference | None = None
    canonical_names: set[str] = set()
    for ref in refs:
        if ref.digest:
            canonical_names.add(ref.name)
        elif single is None:
            single = ref
        else:
            return False
    if single is None:
        single = refs[0]
    return len(canonical_names) == 1 and single.name in canonical_names


def _conflict(images: ImageRecords, image_id: str, hard: bool, soft_refs: bool,
              soft_stopped: bool) -> tuple[str, bool, bool] | None:
    """(message, hard, used) of the first conflict that applies, or None."""
    if hard and images.children().get(image_id):
        return "image has dependent child images", True, False
    users = images.users(image_id)
    if hard:
        running = [cid for cid, is_running in users if is_running]
        if running:
            return (f"image is being used by running container {short_id(running[0])}",
                    True, True)
    if soft_refs and images.meta.refs_for(image_id):
        return "image is referenced in multiple repositories", False, False
    if soft_stopped:
        stopped = [cid for cid, is_running in users if not is_running]
        if stopped:
            return (f"image is being used by stopped container {short_id(stopped[0])}",
                    False, True)
    return None


def _conflict_error(image_id: str, conflict: tuple[str, bool, bool]) -> Conflict:
    message, hard, _ = conflict
    force = "cannot be forced" if hard else "must be forced"
    return Conflict(f"conflict: unable to delete {short_id(image_id)} ({force}) - {message}")


def remove(images: ImageRecords, ref: str, force: bool = False,
           noprune: bool = False) -> list[dict[str, str]]:
    """DELETE /images/{name}: Docker's rmi. A name untags (and deletes the image with
    its last name); an ID deletes the image with all its names. Conflicts as Docker:
    a container using the image's last name needs force; a running container can't be
    forced; several names need force when deleting by ID. Besides "Untagged" and
    "Deleted: <image ID>" the answer lists the layers (chain IDs) removed."""
    with images.lock, images.meta.transaction():     # every untag and delete: one commit
        return _remove(images, ref, force, noprune, {})


def _remove(images: ImageRecords, ref: str, force: bool, noprune: bool,
            freed: dict[str, int]) -> list[dict[str, str]]:
    with images.lock:
        records: list[dict[str, str]] = []
        image_id = images.lookup(ref)
        repo_refs = images.meta.refs_for(image_id)
        removed_repository_ref = False
        if not reference.is_image_id_prefix(image_id, ref):
            if not force and _single_reference(repo_refs):
                users = images.users(image_id)
                if users:
                    raise Conflict(f'conflict: unable to remove repository reference "{ref}"'
                                   f" (must force) - container {short_id(users[0][0])} is "
                                   f"using its referenced image {short_id(image_id)}")
            parsed = reference.parse_normalized_named(ref)
            if parsed.digest and parsed.tag:
                parsed = Reference(parsed.domain, parsed.path, None, parsed.digest)
            parsed = parsed.tag_name_only()
            if images.meta.delete_ref(parsed) is None:
                raise NotFound("reference does not exist")
            records.append({"Untagged": parsed.familiar_string()})
            images.emit("untag", image_id, image_id, images.image(image_id).labels)
            repo_refs = images.meta.refs_for(image_id)
            if not parsed.digest and not any(r.name == parsed.name and not r.digest
                                             for r in repo_refs):
                remaining = []
                for other in repo_refs:
                    if other.digest and other.name == parsed.name:
                        images.meta.delete_ref(other)
                        records.append({"Untagged": other.familiar_string()})
                    else:
                        remaining.append(other)
                repo_refs = remaining
            if repo_refs:
                return records
            removed_repository_ref = True
        elif _single_reference(repo_refs):
            conflict = _conflict(images, image_id, True, False, not force)
            if conflict is not None:
                raise _conflict_error(image_id, conflict)
            for other in repo_refs:
                images.meta.delete_ref(other)
                images.emit("untag", image_id, image_id, images.image(image_id).labels)
                records.append({"Untagged": other.familiar_string()})
        _delete_helper(images, image_id, records, force, not noprune, removed_repository_ref,
                       freed)
        return records


def _delete_helper(images: ImageRecords, image_id: str, records: list[dict[str, str]], force: bool,
                   prune: bool, quiet: bool, freed: dict[str, int]) -> None:
    conflict = _conflict(images, image_id, True, not force, not force)
    if conflict is not None:
        dangling = not images.meta.refs_for(image_id) and not images.children().get(image_id)
        if quiet and (not dangling or conflict[2]):
            return
        raise _conflict_error(image_id, conflict)
    image = images.image(image_id)
    for other in images.meta.refs_for(image_id):
        images.meta.delete_ref(other)
        images.emit("untag", image_id, image_id, image.labels)
        records.append({"Untagged": other.familiar_string()})
    _delete_image(images, image_id)
    images.emit("delete", image_id, image_id, image.labels)
    records.append({"Deleted": image_id})
    for chain, size in images.collect(order=image.chain_ids):
        records.append({"Deleted": chain})
        freed[chain] = size
    if prune and image.parent and images.live(image.parent):
        _delete_helper(images, image.parent, records, False, True, True, freed)


def _delete_image(images: ImageRecords, image_id: str) -> None:
    """Forget an image. If a container sits on it, keep a hidden record (and so its
    config and layers) until that container's writable layer is removed."""
    if images.snapshots.holds(image_id):
        record = dict(images.meta.images[image_id])
        record["removed"] = True
        images.meta.put_image(record)
    else:
        images.meta.delete_image(image_id)


def prune(images: ImageRecords, dangling_only: bool | dict | None = None,
          filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """POST /images/prune: dangling images (or, with dangling=false, every image no
    container uses), filtered by until/label/label!."""
    if isinstance(dangling_only, dict):      # prune(filters)
        dangling_only, filters = None, dangling_only
    filters = check_keys(filters, PRUNE_FILTERS)
    dangling = dangling_filter(filters, True if dangling_only is None
                               else bool(dangling_only))
    until = until_ns(filters["until"]) if filters.get("until") else None
    deleted: list[dict[str, str]] = []
    freed: dict[str, int] = {}
    with images.lock, images.meta.transaction():     # the whole prune: one commit
        children = images.children()
        candidates = []
        for image_id in list(images.meta.images):
            if not images.live(image_id):
                continue
            image = images.image(image_id)
            refs = images.meta.refs_for(image_id)
            if dangling and children.get(image_id):
                continue
            if not refs and children.get(image_id):
                continue
            if until is not None and rfc3339_ns(image.created) > until:
                continue
            if not match_kv(filters.get("label", []), image.labels):
                continue
            if filters.get("label!") and match_kv(filters["label!"], image.labels):
                continue
            if images.users(image_id):     # in use: keeps all its names
                continue
            candidates.append((image_id, refs))
        for image_id, refs in candidates:
            if not images.live(image_id):
                continue
            targets: list[str]
            if refs:
                if dangling and any(r.tag and not r.digest for r in refs):
                    continue
                targets = [str(r) for r in refs]
            else:
                targets = [image_id[7:]]
            for target in targets:
                try:
                    items = _remove(images, target, False, False, freed)
                except (Conflict, NotFound) as exc:
                    log.debug("prune: not removing %s: %s", target, exc)
                    continue
                deleted.extend(items)
        reclaimed = sum(freed.values())
    images.emit("prune", "", None, reclaimed=str(reclaimed))
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}
