"""Reading images: GET /images/json with Docker's filters, inspect and history."""
from __future__ import annotations

import os
from typing import Any

from ... import reference
from ...errors import InvalidParameter
from ...filters import check_keys, match_kv
from ...store.containerconfig import full_config
from ...store.snapshots import chain_ids
from ...timeutil import ZERO_TIME, parse_timestamp, rfc3339_ns
from .model import Image
from .records import ImageRecords

LIST_FILTERS = {"dangling", "label", "before", "since", "reference", "until"}


# --- filters (shared with prune) ---------------------------------------------------------------
def dangling_filter(filters: dict[str, list[str]], default: bool | None) -> bool | None:
    values = filters.get("dangling")
    if not values:
        return default
    lowered = {v.lower() for v in values}
    if lowered <= {"true", "1"}:
        return True
    if lowered <= {"false", "0"}:
        return False
    raise InvalidParameter(f"invalid filter 'dangling=[{' '.join(values)}]'")


def until_ns(values: list[str]) -> int:
    """The earliest `until` (parse_timestamp refuses a bad value in Docker's words)."""
    return min(int(parse_timestamp(value) * 1_000_000_000) for value in values)


# --- list, inspect, history ---------------------------------------------------------------------
def list_images(images: ImageRecords, all: bool = False,
                filters: dict[str, list[str]] | None = None, digests: bool = False,
                shared_size: bool = False) -> list[dict[str, Any]]:
    """GET /images/json, as Docker answers it (API >= 1.43: untagged images have empty
    RepoTags/RepoDigests; the API layer adds older versions' placeholders)."""
    filters = check_keys(filters, LIST_FILTERS)
    dangling = dangling_filter(filters, None)
    with images.lock:
        before = min((rfc3339_ns(images.get(v).created) for v in filters.get("before", [])),
                     default=None)
        since = max((rfc3339_ns(images.get(v).created) for v in filters.get("since", [])),
                    default=None)
        until = until_ns(filters["until"]) if filters.get("until") else None
        patterns = filters.get("reference", [])
        for pattern in patterns:
            reference.path_match(pattern, "")     # validates the pattern
        children = images.children()
        images = [images.image(i) for i in images.meta.images if images.live(i)]
    result = []
    for image in images:
        created = rfc3339_ns(image.created)
        if before is not None and not created < before:
            continue
        if since is not None and not created > since:
            continue
        if until is not None and created > until:
            continue
        if filters.get("label") and not match_kv(filters["label"], image.labels):
            continue
        refs = [reference.parse_normalized_named(t) for t in image.repo_tags] + \
            [reference.parse_normalized_named(d) for d in image.repo_digests]
        if patterns:
            refs = [r for r in refs if any(reference.familiar_match(p, r)
                                           for p in patterns)]
        tags = [r.familiar_string() for r in refs if r.tag and not r.digest]
        repo_digests = [r.familiar_string() for r in refs if r.digest]
        if not tags and not repo_digests:
            if not all and children.get(image.id):
                continue
            if dangling is False or patterns:
                continue
        elif dangling is True and tags:
            continue
        result.append({
            "Containers": -1, "Created": created // 1_000_000_000, "Id": image.id,
            "Labels": image.labels or None, "ParentId": image.parent,
            "RepoDigests": repo_digests, "RepoTags": tags, "SharedSize": -1,
            "Size": image.size, "VirtualSize": image.size})
    result.sort(key=lambda s: (s["Created"], s["Id"]), reverse=True)
    return result


def inspect(images: ImageRecords, ref: str) -> dict[str, Any]:
    """Docker's ImageInspect (every field any API version has; the API layer drops
    those a version no longer sends)."""
    with images.lock:
        image = images.get(ref)
        lowers = [images.snapshots.diff_dir(c) for c in reversed(image.chain_ids)]
    cfg = image.config
    graph_data: dict[str, str] | None = None
    if lowers:
        top = os.path.dirname(lowers[0])
        graph_data = {}
        if len(lowers) > 1:
            graph_data["LowerDir"] = ":".join(lowers[1:])
        graph_data.update(MergedDir=os.path.join(top, "merged"), UpperDir=lowers[0],
                          WorkDir=os.path.join(top, "work"))
    result: dict[str, Any] = {
        "Id": image.id, "RepoTags": image.repo_tags, "RepoDigests": image.repo_digests,
        "Parent": image.parent, "Comment": cfg.get("comment", ""),
        "Created": image.created, "Container": cfg.get("container", ""),
        "ContainerConfig": full_config(cfg.get("container_config")),
        "DockerVersion": cfg.get("docker_version", ""), "Author": cfg.get("author", ""),
        "Config": full_config(cfg.get("config")),
        "Architecture": cfg.get("architecture", ""),
    }
    if cfg.get("variant"):
        result["Variant"] = cfg["variant"]
    result["Os"] = cfg.get("os", "")
    if cfg.get("os.version"):
        result["OsVersion"] = cfg["os.version"]
    rootfs: dict[str, Any] = {"Type": (cfg.get("rootfs") or {}).get("type", "layers")}
    if image.diff_ids:
        rootfs["Layers"] = image.diff_ids
    result.update({
        "Size": image.size, "VirtualSize": image.size,
        "GraphDriver": {"Data": graph_data, "Name": "overlay2"},
        "RootFS": rootfs,
        "Metadata": {"LastTagTime": image.record.get("last_tag_time") or ZERO_TIME}})
    return result


def history(images: ImageRecords, ref: str) -> list[dict[str, Any]]:
    """Newest first; rows other than those of local parent images are "<missing>"."""
    with images.lock:
        image = images.get(ref)
        rows: list[dict[str, Any]] = []
        rootfs: list[str] = []
        diff_ids = image.diff_ids
        for entry in image.config.get("history") or []:
            size = 0
            if not entry.get("empty_layer"):
                if len(rootfs) >= len(diff_ids):
                    raise InvalidParameter("too many non-empty layers in History section")
                rootfs.append(diff_ids[len(rootfs)])
                size = images.snapshots.size(chain_ids(rootfs)[-1])
            rows.insert(0, {"Comment": entry.get("comment", ""),
                            "Created": rfc3339_ns(entry.get("created")) // 1_000_000_000,
                            "CreatedBy": entry.get("created_by", ""), "Id": "<missing>",
                            "Size": size, "Tags": None})
        current: Image | None = image
        for row in rows:
            if current is None:
                break
            row["Id"] = current.id
            row["Tags"] = current.repo_tags or None
            parent = current.parent
            current = images.image(parent) if parent and parent in images.meta.images \
                else None
        return rows
