"""The image records: the state every image job shares (content store, metadata store,
snapshotter, one re-entrant lock, the config cache) and the primitives they build on: lookup
with Docker's rules, naming, recording a new image, events, and garbage collection.

Write order makes every step crash safe: layer blobs and unpacked layers, then the config
blob, then the image's rows (record and references in one transaction of the metadata
database); deletion runs the other way round, and whatever a crash leaves unreferenced is
collected when the service starts (`recover`). Methods block (disk work); the API calls them
through asyncio.to_thread. Slow unpacking runs outside the lock. An import, load, pull,
commit, build or save's stream holds a lease (`ingest`) on every layer and blob it creates
or reuses: garbage collection is a query that skips what leases hold and runs at once.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from typing import Any, Iterable, Iterator, Protocol

from ... import reference
from ...errors import InvalidParameter, NotFound
from ...linux import atomic
from ...reference import Reference
from ...store import check as store_check, layer_rows
from ...store.archive import LOAD_PREFIX
from ...store.content import ContentStore
from ...store.db import FILENAME as DB_FILENAME, Database
from ...store.metadata import MetadataStore
from ...store.snapshots import Snapshotter
from ...timeutil import rfc3339nano
from .model import Image

log = logging.getLogger(__name__)


class ContainersUsing(Protocol):
    """The container service's answer to "who uses this image": (container ID, running)."""
    def __call__(self, image_id: str) -> list[tuple[str, bool]]: ...


class EventSink(Protocol):
    def emit(self, type_: str, action: str, actor: str, attributes: dict[str, str]) -> None: ...


def _nobody(image_id: str) -> list[tuple[str, bool]]:
    return []


class ImageRecords:
    def __init__(self, data_root: str, events: EventSink | None = None,
                 containers_using: ContainersUsing = _nobody,
                 db: Database | None = None) -> None:
        self.root = data_root
        self.events = events
        os.makedirs(data_root, mode=0o711, exist_ok=True)
        self.db = db if db is not None else Database(os.path.join(data_root, DB_FILENAME))
        self.meta = MetadataStore(data_root, self.db)
        self.content = ContentStore(data_root, self.db)
        self.snapshots = Snapshotter(data_root, self.content)
        self.containers_using = containers_using
        self.lock = threading.RLock()
        self._configs: dict[str, dict[str, Any]] = {}
        self._doomed: list[tuple[str, str]] = []   # (chain, link) collect() took, see _sweep
        self._doomed_blobs: list[str] = []
        self._sweep_queued = False
        with self.lock:
            self.recover()

    # --- start-up -------------------------------------------------------------------------------
    def recover(self) -> None:
        """Drop what a crash may have left half done: the dead daemon's leases, rows whose
        files vanished and the images that needed them (one transaction); then collect."""
        atomic.remove_temp_entries(self.meta.dir, (LOAD_PREFIX,))
        stale = layer_rows.drop_all_leases(self.db)
        if stale:
            log.warning("repaired: dropped %d leases of an interrupted operation", stale)
        held = {info.get("image") for info in self.snapshots.list_rw().values()}
        with self.meta.transaction():
            for chain in self.snapshots.missing():
                log.warning("repaired: dropped layer %s: its directory is missing", chain)
                self.snapshots.remove_layer(chain)
            for digest in self.content.missing():
                log.warning("repaired: dropped blob %s: its file is missing", digest)
                self.content.delete(digest)
            for image_id, record in list(self.meta.images.items()):
                broken = not self.content.exists(image_id) or \
                    any(not self.snapshots.has(c) for c in record.get("chain_ids") or [])
                if broken:
                    log.warning("repaired: dropped image %s: its config or layers are "
                                "missing", image_id)
                    self._forget(image_id)
                elif record.get("pending"):       # only the JSON layout's records have it
                    if self.meta.refs_for(image_id) or image_id in held:
                        self.settle(image_id)    # its operation got as far as naming it
                    else:
                        log.warning("repaired: dropped image %s: the import, load, pull or "
                                    "commit that was recording it was interrupted", image_id)
                        self._forget(image_id)
                elif record.get("removed"):
                    self._forget(image_id, keep_record=True)
            for text, image_id in sorted(self.meta.refs.items()):
                if image_id not in self.meta.images:     # written without foreign keys
                    log.warning("repaired: dropped reference %s: its image has no record",
                                text)
                    self.meta.delete_ref(reference.parse_normalized_named(text))
        self.collect()

    def _forget(self, image_id: str, keep_record: bool = False) -> None:
        for ref in self.meta.refs_for(image_id):
            log.warning("repaired: dropped reference %s: its image is gone", ref)
            self.meta.delete_ref(ref)
        if not keep_record:
            self.meta.delete_image(image_id)

    def check(self, busy_containers: Any = frozenset()) -> list[store_check.Finding]:
        """The store's consistency findings (store/check.py); what an import, load, pull or
        commit in flight has not recorded yet is not reported."""
        with self.lock:
            leased = self.db.query_one("SELECT 1 FROM leases") is not None
            return store_check.check(self.root, leased, busy_containers, os.getpid(), self.db)

    # --- events ---------------------------------------------------------------------------------
    def emit(self, action: str, actor: str, name: str | None,
             labels: dict[str, str] | None = None, **extra: str) -> None:
        if self.events is None:
            return
        attributes = dict(labels or {})
        if name is not None:
            attributes["name"] = name
        attributes.update(extra)
        self.events.emit("image", action, actor, attributes)

    # --- lookup ---------------------------------------------------------------------------------
    def config(self, image_id: str) -> dict[str, Any]:
        config = self._configs.get(image_id)
        if config is None:
            config = json.loads(self.content.read(image_id))
            self._configs[image_id] = config
        return config

    def live(self, image_id: str) -> bool:
        record = self.meta.images.get(image_id)
        return record is not None and not record.get("removed")

    def image(self, image_id: str) -> Image:
        refs = self.meta.refs_for(image_id)
        return Image(image_id, self.config(image_id), self.meta.images[image_id],
                     [r.familiar_string() for r in refs if r.tag and not r.digest],
                     [r.familiar_string() for r in refs if r.digest])

    def lookup(self, ref: str, allow_removed: bool = False) -> str:
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
        if found is not None and self.live(found):
            return found
        prefix = reference.id_prefix(ref)
        if prefix is not None:
            matches = [i for i in self.meta.images if i[7:].startswith(prefix) and self.live(i)]
            if len(matches) == 1:
                return matches[0]
        raise NotFound(f"No such image: {named.familiar_string()}")

    def resolve(self, ref: str) -> Image:
        """The image a reference or ID names (raises NotFound "No such image: ..."). A
        container's image removed with `rmi -f` still resolves by its full ID."""
        with self.lock:
            return self.image(self.lookup(ref, allow_removed=True))

    def get(self, ref: str) -> Image:
        """Like resolve, but only images that are listed (not ones kept for a container)."""
        with self.lock:
            return self.image(self.lookup(ref))

    def target(self, ref: Reference) -> str | None:
        """The listed image a full reference points to, if any."""
        with self.lock:
            image_id = self.meta.get_ref(ref)
            return image_id if image_id is not None and self.live(image_id) else None

    def tagged(self, name: str) -> list[tuple[Reference, str]]:
        """(tag, image ID) of every listed image tagged in repository `name`."""
        with self.lock:
            return [(r, i) for r, i in self.meta.refs_by_name(name)
                    if r.tag and not r.digest and self.live(i)]

    def exists(self, ref: str) -> bool:
        try:
            self.get(ref)
            return True
        except (NotFound, InvalidParameter):
            return False

    def count(self) -> int:
        with self.lock:
            return sum(1 for i in self.meta.images if self.live(i))

    def children(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for image_id, record in self.meta.images.items():
            parent = record.get("parent")
            if parent and not record.get("removed"):
                counts[parent] = counts.get(parent, 0) + 1
        return counts

    # --- references -----------------------------------------------------------------------------
    def tag(self, source: str, repo: str, tag: str | None = None) -> str:
        """POST /images/{name}/tag: point repo[:tag] at the image (moving the tag)."""
        target = reference.repo_tag_reference(repo, tag)
        if target.familiar == "sha256":
            raise InvalidParameter("refusing to create an ambiguous tag using digest "
                                   "algorithm as name")
        with self.lock:
            image_id = self.lookup(source)
            self.set_tag(image_id, target)
        return image_id

    def set_tag(self, image_id: str, target: Reference) -> str | None:
        with self.meta.transaction():
            previous = self.meta.set_ref(target, image_id)
            record = dict(self.meta.images[image_id])
            record["last_tag_time"] = rfc3339nano()
            record.pop("pending", None)
            self.meta.put_image(record)
        self.emit("tag", image_id, target.familiar_string(), self.image(image_id).labels)
        return previous

    def users(self, image_id: str) -> list[tuple[str, bool]]:
        return list(self.containers_using(image_id) or [])

    # --- garbage collection ---------------------------------------------------------------------
    @contextlib.contextmanager
    def ingest(self) -> Iterator[str]:
        """A lease for an operation in flight: what it unpacks, writes or claims under it
        stays until the lease ends (by then image rows name what it kept), then the rest
        is collected."""
        lease = self.lease()
        try:
            yield lease
        finally:
            self.end_lease(lease)

    def lease(self) -> str:
        """A lease until `end_lease` (a pull's, a save stream's)."""
        return layer_rows.new_lease(self.db)

    def end_lease(self, lease: str) -> None:
        with self.lock, self.db.transaction():      # the lease and what only it held: one commit
            layer_rows.drop_lease(self.db, lease)
            self.collect()

    def collect(self, order: Iterable[str] = ()) -> list[tuple[str, int]]:
        """Remove hidden records no container needs any more, layers no image, container or
        lease uses and blobs nothing names: queries in one transaction (joining the
        caller's, as rmi's and prune's). Returns the removed layers (chain ID, size), those
        in `order` first, topmost first. The files go once the transaction has committed,
        and only then: rows never name a layer already deleted, and the database is not
        held while directories are removed."""
        with self.lock, self.meta.transaction():
            held_images = {r[0] for r in self.db.query(
                "SELECT DISTINCT image_id FROM writable_layers")}
            for image_id, record in list(self.meta.images.items()):
                if record.get("removed") and image_id not in held_images:
                    self.meta.delete_image(image_id)
            for image_id in list(self._configs):
                if image_id not in self.meta.images:
                    del self._configs[image_id]
            with self.db.transaction() as conn:
                taken = layer_rows.take_unused_layers(conn)
                self._doomed_blobs += layer_rows.take_unused_blobs(conn)
            self._doomed += [(chain, link) for chain, link, _ in taken]
            sizes = {chain: size for chain, _, size in taken}
            wanted = list(reversed(list(order)))
            removed = [(c, sizes[c]) for c in wanted if c in sizes] + \
                [(c, sizes[c]) for c in sorted(sizes) if c not in set(wanted)]
            if not self._sweep_queued and (self._doomed or self._doomed_blobs):
                self._sweep_queued = True
                self.db.when_done(self._sweep)
            return removed

    def _sweep(self, committed: bool) -> None:
        """The file part of `collect`, once its rows are settled: the layers' directories,
        then the blobs' files."""
        with self.lock:
            doomed, self._doomed, self._sweep_queued = self._doomed, [], False
            blobs, self._doomed_blobs = self._doomed_blobs, []
        if committed:
            self.snapshots.remove_dirs(doomed)
            self.content.remove_files(blobs)

    def settle(self, image_id: str) -> None:
        """A record of the JSON layout marked `pending` whose references were written."""
        record = self.meta.images.get(image_id)
        if record is not None and record.get("pending"):
            record = dict(record)
            del record["pending"]
            self.meta.put_image(record)

    def store_image(self, config: dict[str, Any], chains: list[str], parent: str = "",
                    raw: bytes | None = None, lease: str | None = None) -> str:
        """Config blob, then record (its layers must be unpacked already). Callers that
        name the image call this inside `meta.transaction()` with the naming, so the record
        and its references commit together."""
        if raw is None:
            raw = json.dumps(config, separators=(",", ":")).encode()
        image_id = self.content.write(raw, lease=lease)
        with self.lock:
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
                    "created": config.get("created") or rfc3339nano(),
                    "last_tag_time": previous.get("last_tag_time", "")}
                self.meta.put_image(record)
            self._configs[image_id] = config
        return image_id
