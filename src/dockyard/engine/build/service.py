"""The build service, what POST /build and /build/prune call: the context (the request
body, or a remote URL) unpacked in a private directory under <data-root>/build, the build
run, its messages handed out as they come; the directory and any build container gone
when it ends, fails, or the client goes away."""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
from typing import Any, AsyncIterator, BinaryIO

from ... import reference
from ...errors import DockyardError, InvalidParameter
from ...store.db import Database
from . import context, remote
from .builder import Build, new_workdir
from .options import BuildOptions
from .cache import BuildCache
from .steps import StepFailed

__all__ = ["BuildOptions", "BuildService"]
log = logging.getLogger(__name__)


class BuildService:
    def __init__(self, data_root: str, db: Database, images: Any, containers: Any,
                 distribution: Any) -> None:
        self.root = os.path.join(data_root, "build")
        self.work_root = os.path.join(self.root, "work")
        self.cache_root = os.path.join(self.root, "cache")
        os.makedirs(self.cache_root, mode=0o700, exist_ok=True)
        shutil.rmtree(self.work_root, ignore_errors=True)     # a crashed build's leftovers
        self.images, self.containers, self.distribution = images, containers, distribution
        self.cache = BuildCache(db)

    async def build(self, body: BinaryIO, options: BuildOptions) -> BuildStream:
        """The build's messages (Docker's JSON stream items). The context is read before
        the first message; errors after that come as an `error` item, as dockerd's."""
        check_tags(options.tags)
        workdir = await asyncio.to_thread(new_workdir, self.work_root)
        context_dir = os.path.join(workdir, "context")
        os.mkdir(context_dir)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        try:
            text = await asyncio.to_thread(self._receive, body, options, context_dir)
            build = Build(self, options, context_dir, workdir, _emitter(queue, options))
            build.prepare(text)     # a bad Dockerfile or target is a 400, as dockerd's
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        return BuildStream(self._run(build, queue, options, workdir), workdir)

    def _receive(self, body: BinaryIO, options: BuildOptions, context_dir: str) -> str:
        if options.remote:
            while body.read(1 << 20):
                pass
            remote.fetch(options.remote, context_dir)
        else:
            context.receive(body, context_dir)
        text = context.read_dockerfile(context_dir, options.dockerfile)
        context.apply_dockerignore(context_dir)
        return text

    async def _run(self, build: Build, queue: asyncio.Queue[dict[str, Any] | None],
                   options: BuildOptions, workdir: str) -> AsyncIterator[dict[str, Any]]:
        quiet, emit = options.quiet, build.emit

        async def job() -> None:
            try:
                image_id = await build.run()
                if not image_id:     # FROM scratch and nothing after it
                    raise InvalidParameter("No image was generated. Is your Dockerfile empty?")
                queue.put_nowait({"aux": {"ID": image_id}})
                if quiet:
                    queue.put_nowait({"stream": image_id + "\n"})
                else:
                    emit({"stream": f"Successfully built {image_id.split(':')[-1][:12]}\n"})
                for tag in options.tags:
                    await asyncio.to_thread(self._tag, image_id, tag)
                    emit({"stream": f"Successfully tagged {_familiar(tag)}\n"})
            except DockyardError as exc:
                detail: dict[str, Any] = {"message": exc.message}
                if isinstance(exc, StepFailed):
                    detail = {"code": exc.code, **detail}
                queue.put_nowait({"errorDetail": detail, "error": exc.message})
            except Exception as exc:  # noqa: BLE001 - the stream has begun: say it there
                log.exception("build failed")
                message = f"{type(exc).__name__}: {exc}"
                queue.put_nowait({"errorDetail": {"message": message}, "error": message})
            finally:
                queue.put_nowait(None)

        task = asyncio.ensure_future(job())
        try:
            while (message := await queue.get()) is not None:
                yield message
            await task
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    def _tag(self, image_id: str, tag: str) -> None:
        with self.images.lock:
            self.images.set_tag(image_id, reference.parse(tag))

    async def prune(self, all_: bool = False) -> dict[str, Any]:
        """/build/prune: the cache's records and directories (RUN --mount=type=cache)."""
        keys = await asyncio.to_thread(self.cache.clear)
        mounts = sorted(os.listdir(self.cache_root))
        reclaimed = await asyncio.to_thread(_du, self.cache_root)
        await asyncio.to_thread(shutil.rmtree, self.cache_root, True)
        os.makedirs(self.cache_root, mode=0o700, exist_ok=True)
        return {"CachesDeleted": [k[:25] for k in keys] + mounts or None,
                "SpaceReclaimed": reclaimed}


class BuildStream:
    """The build's messages (async iteration). aclose() ends the build and removes its
    work directory, also when the stream was never iterated (a client gone before the
    answer started)."""

    def __init__(self, messages: AsyncIterator[dict[str, Any]], workdir: str) -> None:
        self.messages, self.workdir = messages, workdir

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self.messages

    async def aclose(self) -> None:
        await self.messages.aclose()  # type: ignore[attr-defined]
        await asyncio.to_thread(shutil.rmtree, self.workdir, True)


def _emitter(queue: asyncio.Queue[dict[str, Any] | None], options: BuildOptions
             ) -> Any:
    def emit(message: dict[str, Any]) -> None:
        if not options.quiet or "error" in message:
            queue.put_nowait(message)
    return emit


def _familiar(tag: str) -> str:
    return reference.parse(tag).familiar_string()


def check_tags(tags: list[str]) -> None:
    """Docker refuses a bad -t before it reads the context."""
    for tag in tags:
        try:
            ref = reference.parse(tag)
        except InvalidParameter:
            raise InvalidParameter(f"invalid reference format: {tag!r}") from None
        if ref.digest:
            raise InvalidParameter(f"invalid reference format: {tag!r}")


def _du(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total
