"""Pull: resolve a reference to an image manifest (choosing the platform from a list or
index), fetch the config, then download the missing layers in parallel, each one streamed
straight into the layer applier (decompressing, hashing and unpacking while it downloads),
and record the image with its tag and repo digest.

Every blob is hashed as it arrives; a digest or size mismatch stops the unpack of that layer
(its temp dir is removed) and no image is recorded. Layers are unpacked into temp dirs and
renamed into place, the image record is written after all of them: a crash at any point
leaves only unreferenced data, which the store throws away when it starts.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from .. import mediatypes, platforms
from ..errors import DockyardError, InvalidParameter, NotFound
from ..reference import Reference
from ..store.content import ContentStore
from ..store.snapshots import Snapshotter, chain_ids
from . import manifests
from .client import RegistryError, Repository, Unreachable, error_from
from .endpoints import RegistrySettings
from .metadata import BlobCache
from .progress import Throttle, progress, short_id, status
from .stores import ImageRecorder

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], None]
MAX_MANIFEST = 4 << 20
MAX_CONFIG = 8 << 20
_QUEUE_CHUNKS = 16
_BATCH = 256 * 1024


class VerificationError(DockyardError):
    """A blob whose bytes don't match its digest or size."""


@dataclass
class Plan:
    """What a resolved reference pulls."""
    ref: Reference                   # tagged or digested reference asked for
    repo: Repository
    digest: str                      # digest of what the reference names (list or manifest)
    manifest: dict[str, Any]         # the image manifest for our platform
    media_type: str
    wanted: platforms.Platform | None = None   # an explicit --platform for a lone manifest

    @property
    def tag_or_digest(self) -> str:
        return self.ref.digest or self.ref.tag or "latest"


def missing_error(ref: Reference, err: RegistryError) -> DockyardError:
    """Docker's texts for a manifest the registry doesn't have or won't show."""
    if err.code in ("MANIFEST_UNKNOWN", "NOT_FOUND") or \
            (err.http_status == 404 and err.code not in ("NAME_UNKNOWN",)):
        return NotFound(f"manifest for {ref.familiar_string()} not found: {err.message}")
    if err.code in ("NAME_UNKNOWN", "UNAUTHORIZED", "DENIED") or err.http_status in (401, 403):
        return NotFound(f"pull access denied for {ref.familiar}, repository does not exist "
                        f"or may require 'docker login': {err.message}")
    return DockyardError(err.message)


async def fetch_manifest(repo: Repository, reference: str) -> tuple[bytes, str, str]:
    """GET a manifest by tag or digest; returns (raw, media type, digest), verified."""
    response = await repo.request("GET", f"manifests/{reference}",
                                  headers={"Accept": manifests.ACCEPT})
    if response.status != 200:
        raise await error_from(response)
    try:
        raw = await _read_limited(response, MAX_MANIFEST)
    finally:
        response.release()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    expected = reference if reference.startswith("sha256:") else \
        response.headers.get("Docker-Content-Digest", "")
    if expected.startswith("sha256:") and expected != digest:
        raise VerificationError(f"manifest verification failed for digest {expected}")
    return raw, manifests.media_type(raw, response.headers.get("Content-Type", "")), digest


async def _read_limited(response: Any, limit: int) -> bytes:
    data = bytearray()
    async for chunk in response.content.iter_any():
        data += chunk
        if len(data) > limit:
            raise InvalidParameter(f"response too large (over {limit} bytes)")
    return bytes(data)


async def resolve(repo_for: Callable[[], Repository], settings: RegistrySettings,
                  ref: Reference, platform: platforms.Platform, explicit: bool = False
                  ) -> Plan:
    """Find the manifest for `ref` (trying mirrors first) and our platform's entry;
    `explicit`: the platform was asked for (a lone manifest must then match it)."""
    endpoints = settings.endpoints(ref.domain)
    last: DockyardError | None = None
    for endpoint in endpoints:
        repo = repo_for()
        try:
            await repo.connect(endpoint)
            return await _resolve_on(repo, ref, platform, explicit)
        except (RegistryError, Unreachable, VerificationError) as exc:
            if isinstance(exc, RegistryError):
                last = missing_error(ref, exc)
            else:
                last = exc
            if endpoint.mirror:
                log.info("mirror %s failed for %s: %s", endpoint.url, ref, exc)
                continue
            raise last from None
    raise last or NotFound(f"manifest for {ref.familiar_string()} not found")


async def _resolve_on(repo: Repository, ref: Reference, platform: platforms.Platform,
                      explicit: bool) -> Plan:
    reference = ref.digest or ref.tag or "latest"
    raw, media_type, digest = await fetch_manifest(repo, reference)
    doc = json.loads(raw)
    wanted: platforms.Platform | None = platform if explicit else None
    if media_type in mediatypes.INDEXES:
        wanted = None
        entry = manifests.select(doc, platform)
        raw, media_type, _ = await fetch_manifest(repo, entry["digest"])
        doc = json.loads(raw)
    if media_type not in mediatypes.MANIFESTS:
        raise InvalidParameter(f"unsupported manifest media type {media_type}")
    manifests.check_manifest(doc)
    return Plan(ref, repo, digest, doc, media_type, wanted)


async def fetch_blob(repo: Repository, digest: str, limit: int = MAX_CONFIG) -> bytes:
    """A small blob (an image config), verified against its digest."""
    response = await repo.request("GET", f"blobs/{digest}")
    if response.status != 200:
        raise await error_from(response)
    try:
        raw = await _read_limited(response, limit)
    finally:
        response.release()
    if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
        raise VerificationError(f"image config verification failed for digest {digest}")
    return raw


class _QueueReader:
    """The blocking file object a worker thread unpacks from, fed by the downloader
    through an asyncio queue (None ends it; an exception is raised in the reader)."""

    def __init__(self, queue: "asyncio.Queue[Any]", loop: asyncio.AbstractEventLoop,
                 on_read: Callable[[int], None]) -> None:
        self.queue = queue
        self.loop = loop
        self.on_read = on_read
        self.buffer = b""
        self.offset = 0          # read position in buffer
        self.consumed = 0
        self.reported = 0.0
        self.eof = False

    def read(self, size: int = -1) -> bytes:
        while self.offset >= len(self.buffer) and not self.eof:
            item = asyncio.run_coroutine_threadsafe(self.queue.get(), self.loop).result()
            if item is None:
                self.eof = True
            elif isinstance(item, BaseException):
                raise item
            else:
                self.buffer, self.offset = item, 0
        if size is None or size < 0:
            size = len(self.buffer)
        # a slice from an offset: slicing off the head would copy the rest every time
        data = self.buffer[self.offset:self.offset + size]
        self.offset += len(data)
        self.consumed += len(data)
        now = time.monotonic()
        if now - self.reported >= 0.1 or (self.eof and self.offset >= len(self.buffer)):
            self.reported = now
            self.loop.call_soon_threadsafe(self.on_read, self.consumed)
        return data


class Puller:
    """Runs one resolved plan: layers, config, image record; reports through `emit`."""

    def __init__(self, images: ImageRecorder, content: ContentStore, snapshots: Snapshotter,
                 cache: BlobCache, plan: Plan, emit: Emit, max_downloads: int = 3) -> None:
        self.images = images
        self.content = content
        self.snapshots = snapshots
        self.cache = cache
        self.plan = plan
        self.emit = emit
        self.max_downloads = max(1, max_downloads)
        self.slots = asyncio.Semaphore(self.max_downloads)
        self.lease: str | None = None      # what the layers unpack under (run's argument)

    async def run(self, lease: str | None = None) -> tuple[str, bool]:
        """Pull under `lease`; returns (image ID, whether a reference was created or
        moved)."""
        self.lease = lease
        plan = self.plan
        self.emit(status(f"Pulling from {plan.ref.path}", plan.tag_or_digest, layer=False))
        config_desc = plan.manifest["config"]
        config_raw = await self._config(config_desc)
        config = json.loads(config_raw)
        if plan.wanted is not None:
            actual = platforms.normalise(config.get("os", ""), config.get("architecture", ""),
                                         config.get("variant", ""))
            if (actual.os, actual.architecture) != (plan.wanted.os, plan.wanted.architecture):
                raise NotFound(f"image with reference {plan.ref.familiar_string()} was found "
                               f"but does not match the specified platform: wanted "
                               f"{plan.wanted}, actual: {actual}")
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        layers = list(plan.manifest.get("layers") or [])
        if len(diff_ids) != len(layers):
            raise InvalidParameter(f"invalid manifest: {len(layers)} layers for "
                                   f"{len(diff_ids)} diff IDs")
        chains = chain_ids(diff_ids)
        snapshots = self.snapshots
        local = self.images.exists(config_desc["digest"])   # then there is nothing to fetch
        todo = []
        for position, layer in enumerate([] if local else layers):
            layer_id = short_id(layer["digest"])
            if await asyncio.to_thread(snapshots.claim, chains[position], lease):
                self.emit(status("Already exists", layer_id))
            else:
                self.emit(status("Pulling fs layer", layer_id))
                todo.append(position)
        for position in todo[self.max_downloads:]:
            self.emit(status("Waiting", short_id(layers[position]["digest"])))
        tasks = [asyncio.ensure_future(self._layer(layers[p], diff_ids[p],
                                                   chains[p - 1] if p else None))
                 for p in todo]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        targets = [plan.ref] if plan.ref.digest else \
            [plan.ref, Reference(plan.ref.domain, plan.ref.path, None, plan.digest)]
        image_id, changed = await asyncio.to_thread(self.images.add_pulled, config_raw,
                                                    chains, targets)
        repo_name = plan.ref.name
        for layer, diff_id in zip(layers, diff_ids):
            await asyncio.to_thread(self.cache.add, diff_id, layer["digest"],
                                    int(layer.get("size", 0)), layer.get("mediaType", ""),
                                    repo_name)
        return image_id, changed

    async def _config(self, desc: dict[str, Any]) -> bytes:
        digest = desc["digest"]
        if self.content.exists(digest):
            return await asyncio.to_thread(self.content.read, digest)
        return await fetch_blob(self.plan.repo, digest)

    async def _layer(self, desc: dict[str, Any], diff_id: str, parent: str | None) -> None:
        async with self.slots:
            await self._download(desc, diff_id, parent)

    async def _download(self, desc: dict[str, Any], diff_id: str, parent: str | None) -> None:
        digest, size = str(desc["digest"]), int(desc.get("size", -1))
        layer_id = short_id(digest)
        if not digest.startswith("sha256:"):
            raise InvalidParameter(f"unsupported digest algorithm in {digest}")
        response = await self.plan.repo.request("GET", f"blobs/{digest}")
        if response.status != 200:
            raise await error_from(response)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue(_QUEUE_CHUNKS)
        downloaded = asyncio.Event()
        extract_throttle = Throttle()
        started = time.time()

        def on_read(consumed: int) -> None:
            if downloaded.is_set() and extract_throttle.due(consumed >= size):
                self.emit(progress("Extracting", layer_id, consumed, size, started))

        reader = _QueueReader(queue, loop, on_read)
        unpack = asyncio.ensure_future(asyncio.to_thread(
            self.snapshots.unpack, parent, reader, diff_id, digest, self.lease))
        unpack.add_done_callback(lambda _: _empty(queue))
        try:
            hasher = hashlib.sha256()
            got = 0
            throttle = Throttle()
            pending: list[bytes] = []
            pending_size = 0
            async for chunk in response.content.iter_any():
                hasher.update(chunk)
                got += len(chunk)
                if 0 <= size < got or unpack.done():
                    break
                pending.append(chunk)       # batched: every hand-over wakes the worker
                pending_size += len(chunk)
                if pending_size >= _BATCH:
                    await queue.put(b"".join(pending))
                    pending, pending_size = [], 0
                if throttle.due():
                    self.emit(progress("Downloading", layer_id, got, size, started))
            if pending and not unpack.done():
                await queue.put(b"".join(pending))
            if unpack.done():
                await unpack                     # raises the unpack's error
            actual = "sha256:" + hasher.hexdigest()
            self.emit(status("Verifying Checksum", layer_id))
            if actual != digest or (size >= 0 and got != size):
                failure = VerificationError(f"filesystem layer verification failed for "
                                            f"digest {digest}")
                await queue.put(failure)
                await asyncio.wait([unpack])
                raise failure
            self.emit(status("Download complete", layer_id))
            downloaded.set()
            await queue.put(None)
            await asyncio.shield(unpack)        # a cancel must not orphan the worker
        except BaseException:
            if not unpack.done():
                _empty(queue)
                queue.put_nowait(VerificationError("pull cancelled"))
                await asyncio.wait([unpack])      # (wait never cancels what it waits for)
            raise
        finally:
            response.release()
        self.emit(progress("Extracting", layer_id, max(size, 0), size, started))
        self.emit(status("Pull complete", layer_id))


def _empty(queue: "asyncio.Queue[Any]") -> None:
    while not queue.empty():
        queue.get_nowait()
