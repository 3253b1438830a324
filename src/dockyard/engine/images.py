"""The image service: resolve, list, inspect, tag, remove, import, prune; Docker's rules."""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Iterator

from ..errors import Conflict, InvalidParameter, NotFound, no_such_image
from ..store import reference
from ..store.content import ContentStore
from ..store.metadata import MetadataStore
from ..store.snapshots import OverlayMount, Snapshotter, chain_ids
from .timeutil import parse_rfc3339, rfc3339nano

ContainersUsing = Callable[[str], list[tuple[str, bool]]]


@dataclass
class Image:
    id: str
    config: dict[str, Any]
    record: dict[str, Any]
    repo_tags: list[str] = field(default_factory=list)

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[1][:12]

    @property
    def size(self) -> int:
        return int(self.record.get("size", 0))

    @property
    def created(self) -> str:
        return self.config.get("created") or self.record.get("created") or ""


class ImageService:
    def __init__(self, data_root: str, events: Any) -> None:
        self.content = ContentStore(data_root)
        self.meta = MetadataStore(data_root)
        self.snapshots = Snapshotter(data_root, self.content)
        self.events = events
        self.containers_using: ContainersUsing = lambda image_id: []
        self._lock = threading.RLock()

    # --- lookup ---------------------------------------------------------------------------------
    def _image(self, image_id: str) -> Image:
        record = self.meta.images[image_id]
        config = json.loads(self.content.read(image_id))
        tags = [reference.parse(ref).familiar_string() for ref, iid in self.meta.refs.items()
                if iid == image_id and "@" not in ref]
        return Image(image_id, config, record, sorted(tags))

    def resolve(self, ref: str) -> Image:
        with self._lock:
            image_id = self._resolve_id(ref)
            if image_id is None:
                raise no_such_image(ref)
            return self._image(image_id)

    def _resolve_id(self, ref: str) -> str | None:
        if ref.startswith("sha256:") and ref in self.meta.images:
            return ref
        candidate = ref.removeprefix("sha256:")
        if len(candidate) == 64 and f"sha256:{candidate}" in self.meta.images:
            return f"sha256:{candidate}"
        try:
            parsed = reference.parse(ref)
        except InvalidParameter:
            parsed = None
        if parsed is not None:
            found = self.meta.refs.get(str(parsed))
            if found in self.meta.images:
                return found
        if candidate and all(c in "0123456789abcdef" for c in candidate):
            matches = [i for i in self.meta.images if i[7:].startswith(candidate)]
            if len(matches) == 1:
                return matches[0]
        return None

    # --- listing and inspection ----------------------------------------------------------------
    def list(self, all: bool = False, filters: dict[str, list[str]] | None = None,
             digests: bool = False) -> list[dict[str, Any]]:
        filters = filters or {}
        with self._lock:
            images = [self._image(i) for i in self.meta.images]
        result = []
        for image in images:
            if not self._matches(image, filters):
                continue
            labels = (image.config.get("config") or {}).get("Labels") or {}
            result.append({
                "Id": image.id, "ParentId": image.record.get("parent", ""),
                "RepoTags": image.repo_tags, "RepoDigests": image.record.get("repo_digests", []),
                "Created": int(parse_rfc3339(image.created)), "Size": image.size,
                "SharedSize": -1, "VirtualSize": image.size, "Labels": labels,
                "Containers": -1,
            })
        result.sort(key=lambda i: i["Created"], reverse=True)
        return result

    def _matches(self, image: Image, filters: dict[str, list[str]]) -> bool:
        for key, values in filters.items():
            if key == "dangling":
                want = values[0].lower() in ("true", "1")
                if want != (not image.repo_tags):
                    return False
            elif key == "label":
                labels = (image.config.get("config") or {}).get("Labels") or {}
                for cond in values:
                    k, sep, v = cond.partition("=")
                    if k not in labels or (sep and labels[k] != v):
                        return False
            elif key == "reference":
                import fnmatch
                if not any(fnmatch.fnmatch(tag, pattern) or fnmatch.fnmatch(
                        tag.rsplit(":", 1)[0], pattern) for tag in image.repo_tags
                        for pattern in values):
                    return False
            elif key in ("before", "since"):
                other = self.resolve(values[0])
                mine, theirs = parse_rfc3339(image.created), parse_rfc3339(other.created)
                if (key == "before" and not mine < theirs) or (key == "since" and
                                                                 not mine > theirs):
                    return False
            else:
                raise InvalidParameter(f"invalid filter '{key}'")
        return True

    def inspect(self, ref: str) -> dict[str, Any]:
        image = self.resolve(ref)
        cfg = image.config
        chains = image.record.get("chain_ids", [])
        lowers = self.snapshots.lowerdirs(chains)
        return {
            "Id": image.id, "RepoTags": image.repo_tags,
            "RepoDigests": image.record.get("repo_digests", []),
            "Parent": image.record.get("parent", ""), "Comment": cfg.get("comment", ""),
            "Created": image.created, "DockerVersion": cfg.get("docker_version", ""),
            "Author": cfg.get("author", ""), "Config": cfg.get("config") or {},
            "Architecture": cfg.get("architecture", ""), "Os": cfg.get("os", ""),
            "Variant": cfg.get("variant", ""), "Size": image.size,
            "GraphDriver": {"Name": "overlay2", "Data": {
                "LowerDir": ":".join(lowers[1:]) if len(lowers) > 1 else "",
                "UpperDir": lowers[0], "WorkDir": ""}},
            "RootFS": {"Type": "layers", "Layers": (cfg.get("rootfs") or {}).get("diff_ids", [])},
            "Metadata": {"LastTagTime": image.record.get("last_tag_time", "0001-01-01T00:00:00Z")},
        }

    def history(self, ref: str) -> list[dict[str, Any]]:
        image = self.resolve(ref)
        history = list(image.config.get("history") or [])
        chains = image.record.get("chain_ids", [])
        layer_sizes = [self.snapshots.size(c) for c in chains]
        out = []
        layer = 0
        for entry in history:
            size = 0
            if not entry.get("empty_layer") and layer < len(layer_sizes):
                size = layer_sizes[layer]
                layer += 1
            out.append({"Id": "<missing>", "Created": int(parse_rfc3339(entry.get("created", ""))),
                        "CreatedBy": entry.get("created_by", ""), "Tags": None, "Size": size,
                        "Comment": entry.get("comment", "")})
        out.reverse()
        if out:
            out[0]["Id"] = image.id
            out[0]["Tags"] = image.repo_tags or None
        return out

    # --- references -------------------------------------------------------------------------------
    def tag(self, source: str, repo: str, tag: str | None) -> None:
        image = self.resolve(source)
        target = reference.parse(f"{repo}:{tag}" if tag else repo)
        if target.digest:
            raise InvalidParameter("refusing to create a tag with a digest reference")
        with self._lock:
            self.meta.refs[str(target)] = image.id
            self.meta.save_refs()
            image.record["last_tag_time"] = rfc3339nano()
            self.meta.put_image(image.record)
        self.events.emit("image", "tag", image.id, {"name": target.familiar_string()})

    def remove(self, ref: str, force: bool = False, noprune: bool = False
               ) -> list[dict[str, str]]:
        """Docker's rmi: a name untags (deleting the image with its last name); an ID deletes
        the image with all its names. Containers using the image block it as in Docker."""
        with self._lock:
            image_id = self._resolve_id(ref)
            if image_id is None:
                raise no_such_image(ref)
            image = self._image(image_id)
            users = self.containers_using(image_id)
            refs = [r for r, i in self.meta.refs.items() if i == image_id]
            key = self._ref_key(ref)
            deleted: list[dict[str, str]] = []
            if key in self.meta.refs:
                if len(refs) == 1 and users and not force:
                    raise Conflict(f'conflict: unable to remove repository reference "{ref}" '
                                   f"(must force) - container {users[0][0][:12]} is using its "
                                   f"referenced image {image.short_id}")
                self._untag(key, deleted)
                if len(refs) == 1 and not users:
                    self._delete(image_id, deleted)
                return deleted
            if len(refs) > 1 and not force:
                raise Conflict(f"conflict: unable to delete {image.short_id} (must be forced) - "
                               "image is referenced in multiple repositories")
            running = [cid for cid, is_running in users if is_running]
            if running:
                raise Conflict(f"conflict: unable to delete {image.short_id} (cannot be forced)"
                               f" - image is being used by running container {running[0][:12]}")
            if users and not force:
                raise Conflict(f"conflict: unable to delete {image.short_id} (must be forced) - "
                               f"image is being used by stopped container {users[0][0][:12]}")
            for name in refs:
                self._untag(name, deleted)
            if not users:  # a forced removal keeps layers a stopped container still needs
                self._delete(image_id, deleted)
            return deleted

    def _ref_key(self, ref: str) -> str:
        try:
            return str(reference.parse(ref))
        except InvalidParameter:
            return ""

    def _untag(self, key: str, deleted: list[dict[str, str]]) -> None:
        image_id = self.meta.refs.pop(key)
        self.meta.save_refs()
        name = reference.parse(key).familiar_string()
        deleted.append({"Untagged": name})
        self.events.emit("image", "untag", image_id, {"name": name})

    def _delete(self, image_id: str, deleted: list[dict[str, str]]) -> None:
        self.meta.delete_image(image_id)
        self.content.delete(image_id)
        deleted.append({"Deleted": image_id})
        self.events.emit("image", "delete", image_id, {"name": image_id})
        self._gc()

    def _gc(self) -> int:
        in_use = {c for record in self.meta.images.values() for c in record.get("chain_ids", [])}
        return self.snapshots.garbage_collect(in_use)

    def prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        filters = dict(filters or {})
        dangling_only = (filters.pop("dangling", ["true"])[0].lower() in ("true", "1"))
        deleted: list[dict[str, str]] = []
        reclaimed = 0
        with self._lock:
            for image_id in list(self.meta.images):
                image = self._image(image_id)
                if self.containers_using(image_id):
                    continue
                if dangling_only and image.repo_tags:
                    continue
                if filters and not self._matches(image, {k: v for k, v in filters.items()
                                                         if k == "label"}):
                    continue
                reclaimed += image.size
                for key in [r for r, i in self.meta.refs.items() if i == image_id]:
                    self._untag(key, deleted)
                self._delete(image_id, deleted)
        self.events.emit("image", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # --- creating images --------------------------------------------------------------------------
    def import_image(self, stream: BinaryIO, repo: str | None = None, tag: str | None = None,
                     message: str = "", changes: list[str] | None = None,
                     source: str = "-") -> str:
        """`docker import`: a rootfs tarball becomes a one-layer image."""
        target = reference.parse(f"{repo}:{tag}" if repo and tag else repo) if repo else None
        from .imageconfig import apply_changes

        container_config = apply_changes({}, changes or [])
        diff_id, chain, size = self.snapshots.unpack(None, stream)
        now = rfc3339nano()
        arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine,
                                                           os.uname().machine)
        config = {
            "architecture": arch, "os": "linux", "created": now,
            "comment": message or f"Imported from {source}",
            "config": container_config,
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": now, "comment": message or f"Imported from {source}"}],
        }
        image_id = self.add_image(config, [chain], {chain: size})
        if target is not None:
            with self._lock:
                self.meta.refs[str(target)] = image_id
                self.meta.save_refs()
        self.events.emit("image", "import", image_id,
                         {"name": target.familiar_string() if target else image_id})
        return image_id

    def add_image(self, config: dict[str, Any], chains: list[str],
                  sizes: dict[str, int]) -> str:
        """Store a config blob and its record (its layers must already be unpacked)."""
        raw = json.dumps(config, separators=(",", ":")).encode()
        image_id = self.content.write(raw)
        self.add_image_raw(image_id, config, chains, sizes)
        return image_id

    def add_image_raw(self, image_id: str, config: dict[str, Any], chains: list[str],
                      sizes: dict[str, int]) -> None:
        """Record an image whose config blob is stored and whose layers are unpacked."""
        with self._lock:
            diff_ids = (config.get("rootfs") or {}).get("diff_ids", [])
            record = self.meta.images.get(image_id) or {
                "id": image_id, "diff_ids": diff_ids, "chain_ids": chain_ids(diff_ids),
                "size": sum(sizes.get(c, self.snapshots.size(c)) for c in chains),
                "created": config.get("created", rfc3339nano()), "parent": "",
                "repo_digests": [], "last_tag_time": rfc3339nano()}
            self.meta.put_image(record)

    # --- archives -------------------------------------------------------------------------------
    def save(self, refs: list[str]) -> Iterator[bytes]:
        """`docker save`: resolve everything first (404 before any byte), then stream."""
        from ..store import archive

        selected: list[tuple[Image, list[str]]] = []
        for ref in refs:
            image = self.resolve(ref)
            key = self._ref_key(ref)
            tags = [reference.parse(key).familiar_string()] if key in self.meta.refs else \
                image.repo_tags
            selected.append((image, tags))
        for image, _ in selected:
            self.events.emit("image", "save", image.id, {"name": image.id})
        return archive.save(selected, self.content.open)

    def load(self, stream: BinaryIO) -> list[str]:
        """`docker load`: Docker or OCI archives. Returns Docker's "Loaded image" lines."""
        import shutil

        from ..store import archive

        workdir = archive.temp_dir(self.meta.dir)
        messages = []
        try:
            archive.extract(stream, workdir)
            for item in archive.read_layout(workdir):
                config = json.loads(item["config_raw"])
                expected = (config.get("rootfs") or {}).get("diff_ids", [])
                chains, sizes, parent = [], {}, None
                for layer_path in item["layers"]:
                    with open(layer_path, "rb") as f:
                        diff_id, chain, size = self.snapshots.unpack(parent, f)
                    chains.append(chain)
                    sizes[chain] = size
                    parent = chain
                    if len(chains) > len(expected) or expected[len(chains) - 1] != diff_id:
                        raise InvalidParameter(f"invalid archive: layer {diff_id} does not "
                                               "match the image configuration")
                if len(chains) != len(expected):
                    raise InvalidParameter("invalid archive: layers missing")
                image_id = self.content.write(item["config_raw"])
                self.add_image_raw(image_id, config, chains, sizes)
                if not item["tags"]:
                    messages.append(f"Loaded image ID: {image_id}")
                for tag in item["tags"]:
                    target = reference.parse(tag)
                    with self._lock:
                        self.meta.refs[str(target)] = image_id
                        self.meta.save_refs()
                    messages.append(f"Loaded image: {target.familiar_string()}")
                self.events.emit("image", "load", image_id, {"name": image_id})
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return messages

    # --- containers' writable layers ---------------------------------------------------------------
    def prepare_rw(self, container_id: str, image_id: str) -> OverlayMount:
        record = self.meta.images.get(image_id)
        if record is None:
            raise NotFound(f"No such image: {image_id}")
        return self.snapshots.prepare_rw(container_id, record.get("chain_ids", []))

    def remove_rw(self, container_id: str) -> None:
        self.snapshots.remove_rw(container_id)

    def count(self) -> int:
        return len(self.meta.images)

