"""The daemon's registry service: pull and push jobs over one aiohttp session each, with
the daemon's registry settings, download/upload limits and layer-blob knowledge."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

from .. import mediatypes, platforms, reference
from ..errors import DockyardError, InvalidParameter
from ..reference import Reference
from ..store.content import ContentStore
from ..store.snapshots import Snapshotter
from .client import RegistryError, Repository, Unreachable, error_from, new_session
from .endpoints import RegistrySettings
from .metadata import BlobCache
from .progress import error, status
from .stores import ImageRecorder

T = TypeVar("T")

log = logging.getLogger(__name__)


class Distribution:
    def __init__(self, images: ImageRecorder, content: ContentStore, snapshots: Snapshotter,
                 data_root: str, raw_config: dict[str, Any]) -> None:
        self.images = images
        self.content = content
        self.snapshots = snapshots
        self.settings = RegistrySettings.from_config(raw_config)
        self.cache = BlobCache(data_root)
        self.max_downloads = int(raw_config.get("max-concurrent-downloads") or 3)
        self.max_uploads = int(raw_config.get("max-concurrent-uploads") or 5)

    # --- pull -------------------------------------------------------------------------------
    async def pull(self, image: str, tag: str | None, platform: str | None, auth: Any
                   ) -> AsyncIterator[dict[str, Any]]:
        """Resolve first (errors raise before anything streams, as Docker answers them),
        then return the stream of progress messages of the pull itself."""
        from . import pull

        ref = reference.parse_normalized_named(image)
        if tag:
            if reference.is_digest(tag):
                ref = Reference(ref.domain, ref.path, None, tag)
            else:
                ref = ref.with_tag(tag)
        want = platforms.parse(platform)
        session = new_session()
        try:
            make_repo = lambda: Repository(session, self.settings, ref, auth)  # noqa: E731
            if ref.is_name_only:
                tags = await self._tags(make_repo, ref)
                refs = [ref.with_tag(t) for t in tags]
                # the first tag now (its errors come before the stream), the others later
                plans = [await pull.resolve(make_repo, self.settings, refs[0], want,
                                            platform is not None)]
            else:
                refs = [ref]
                plans = [await pull.resolve(make_repo, self.settings, ref, want,
                                            platform is not None)]
        except BaseException:
            await session.close()
            raise

        async def job(emit: Callable[[dict[str, Any]], None]) -> None:
            changed_any = False
            for position, target in enumerate(refs):
                plan = plans[position] if position < len(plans) else \
                    await pull.resolve(make_repo, self.settings, target, want,
                                       platform is not None)
                puller = pull.Puller(self.images, self.content, self.snapshots, self.cache,
                                     plan, emit, self.max_downloads)
                # the lease's rows commit (fsync) in a thread, never on the event loop
                lease = await asyncio.to_thread(self.images.lease)
                try:
                    _, changed = await puller.run(lease)
                finally:
                    await asyncio.to_thread(self.images.end_lease, lease)
                changed_any = changed_any or changed
                emit(status(f"Digest: {plan.digest}"))
                if not ref.is_name_only:
                    emit(_final_status(target.familiar_string(), changed))
            if ref.is_name_only:
                emit(_final_status(ref.familiar, changed_any))

        return _stream(job, session)

    async def _tags(self, make_repo: Callable[[], Repository], ref: Reference) -> list[str]:
        async def list_tags(repo: Repository) -> list[str]:
            response = await repo.request("GET", "tags/list")
            if response.status != 200:
                raise await error_from(response)
            try:
                return (json.loads(await response.read()) or {}).get("tags") or []
            finally:
                response.release()

        tags = await self._ask(make_repo, ref, ref.with_tag("latest"), list_tags)
        if not tags:
            raise InvalidParameter(f"no tags found for {ref.familiar}")
        return sorted(tags)

    async def _ask(self, make_repo: Callable[[], Repository], ref: Reference,
                   missing: Reference, question: Callable[[Repository], Awaitable[T]]) -> T:
        """Ask the registries serving `ref` in turn, mirrors first: a failing mirror is
        skipped, the registry's own answer is final (a registry error in Docker's words for
        the `missing` reference)."""
        from .pull import missing_error

        endpoints = self.settings.endpoints(ref.domain)
        for endpoint in endpoints:
            repo = make_repo()
            try:
                await repo.connect(endpoint)
                return await question(repo)
            except (RegistryError, Unreachable) as exc:
                if endpoint.mirror:
                    continue
                if isinstance(exc, RegistryError):
                    raise missing_error(missing, exc) from None
                raise
        raise AssertionError("endpoints always end with the registry itself")

    # --- inspect ----------------------------------------------------------------------------
    async def inspect(self, name: str, auth: Any) -> dict[str, Any]:
        """GET /distribution/{name}/json: the descriptor a reference names on its registry
        and the platforms it offers."""
        from . import pull

        ref = reference.parse_normalized_named(name).tag_name_only()
        if ref.tag and ref.digest:
            ref = Reference(ref.domain, ref.path, None, ref.digest)
        async def describe(repo: Repository) -> dict[str, Any]:
            raw, media_type, digest = await pull.fetch_manifest(repo, ref.digest or ref.tag)
            doc = json.loads(raw)
            if media_type in mediatypes.INDEXES:
                platforms = [m.get("platform") or {} for m in doc.get("manifests") or []]
            else:
                config = json.loads(await pull.fetch_blob(repo, doc["config"]["digest"]))
                platform = {"architecture": config.get("architecture", ""),
                            "os": config.get("os", "")}
                if config.get("variant"):
                    platform["variant"] = config["variant"]
                platforms = [platform]
            return {"Descriptor": {"mediaType": media_type, "digest": digest,
                                   "size": len(raw)}, "Platforms": platforms}

        async with new_session() as session:
            return await self._ask(lambda: Repository(session, self.settings, ref, auth), ref,
                                   ref, describe)

    # --- push -------------------------------------------------------------------------------
    async def push(self, name: str, tag: str | None, auth: Any
                   ) -> AsyncIterator[dict[str, Any]]:
        from . import push

        pushes = await asyncio.to_thread(push.local_images, self.images, name, tag)
        session = new_session()
        ref = pushes[0][0]

        async def job(emit: Callable[[dict[str, Any]], None]) -> None:
            repo = Repository(session, self.settings, ref, auth, push=True)
            emit(status(f"The push refers to repository [{ref.name}]"))
            await repo.connect(self.settings.endpoints(ref.domain)[-1])
            pusher = push.Pusher(self.images, self.content, self.cache, repo, emit,
                                 self.max_uploads)
            for target, image_id in pushes:
                await pusher.push(target, image_id)

        return _stream(job, session)

    def registry_config(self) -> dict[str, Any]:
        return self.settings.registry_config()


def _final_status(name: str, changed: bool) -> dict[str, Any]:
    word = "Downloaded newer image" if changed else "Image is up to date"
    return status(f"Status: {word} for {name}")


async def _stream(job: Callable[[Callable[[dict[str, Any]], None]], Awaitable[None]],
                  session: Any) -> AsyncIterator[dict[str, Any]]:
    """Run `job`, yielding what it emits; a failure ends the stream with an error line."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    done = object()

    async def runner() -> None:
        try:
            await job(queue.put_nowait)
        except DockyardError as exc:
            queue.put_nowait(error(exc.message))
        except Exception as exc:  # noqa: BLE001 - reported to the client, logged here
            log.exception("registry job failed")
            queue.put_nowait(error(str(exc) or exc.__class__.__name__))
        finally:
            queue.put_nowait(done)

    task = asyncio.ensure_future(runner())
    try:
        while True:
            item = await queue.get()
            if item is done:
                break
            yield item
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await session.close()
