"""The image service: resolve, list, inspect, history, tag, rmi, prune, import, load, save,
and the containers' writable layers, with Docker's rules and error texts.

Storage is delegated to the small services in dockyard.store: the content store (config
blobs and layer tars), the metadata store (references and image records) and the overlay
snapshotter (unpacked layers). Write order makes every step crash safe: layer blobs and
unpacked layers, then the config blob, then the image record, then references; deletion
runs the other way round, and whatever a crash leaves unreferenced is collected when the
service starts.

Methods block (disk work); the API calls them through asyncio.to_thread. One re-entrant lock
serialises metadata changes; slow unpacking runs outside it, and garbage collection waits
until no import, load or save is in flight.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from .. import __version__
from ..errors import Conflict, InvalidParameter, NotFound
from ..linux import atomic
from ..store import archive, reference
from ..store import check as store_check
from ..store.archive import LOAD_PREFIX
from ..store.changes import full_config
from ..store.content import ContentStore
from ..store.metadata import MetadataStore
from ..store.reference import Reference
from ..store.snapshots import OverlayMount, Snapshotter, chain_ids

log = logging.getLogger(__name__)

ContainersUsing = Callable[[str], "list[tuple[str, bool]]"]
ZERO_TIME = "0001-01-01T00:00:00Z"
LIST_FILTERS = {"dangling", "label", "before", "since", "reference", "until"}
PRUNE_FILTERS = {"dangling", "label", "label!", "until"}
_RFC3339 = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
                      r"(Z|z|[+-]\d\d:?\d\d)?$")


def _now_rfc3339() -> str:
    from .timeutil import rfc3339nano
    return rfc3339nano()


def created_ns(value: str | None) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp (0 when absent or invalid)."""
    if not value:
        return 0
    match = _RFC3339.match(value.strip())
    if not match:
        return 0
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute),
                                   int(second), tzinfo=datetime.timezone.utc)
    except ValueError:
        return 0
    offset = 0
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    seconds = (moment - epoch) // datetime.timedelta(seconds=1) - offset
    return seconds * 1_000_000_000 + int((fraction or "0")[:9].ljust(9, "0"))


def _short(image_id: str) -> str:
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
        return _short(self.id)

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


class ImageService:
    def __init__(self, data_root: str, events: Any = None) -> None:
        self.root = data_root
        self.events = events
        self.content = ContentStore(data_root)
        self.meta = MetadataStore(data_root)
        self.snapshots = Snapshotter(data_root, self.content)
        self.containers_using: ContainersUsing = lambda image_id: []
        self.loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.RLock()
        self._configs: dict[str, dict[str, Any]] = {}
        self._busy = 0
        self._gc_pending = False
        with self._lock:
            self._recover()

    # --- start-up -----------------------------------------------------------------------------
    def _recover(self) -> None:
        """Drop what a crash may have left half done, then collect unreferenced data."""
        atomic.remove_temp_entries(self.meta.dir, (LOAD_PREFIX,))
        held = {info.get("image") for info in self.snapshots.list_rw().values()}
        for image_id, record in list(self.meta.images.items()):
            broken = not self.content.exists(image_id) or \
                any(not self.snapshots.has(c) for c in record.get("chain_ids") or [])
            if broken:
                log.warning("repaired: dropped image %s: its config or layers are missing",
                            image_id)
                self.meta.delete_image(image_id)
            elif record.get("pending"):
                if self.meta.refs_for(image_id) or image_id in held:
                    self._settle(image_id)    # its operation got as far as naming it
                else:
                    log.warning("repaired: dropped image %s: the import, load, pull or commit that "
                                "was recording it was interrupted", image_id)
                    self.meta.delete_image(image_id)
        stale = [text for text, image_id in self.meta.refs.items()
                 if image_id not in self.meta.images or
                 self.meta.images[image_id].get("removed")]
        if stale:
            for text in stale:
                log.warning("repaired: dropped reference %s: its image has no record", text)
                del self.meta.refs[text]
            self.meta.save_refs()
        self._collect()

    def check(self, busy_containers: Any = frozenset()) -> list[store_check.Finding]:
        """The store's consistency findings (store/check.py); what an import, load, pull or
        commit in flight has not recorded yet is not reported."""
        with self._lock:
            return store_check.check(self.root, self._busy > 0, busy_containers, os.getpid())

    # --- events ---------------------------------------------------------------------------------
    def _emit(self, action: str, actor: str, name: str | None,
              labels: dict[str, str] | None = None, **extra: str) -> None:
        if self.events is None:
            return
        attributes = dict(labels or {})
        if name is not None:
            attributes["name"] = name
        attributes.update(extra)
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                loop.call_soon_threadsafe(self.events.emit, "image", action, actor, attributes)
                return
        self.events.emit("image", action, actor, attributes)

    # --- lookup -------------------------------------------------------------------------------
    def _config(self, image_id: str) -> dict[str, Any]:
        config = self._configs.get(image_id)
        if config is None:
            config = json.loads(self.content.read(image_id))
            self._configs[image_id] = config
        return config

    def _live(self, image_id: str) -> bool:
        record = self.meta.images.get(image_id)
        return record is not None and not record.get("removed")

    def _image(self, image_id: str) -> Image:
        refs = self.meta.refs_for(image_id)
        return Image(image_id, self._config(image_id), self.meta.images[image_id],
                     [r.familiar_string() for r in refs if r.tag and not r.digest],
                     [r.familiar_string() for r in refs if r.digest])

    def _lookup(self, ref: str, allow_removed: bool = False) -> str:
        """moby's GetImage: an ID, a reference in the store, else a unique ID prefix."""
        parsed = reference.parse_any(ref)
        if isinstance(parsed, str):
            record = self.meta.images.get(parsed)
            if record is not None and (allow_removed or not record.get("removed")):
                return parsed
            raise NotFound(f"No such image: {parsed}")
        named = parsed
        if named.digest and named.tag:
            named = Reference(named.domain, named.path, None, named.digest)
        named = named.tag_name_only()
        found = self.meta.get_ref(named)
        if found is not None and self._live(found):
            return found
        prefix = reference.id_prefix(ref)
        if prefix is not None:
            matches = [i for i in self.meta.images if i[7:].startswith(prefix) and self._live(i)]
            if len(matches) == 1:
                return matches[0]
        raise NotFound(f"No such image: {named.familiar_string()}")

    def resolve(self, ref: str) -> Image:
        """The image a reference or ID names (raises NotFound "No such image: ..."). A
        container's image removed with `rmi -f` still resolves by its full ID."""
        with self._lock:
            return self._image(self._lookup(ref, allow_removed=True))

    def get(self, ref: str) -> Image:
        """Like resolve, but only images that are listed (not ones kept for a container)."""
        with self._lock:
            return self._image(self._lookup(ref))

    def exists(self, ref: str) -> bool:
        try:
            self.get(ref)
            return True
        except (NotFound, InvalidParameter):
            return False

    def count(self) -> int:
        with self._lock:
            return sum(1 for i in self.meta.images if self._live(i))

    def _children(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for image_id, record in self.meta.images.items():
            parent = record.get("parent")
            if parent and not record.get("removed"):
                counts[parent] = counts.get(parent, 0) + 1
        return counts

    # --- filters --------------------------------------------------------------------------------
    @staticmethod
    def _check_filters(filters: dict[str, list[str]] | None, accepted: set[str]
                       ) -> dict[str, list[str]]:
        filters = {k: list(v) for k, v in (filters or {}).items()}
        for key in filters:
            if key not in accepted:
                raise InvalidParameter(f"invalid filter '{key}'")
        return filters

    @staticmethod
    def _dangling_filter(filters: dict[str, list[str]], default: bool | None) -> bool | None:
        values = filters.get("dangling")
        if not values:
            return default
        lowered = {v.lower() for v in values}
        if lowered <= {"true", "1"}:
            return True
        if lowered <= {"false", "0"}:
            return False
        raise InvalidParameter(f"invalid filter 'dangling=[{' '.join(values)}]'")

    @staticmethod
    def _match_kv(conditions: list[str], labels: dict[str, str]) -> bool:
        """filters.Args.MatchKVList: every `key` or `key=value` must hold."""
        if not conditions:
            return True
        if not labels:
            return False
        for condition in conditions:
            key, sep, value = condition.partition("=")
            if key not in labels or (sep and labels[key] != value):
                return False
        return True

    def _until_ns(self, values: list[str]) -> int:
        from .timeutil import parse_timestamp

        limits = []
        for value in values:
            try:
                limits.append(int(parse_timestamp(value) * 1_000_000_000))
            except (ValueError, TypeError):
                raise InvalidParameter(f"failed to parse value {value} as a timestamp "
                                       "or duration") from None
        return min(limits)

    # --- list, inspect, history -----------------------------------------------------------------
    def list(self, all: bool = False, filters: dict[str, list[str]] | None = None,
             digests: bool = False, shared_size: bool = False) -> list[dict[str, Any]]:
        """GET /images/json, as Docker answers it (API >= 1.43: untagged images have empty
        RepoTags/RepoDigests; the API layer adds older versions' placeholders)."""
        filters = self._check_filters(filters, LIST_FILTERS)
        dangling = self._dangling_filter(filters, None)
        with self._lock:
            before = min((created_ns(self.get(v).created) for v in filters.get("before", [])),
                         default=None)
            since = max((created_ns(self.get(v).created) for v in filters.get("since", [])),
                        default=None)
            until = self._until_ns(filters["until"]) if filters.get("until") else None
            patterns = filters.get("reference", [])
            for pattern in patterns:
                reference.path_match(pattern, "")     # validates the pattern
            children = self._children()
            images = [self._image(i) for i in self.meta.images if self._live(i)]
        result = []
        for image in images:
            created = created_ns(image.created)
            if before is not None and not created < before:
                continue
            if since is not None and not created > since:
                continue
            if until is not None and created > until:
                continue
            if filters.get("label") and not self._match_kv(filters["label"], image.labels):
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

    def inspect(self, ref: str) -> dict[str, Any]:
        """Docker's ImageInspect (every field any API version has; the API layer drops
        those a version no longer sends)."""
        with self._lock:
            image = self.get(ref)
            lowers = [self.snapshots.diff_dir(c) for c in reversed(image.chain_ids)]
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

    def history(self, ref: str) -> list[dict[str, Any]]:
        """Newest first; rows other than those of local parent images are "<missing>"."""
        with self._lock:
            image = self.get(ref)
            rows: list[dict[str, Any]] = []
            rootfs: list[str] = []
            diff_ids = image.diff_ids
            for entry in image.config.get("history") or []:
                size = 0
                if not entry.get("empty_layer"):
                    if len(rootfs) >= len(diff_ids):
                        raise InvalidParameter("too many non-empty layers in History section")
                    rootfs.append(diff_ids[len(rootfs)])
                    size = self.snapshots.size(chain_ids(rootfs)[-1])
                rows.insert(0, {"Comment": entry.get("comment", ""),
                                "Created": created_ns(entry.get("created")) // 1_000_000_000,
                                "CreatedBy": entry.get("created_by", ""), "Id": "<missing>",
                                "Size": size, "Tags": None})
            current: Image | None = image
            for row in rows:
                if current is None:
                    break
                row["Id"] = current.id
                row["Tags"] = current.repo_tags or None
                parent = current.parent
                current = self._image(parent) if parent and parent in self.meta.images \
                    else None
            return rows

    # --- references ------------------------------------------------------------------------------
    def tag(self, source: str, repo: str, tag: str | None = None) -> str:
        """POST /images/{name}/tag: point repo[:tag] at the image (moving the tag)."""
        target = reference.repo_tag_reference(repo, tag)
        if target.familiar == "sha256":
            raise InvalidParameter("refusing to create an ambiguous tag using digest "
                                   "algorithm as name")
        with self._lock:
            image_id = self._lookup(source)
            self._set_tag(image_id, target)
        return image_id

    def _set_tag(self, image_id: str, target: Reference) -> str | None:
        previous = self.meta.set_ref(target, image_id)
        record = dict(self.meta.images[image_id])
        record["last_tag_time"] = _now_rfc3339()
        record.pop("pending", None)
        self.meta.put_image(record)
        self._emit("tag", image_id, target.familiar_string(), self._image(image_id).labels)
        return previous

    # --- removal ---------------------------------------------------------------------------------
    def _users(self, image_id: str) -> list[tuple[str, bool]]:
        for _ in range(5):
            try:
                return list(self.containers_using(image_id) or [])
            except RuntimeError:      # the container table changed under our feet; retry
                continue
        return list(self.containers_using(image_id) or [])

    @staticmethod
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

    def _conflict(self, image_id: str, hard: bool, soft_refs: bool, soft_stopped: bool
                  ) -> tuple[str, bool, bool] | None:
        """(message, hard, used) of the first conflict that applies, or None."""
        if hard and self._children().get(image_id):
            return "image has dependent child images", True, False
        users = self._users(image_id)
        if hard:
            running = [cid for cid, is_running in users if is_running]
            if running:
                return (f"image is being used by running container {_short(running[0])}",
                        True, True)
        if soft_refs and self.meta.refs_for(image_id):
            return "image is referenced in multiple repositories", False, False
        if soft_stopped:
            stopped = [cid for cid, is_running in users if not is_running]
            if stopped:
                return (f"image is being used by stopped container {_short(stopped[0])}",
                        False, True)
        return None

    @staticmethod
    def _conflict_error(image_id: str, conflict: tuple[str, bool, bool]) -> Conflict:
        message, hard, _ = conflict
        force = "cannot be forced" if hard else "must be forced"
        return Conflict(f"conflict: unable to delete {_short(image_id)} ({force}) - {message}")

    def remove(self, ref: str, force: bool = False, noprune: bool = False
               ) -> list[dict[str, str]]:
        """DELETE /images/{name}: Docker's rmi. A name untags (and deletes the image with
        its last name); an ID deletes the image with all its names. Conflicts as Docker:
        a container using the image's last name needs force; a running container can't be
        forced; several names need force when deleting by ID. Besides "Untagged" and
        "Deleted: <image ID>" the answer lists the layers (chain IDs) removed."""
        return self._remove(ref, force, noprune, {})

    def _remove(self, ref: str, force: bool, noprune: bool, freed: dict[str, int]
                ) -> list[dict[str, str]]:
        with self._lock:
            records: list[dict[str, str]] = []
            image_id = self._lookup(ref)
            repo_refs = self.meta.refs_for(image_id)
            removed_repository_ref = False
            if not reference.is_image_id_prefix(image_id, ref):
                if not force and self._single_reference(repo_refs):
                    users = self._users(image_id)
                    if users:
                        raise Conflict(f'conflict: unable to remove repository reference "{ref}"'
                                       f" (must force) - container {_short(users[0][0])} is "
                                       f"using its referenced image {_short(image_id)}")
                parsed = reference.parse_normalized_named(ref)
                if parsed.digest and parsed.tag:
                    parsed = Reference(parsed.domain, parsed.path, None, parsed.digest)
                parsed = parsed.tag_name_only()
                if self.meta.delete_ref(parsed) is None:
                    raise NotFound("reference does not exist")
                records.append({"Untagged": parsed.familiar_string()})
                self._emit("untag", image_id, image_id, self._image(image_id).labels)
                repo_refs = self.meta.refs_for(image_id)
                if not parsed.digest and not any(r.name == parsed.name and not r.digest
                                                 for r in repo_refs):
                    remaining = []
                    for other in repo_refs:
                        if other.digest and other.name == parsed.name:
                            self.meta.delete_ref(other)
                            records.append({"Untagged": other.familiar_string()})
                        else:
                            remaining.append(other)
                    repo_refs = remaining
                if repo_refs:
                    return records
                removed_repository_ref = True
            elif self._single_reference(repo_refs):
                conflict = self._conflict(image_id, True, False, not force)
                if conflict is not None:
                    raise self._conflict_error(image_id, conflict)
                for other in repo_refs:
                    self.meta.delete_ref(other)
                    self._emit("untag", image_id, image_id, self._image(image_id).labels)
                    records.append({"Untagged": other.familiar_string()})
            self._delete_helper(image_id, records, force, not noprune, removed_repository_ref,
                                freed)
            return records

    def _delete_helper(self, image_id: str, records: list[dict[str, str]], force: bool,
                       prune: bool, quiet: bool, freed: dict[str, int]) -> None:
        conflict = self._conflict(image_id, True, not force, not force)
        if conflict is not None:
            dangling = not self.meta.refs_for(image_id) and not self._children().get(image_id)
            if quiet and (not dangling or conflict[2]):
                return
            raise self._conflict_error(image_id, conflict)
        image = self._image(image_id)
        for other in self.meta.refs_for(image_id):
            self.meta.delete_ref(other)
            self._emit("untag", image_id, image_id, image.labels)
            records.append({"Untagged": other.familiar_string()})
        self._delete_image(image_id)
        self._emit("delete", image_id, image_id, image.labels)
        records.append({"Deleted": image_id})
        for chain, size in self._collect(order=image.chain_ids):
            records.append({"Deleted": chain})
            freed[chain] = size
        if prune and image.parent and self._live(image.parent):
            self._delete_helper(image.parent, records, False, True, True, freed)

    def _delete_image(self, image_id: str) -> None:
        """Forget an image. If a container sits on it, keep a hidden record (and so its
        config and layers) until that container's writable layer is removed."""
        held = any(info.get("image") == image_id
                   for info in self.snapshots.list_rw().values())
        if held:
            record = dict(self.meta.images[image_id])
            record["removed"] = True
            self.meta.put_image(record)
        else:
            self.meta.delete_image(image_id)

    # --- garbage collection ---------------------------------------------------------------------
    @contextlib.contextmanager
    def _ingest(self) -> Iterator[None]:
        """Marks an import/load/save in flight: garbage collection waits for it."""
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1
            if self._busy == 0 and self._gc_pending:
                self._collect()

    def _collect(self, order: Iterable[str] = ()) -> list[tuple[str, int]]:
        """Remove hidden records no container needs any more, layers no image or container
        uses and blobs nothing names. Returns the removed layers (chain ID, size), those in
        `order` first, topmost first."""
        with self._lock:
            if self._busy:
                self._gc_pending = True
                return []
            self._gc_pending = False
            rw = self.snapshots.list_rw().values()
            held_images = {info.get("image") for info in rw}
            for image_id, record in list(self.meta.images.items()):
                if record.get("removed") and image_id not in held_images:
                    self.meta.delete_image(image_id)
            for image_id in list(self._configs):
                if image_id not in self.meta.images:
                    del self._configs[image_id]
            keep = {c for r in self.meta.images.values() for c in r.get("chain_ids") or []}
            removed = self.snapshots.garbage_collect(keep, tuple(order))
            blobs = set(self.meta.images)
            blobs |= {self.snapshots.diff_id(c) for c in self.snapshots.list_layers()}
            for digest in list(self.content.list()):
                if digest not in blobs:
                    self.content.delete(digest)
            return removed

    def prune(self, dangling_only: bool | dict | None = None,
              filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """POST /images/prune: dangling images (or, with dangling=false, every image no
        container uses), filtered by until/label/label!."""
        if isinstance(dangling_only, dict):      # prune(filters)
            dangling_only, filters = None, dangling_only
        filters = self._check_filters(filters, PRUNE_FILTERS)
        dangling = self._dangling_filter(filters, True if dangling_only is None
                                         else bool(dangling_only))
        until = self._until_ns(filters["until"]) if filters.get("until") else None
        deleted: list[dict[str, str]] = []
        freed: dict[str, int] = {}
        with self._lock:
            children = self._children()
            candidates = []
            for image_id in list(self.meta.images):
                if not self._live(image_id):
                    continue
                image = self._image(image_id)
                refs = self.meta.refs_for(image_id)
                if dangling and children.get(image_id):
                    continue
                if not refs and children.get(image_id):
                    continue
                if until is not None and created_ns(image.created) > until:
                    continue
                if not self._match_kv(filters.get("label", []), image.labels):
                    continue
                if filters.get("label!") and self._match_kv(filters["label!"], image.labels):
                    continue
                if self._users(image_id):     # in use: keeps all its names
                    continue
                candidates.append((image_id, refs))
            for image_id, refs in candidates:
                if not self._live(image_id):
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
                        items = self._remove(target, False, False, freed)
                    except (Conflict, NotFound) as exc:
                        log.debug("prune: not removing %s: %s", target, exc)
                        continue
                    deleted.extend(items)
            reclaimed = sum(freed.values())
        self._emit("prune", "", None, reclaimed=str(reclaimed))
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # --- creating images -------------------------------------------------------------------------
    def import_image(self, source: str | BinaryIO, repo: str | None = None,
                     tag: str | None = None, message: str = "",
                     changes: list[str] | None = None, platform: str | None = None) -> str:
        """`docker import`: a root filesystem tarball (a stream, or a URL to fetch) becomes
        a one-layer image, optionally tagged repo[:tag]. Returns the image ID."""
        target = None
        if repo:
            target = reference.parse_normalized_named(repo)
            if target.digest:
                raise InvalidParameter("cannot import digest reference")
            target = target.with_tag(tag) if tag else target.tag_name_only()
        archive.check_changes(changes)
        archive.parse_platform(platform)
        with self._ingest():
            if isinstance(source, str):
                if source in ("", "-"):
                    raise InvalidParameter("import source must be a stream or a URL")
                url = source if "://" in source else f"http://{source}"
                stream: Any = archive.open_url(url)
                origin = url
            else:
                stream, origin = source, "-"
            try:
                layer = self.snapshots.unpack(None, stream)
            finally:
                if isinstance(source, str):
                    stream.close()
            config = archive.import_config(layer.diff_id, _now_rfc3339(), origin, message,
                                           changes, platform, __version__)
            image_id = self._store_image(config, [layer.chain_id], pending=target is not None)
            with self._lock:
                if target is not None:
                    self._set_tag(image_id, target)
                self._emit("import", image_id, image_id, self._image(image_id).labels)
        return image_id

    def create_image(self, config: dict[str, Any], layers: Iterable[BinaryIO] = (),
                     parent: str = "", tags: Iterable[str] = ()) -> str:
        """Register an image (for commit and build): `config`'s rootfs.diff_ids name layers
        that already exist (e.g. the parent's); each stream in `layers` is unpacked on top
        and its diff ID appended. Returns the image ID."""
        config = json.loads(json.dumps(config))
        rootfs = config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
        rootfs.setdefault("type", "layers")
        diff_ids = list(rootfs.get("diff_ids") or [])
        with self._ingest():
            chains = chain_ids(diff_ids)
            missing = [c for c in chains if not self.snapshots.has(c)]
            if missing:
                raise NotFound(f"layer {missing[0]} does not exist")
            for stream in layers:
                layer = self.snapshots.unpack(chains[-1] if chains else None, stream)
                diff_ids.append(layer.diff_id)
                chains.append(layer.chain_id)
            rootfs["diff_ids"] = diff_ids
            targets = [reference.parse(t) for t in tags]
            image_id = self._store_image(config, chains, parent, pending=bool(targets))
            with self._lock:
                for target in targets:
                    self._set_tag(image_id, target)
        return image_id

    def hold(self) -> contextlib.AbstractContextManager[None]:
        """Keeps garbage collection away while a pull assembles an image's layers."""
        return self._ingest()

    def add_pulled(self, config_raw: bytes, chains: list[str], targets: list[Reference]
                   ) -> tuple[str, bool]:
        """Record a pulled image (config verified, layers unpacked) and point its tag and
        repo digest at it. Returns (image ID, whether a reference was created or moved)."""
        config = json.loads(config_raw)
        image_id = self._store_image(config, chains, "", config_raw, pending=True)
        changed = False
        with self._lock:
            for target in targets:
                if self.meta.get_ref(target) != image_id:
                    self.meta.set_ref(target, image_id)
                    changed = True
            self._settle(image_id)
            self._emit("pull", targets[0].familiar_string(), targets[0].familiar,
                       self._image(image_id).labels)
        return image_id, changed

    def _settle(self, image_id: str) -> None:
        """The image's references are written: it is no longer pending."""
        record = self.meta.images.get(image_id)
        if record is not None and record.get("pending"):
            record = dict(record)
            del record["pending"]
            self.meta.put_image(record)

    def add_repo_digest(self, image_id: str, target: Reference) -> None:
        """After a push: the image is also known as name@digest (RepoDigests)."""
        with self._lock:
            if self._live(image_id) and self.meta.get_ref(target) != image_id:
                self.meta.set_ref(target, image_id)

    def _store_image(self, config: dict[str, Any], chains: list[str], parent: str = "",
                     raw: bytes | None = None, pending: bool = False) -> str:
        """Config blob, then record (its layers must be unpacked already). A new record
        is `pending` when references are to follow: one a crash leaves without them is an
        interrupted operation's, dropped at the next start (see _recover)."""
        if raw is None:
            raw = json.dumps(config, separators=(",", ":")).encode()
        image_id = self.content.write(raw)
        with self._lock:
            record = self.meta.images.get(image_id)
            stale = record is None or record.get("removed") or \
                bool(parent and record.get("parent", "") != parent)
            if stale:
                previous = record or {}
                record = {
                    "id": image_id, "parent": parent or previous.get("parent", ""),
                    "chain_ids": chains,
                    "diff_ids": list((config.get("rootfs") or {}).get("diff_ids") or []),
                    "size": sum(self.snapshots.size(c) for c in chains),
                    "created": config.get("created") or _now_rfc3339(),
                    "last_tag_time": previous.get("last_tag_time", "")}
                if pending:
                    record["pending"] = True
                self.meta.put_image(record)
            self._configs[image_id] = config
        return image_id

    # --- archives --------------------------------------------------------------------------------
    def save(self, refs: list[str]) -> Iterator[bytes]:
        """`docker save`: every name is resolved first (errors before any byte), then the
        archive streams. Returns an iterator with close()."""
        if not refs:
            raise InvalidParameter("no images specified")
        with self._lock:
            order: list[str] = []
            tags: dict[str, list[Reference]] = {}
            for name in refs:
                parsed = reference.parse_any(name)
                if isinstance(parsed, Reference) and parsed.familiar != "sha256" and \
                        parsed.is_name_only:
                    assoc = [(r, i) for r, i in self.meta.refs_by_name(parsed.name)
                             if self._live(i)]
                    if assoc:
                        for ref, image_id in assoc:
                            self._add_assoc(order, tags, image_id, ref)
                        continue
                    image_id = self._lookup(name)
                    self._add_assoc(order, tags, image_id, None)
                    continue
                if isinstance(parsed, Reference) and parsed.familiar != "sha256":
                    image_id = self._lookup(name)
                    target = parsed.tag_name_only()
                    self._add_assoc(order, tags, image_id,
                                    target if self.meta.get_ref(target) == image_id else None)
                    continue
                self._add_assoc(order, tags, self._lookup(name), None)
            items = [archive.SaveImage(i, self.content.read(i), self._image(i).diff_ids,
                                       tags[i]) for i in order]
            self._busy += 1
        for image_id in order:
            self._emit("save", image_id, image_id, self._image(image_id).labels)
        return _Stream(archive.save_archive(items, self.content.open), self._release)

    @staticmethod
    def _add_assoc(order: list[str], tags: dict[str, list[Reference]], image_id: str,
                   ref: Reference | None) -> None:
        if image_id not in tags:
            order.append(image_id)
            tags[image_id] = []
        if ref is not None and ref.tag and not ref.digest and ref not in tags[image_id]:
            tags[image_id].append(ref)

    def load(self, stream: BinaryIO, quiet: bool = False) -> list[str]:
        """`docker load` of a Docker or OCI archive. Returns Docker's messages ("Loaded
        image: busybox:latest", "Loaded image ID: sha256:..."). Loading twice is harmless."""
        return list(self.load_iter(stream, quiet))

    def load_iter(self, stream: BinaryIO, quiet: bool = False) -> Iterator[str]:
        """Like load, yielding each message as soon as its image is recorded."""
        with self._ingest():
            workdir = archive.temp_dir(self.meta.dir)
            try:
                archive.extract_archive(stream, workdir)
                items = archive.read_archive(workdir)
                for item in items:
                    yield from self._load_one(item)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)

    def _load_one(self, item: archive.ArchiveImage) -> Iterator[str]:
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
                    info = self.snapshots.unpack(parent_chain, f, diff_id, layer.digest)
                except InvalidParameter as exc:
                    raise InvalidParameter(f"{exc.message} (layer {position})") from None
            chains.append(info.chain_id)
            parent_chain = info.chain_id
        parent = item.parent if item.parent in self.meta.images else ""
        image_id = self._store_image(config, chains, parent, item.config_raw,
                                     pending=bool(targets))
        messages = []
        with self._lock:
            for target in targets:
                previous = self.meta.get_ref(target)
                if previous is not None and previous != image_id:
                    messages.append(f"The image {target.familiar_string()} already exists, "
                                    f"renaming the old one with ID {previous} to empty string")
                self.meta.set_ref(target, image_id)
                messages.append(f"Loaded image: {target.familiar_string()}")
            self._settle(image_id)
            if not targets:
                messages.append(f"Loaded image ID: {image_id}")
            self._emit("load", image_id, image_id, self._image(image_id).labels)
        yield from messages

    # --- containers' writable layers ------------------------------------------------------------
    def prepare_rw(self, container_id: str, image_id: str) -> OverlayMount:
        """The container's overlay: lowerdirs (topmost first), upperdir, workdir. Idempotent;
        once created it no longer depends on the image still being listed."""
        with self._lock:
            if self.snapshots.rw_info(container_id) is not None:
                return self.snapshots.prepare_rw(container_id)
            record = self.meta.images.get(image_id)
            if record is None:
                image_id = self._lookup(image_id, allow_removed=True)
                record = self.meta.images[image_id]
            return self.snapshots.prepare_rw(container_id, image_id,
                                             list(record.get("chain_ids") or []))

    def remove_rw(self, container_id: str) -> None:
        with self._lock:
            self.snapshots.remove_rw(container_id)
            self._collect()

    def remove_orphan_rw(self, containers: set[str]) -> None:
        """At start-up: drop writable layers whose container is not in `containers` (a
        create or rm was interrupted), then what only they kept."""
        with self._lock:
            orphans = [key for key in self.snapshots.list_rw() if key not in containers]
            for key in orphans:
                log.warning("repaired: removed writable layer %s: it belongs to no container",
                            key[:12])
                self.snapshots.remove_rw(key)
            if orphans:
                self._collect()
