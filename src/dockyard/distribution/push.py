"""Push: every layer of an image (in parallel, up to max-concurrent-uploads), then its
config, then a Docker schema 2 manifest under the tag.

A layer is gzip-compressed from the uncompressed tar the content store keeps under its diff
ID while it streams to the registry (POST, PATCH, PUT ?digest=), so nothing is written
locally; compression is deterministic, and the resulting digest is remembered with the
repository (distribution/metadata.py). So a layer a registry is known to have costs one
HEAD ("Layer already exists"), and one known in another repository of the same registry is
mounted from there ("Mounted from <repo>") instead of being uploaded again.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import time
import zlib
from typing import Any, AsyncIterator, Callable

from yarl import URL

from .. import mediatypes, reference
from ..errors import NotFound
from ..reference import Reference
from ..store.content import ContentStore
from .client import Repository, error_from
from .metadata import BlobCache
from .progress import Throttle, progress, short_id, status
from .stores import ImageRecorder

Emit = Callable[[dict[str, Any]], None]
_CHUNK = 1 << 20
_REUSABLE = {mediatypes.DOCKER_LAYER, mediatypes.OCI_LAYER_GZIP}


def local_images(images: ImageRecorder, name: str, tag: str | None
                 ) -> list[tuple[Reference, str]]:
    """(tagged reference, image ID) to push: the one tag, or every tag of the repository."""
    ref = reference.parse_normalized_named(name)
    missing = NotFound(f"An image does not exist locally with the tag: {ref.familiar}")
    if tag:
        ref = ref.with_tag(tag)
    if ref.tag:
        image_id = images.target(ref.name_only().with_tag(ref.tag))
        if image_id is None:
            raise missing
        return [(ref, image_id)]
    found = images.tagged(ref.name)
    if not found:
        raise missing
    return found


class Pusher:
    def __init__(self, images: ImageRecorder, content: ContentStore, cache: BlobCache,
                 repo: Repository, emit: Emit, max_uploads: int = 5) -> None:
        self.images = images
        self.content = content
        self.cache = cache
        self.repo = repo
        self.emit = emit
        self.max_uploads = max(1, max_uploads)
        self.slots = asyncio.Semaphore(self.max_uploads)
        self.done: dict[str, dict[str, Any]] = {}     # diff ID -> descriptor, this push

    async def push(self, target: Reference, image_id: str) -> None:
        image = await asyncio.to_thread(self.images.resolve, image_id)
        config_raw = await asyncio.to_thread(self.content.read, image_id)
        diff_ids = image.diff_ids
        pending = [d for d in reversed(diff_ids) if d not in self.done]
        for diff_id in pending:
            self.emit(status("Preparing", short_id(diff_id)))
        for diff_id in pending[self.max_uploads:]:
            self.emit(status("Waiting", short_id(diff_id)))
        tasks = [asyncio.ensure_future(self._layer(d)) for d in dict.fromkeys(pending)]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        if not await self._exists(image_id):
            await self._upload_bytes(config_raw, image_id)
        manifest = {
            "schemaVersion": 2, "mediaType": mediatypes.DOCKER_MANIFEST,
            "config": {"mediaType": mediatypes.DOCKER_CONFIG, "size": len(config_raw),
                       "digest": image_id},
            "layers": [self.done[d] for d in diff_ids]}
        raw = json.dumps(manifest, indent=3).encode()
        tag = target.tag or "latest"
        response = await self.repo.request(
            "PUT", f"manifests/{tag}", data=raw,
            headers={"Content-Type": mediatypes.DOCKER_MANIFEST})
        if response.status not in (200, 201):
            raise await error_from(response)
        response.release()
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        self.emit(status(f"{tag}: digest: {digest} size: {len(raw)}"))
        self.emit({"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest,
                                                 "Size": len(raw)}})
        await asyncio.to_thread(self.images.add_repo_digest, image_id,
                                Reference(target.domain, target.path, None, digest))

    async def _layer(self, diff_id: str) -> None:
        async with self.slots:
            self.done[diff_id] = await self._push_layer(diff_id)

    async def _push_layer(self, diff_id: str) -> dict[str, Any]:
        layer_id = short_id(diff_id)
        here = self.repo.ref.name
        host = self.repo.ref.domain
        known = [b for b in await asyncio.to_thread(self.cache.get, diff_id)
                 if b.get("mediaType") in _REUSABLE]
        for blob in known:                       # known to be in this very repository
            if here in blob.get("repos", []) and await self._exists(blob["digest"]):
                self.emit(status("Layer already exists", layer_id))
                return _descriptor(blob)
        for blob in known:                       # in another repository of this registry
            for other in blob.get("repos", []):
                if other != here and other.startswith(host + "/"):
                    source = other[len(host) + 1:]
                    if await self._mount(blob["digest"], source):
                        await asyncio.to_thread(self.cache.add, diff_id, blob["digest"],
                                                blob["size"], blob["mediaType"], here)
                        self.emit(status(f"Mounted from {source}", layer_id))
                        return _descriptor(blob)
        for blob in known:                       # the registry may have it anyway
            if await self._exists(blob["digest"]):
                await asyncio.to_thread(self.cache.add, diff_id, blob["digest"],
                                        blob["size"], blob["mediaType"], here)
                self.emit(status("Layer already exists", layer_id))
                return _descriptor(blob)
        digest, size = await self._upload_layer(diff_id, layer_id)
        await asyncio.to_thread(self.cache.add, diff_id, digest, size, mediatypes.DOCKER_LAYER,
                                here)
        self.emit(status("Pushed", layer_id))
        return {"mediaType": mediatypes.DOCKER_LAYER, "size": size, "digest": digest}

    async def _exists(self, digest: str) -> bool:
        response = await self.repo.request("HEAD", f"blobs/{digest}")
        response.release()
        if response.status == 200:
            return True
        if response.status == 404:
            return False
        raise await error_from(response)

    async def _mount(self, digest: str, source: str) -> bool:
        response = await self.repo.request(
            "POST", "blobs/uploads/", params={"mount": digest, "from": source},
            scopes=(f"repository:{source}:pull",))
        if response.status == 201:
            response.release()
            return True
        if response.status == 202:              # no mount: drop the upload it started
            location = response.headers.get("Location", "")
            response.release()
            if location:
                cancel = await self.repo.request("DELETE", "", url=self._absolute(location))
                cancel.release()
            return False
        raise await error_from(response)

    def _absolute(self, location: str) -> str:
        return str(URL(self.repo.base).join(URL(location)))

    async def _start_upload(self) -> str:
        response = await self.repo.request("POST", "blobs/uploads/")
        if response.status != 202:
            raise await error_from(response)
        response.release()
        return self._absolute(response.headers["Location"])

    async def _finish_upload(self, location: str, digest: str, body: bytes = b"") -> None:
        url = URL(location).update_query(digest=digest)
        response = await self.repo.request(
            "PUT", "", url=str(url), data=body,
            headers={"Content-Type": "application/octet-stream"})
        if response.status not in (201, 204):
            raise await error_from(response)
        response.release()

    async def _upload_bytes(self, data: bytes, digest: str) -> None:
        """A small blob (the config): POST, then PUT with the whole body."""
        await self._finish_upload(await self._start_upload(), digest, data)

    async def _upload_layer(self, diff_id: str, layer_id: str) -> tuple[str, int]:
        """POST, one streamed PATCH of the gzip-compressed tar, PUT ?digest=."""
        location = await self._start_upload()
        total = await asyncio.to_thread(self.content.size, diff_id)
        hasher = hashlib.sha256()
        sent = [0]
        started = time.time()
        throttle = Throttle()

        async def body() -> AsyncIterator[bytes]:
            source = await asyncio.to_thread(self.content.open, diff_id)
            gzip = _Gzip(source)
            read = 0
            try:
                while True:
                    chunk = await asyncio.to_thread(gzip.next)
                    if chunk is None:
                        break
                    data, consumed = chunk
                    read += consumed
                    if data:
                        hasher.update(data)
                        sent[0] += len(data)
                        yield data
                    if throttle.due():
                        self.emit(progress("Pushing", layer_id, read, total, started))
            finally:
                source.close()
            self.emit(progress("Pushing", layer_id, total, total, started))

        response = await self.repo.request(
            "PATCH", "", url=location, data=body(),
            headers={"Content-Type": "application/octet-stream"})
        if response.status != 202:
            raise await error_from(response)
        response.release()
        digest = "sha256:" + hasher.hexdigest()
        await self._finish_upload(self._absolute(response.headers["Location"]), digest)
        return digest, sent[0]


class _Gzip:
    """Deterministic gzip of a file, piece by piece (for a worker thread)."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        self.finished = False

    def next(self) -> tuple[bytes, int] | None:
        """The next piece of output and how many input bytes it took; None at the end."""
        if self.finished:
            return None
        raw = self.source.read(_CHUNK)
        if raw:
            return self.compressor.compress(raw), len(raw)
        self.finished = True
        return self.compressor.flush(), 0


def _descriptor(blob: dict[str, Any]) -> dict[str, Any]:
    return {"mediaType": mediatypes.DOCKER_LAYER, "size": int(blob["size"]),
            "digest": blob["digest"]}
