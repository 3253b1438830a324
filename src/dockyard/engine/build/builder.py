"""One build: the stages the target needs, each on its base (an image, pulled when not
local or when asked, an earlier stage, or scratch), independent stages at the same time;
the transcript in the classic builder's words ("Step N/M : ...", " ---> <id>"); build
containers always removed on failure or cancellation (with rm, after each RUN too)."""
from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Any

from ... import platforms
from ...errors import DockyardError, InvalidParameter, NotFound
from ...timeutil import rfc3339nano
from .. import commit as commit_mod
from ..containers.monitor import FRAME_STDERR
from . import mounts, shell, stagefiles
from .options import BuildOptions
from .parser import Dockerfile, Instruction, Stage, parse
from .steps import PREDEFINED_ARGS, Emit, State, StepFailed, StepRunner



class Build:
    """The services and options a build's steps use; `run` builds and returns the ID."""

    def __init__(self, services: Any, options: BuildOptions, context_dir: str,
                 workdir: str, emit: Emit) -> None:
        self.images, self.containers = services.images, services.containers
        self.distribution, self.cache = services.distribution, services.cache
        self.cache_root = services.cache_root
        self.options, self.context_dir, self.workdir = options, context_dir, workdir
        self.emit = emit
        self.no_cache = options.no_cache
        epoch = options.source_date_epoch
        if epoch is None and options.build_args.get("SOURCE_DATE_EPOCH"):
            try:
                epoch = int(options.build_args["SOURCE_DATE_EPOCH"] or "")
            except ValueError:
                raise InvalidParameter("invalid SOURCE_DATE_EPOCH: "
                                       f"{options.build_args['SOURCE_DATE_EPOCH']}") from None
        self.epoch = epoch
        self.declared: set[str] = set(PREDEFINED_ARGS) | {"SOURCE_DATE_EPOCH"}
        self.meta_args: dict[str, str] = {}
        self.results: dict[int, asyncio.Future[str]] = {}
        self.live_containers: set[str] = set()
        self.removals: list[asyncio.Future[None]] = []
        self._cache_sources: set[str] | None = None

    # --- helpers the steps call ------------------------------------------------------------
    def created(self) -> str:
        if self.epoch is not None:
            import datetime
            return datetime.datetime.fromtimestamp(self.epoch, datetime.timezone.utc
                                                   ).strftime("%Y-%m-%dT%H:%M:%SZ")
        return rfc3339nano()

    def arg_value(self, name: str, default: str | None) -> str | None:
        if name in self.options.build_args and self.options.build_args[name] is not None:
            return self.options.build_args[name]
        if default is None and name in self.meta_args:
            return self.meta_args[name]
        return default

    def cache_source_allowed(self, image_id: str) -> bool:
        """With --cache-from, only those images' ancestry may be reused (classic rule)."""
        if self.options.cache_from is None:
            return True
        if self._cache_sources is None:
            allowed: set[str] = set()
            for ref in self.options.cache_from:
                try:
                    image = self.images.resolve(ref)
                except DockyardError:
                    continue
                while image is not None and image.id not in allowed:
                    allowed.add(image.id)
                    try:
                        image = self.images.resolve(image.parent) if image.parent else None
                    except DockyardError:
                        image = None
            self._cache_sources = allowed
        return image_id in self._cache_sources

    async def run_container(self, runner: StepRunner, cmd: list[str], arg_env: list[str],
                            created_by: str, config: dict[str, Any], ins: Instruction,
                            host_mounts: list[dict[str, Any]] | None) -> str:
        """RUN: a build container on the state's image, its output streamed, committed."""
        state = runner.state
        if not state.image_id:
            raise InvalidParameter("Please provide a source image with `from` prior to run")
        opts = self.options
        body = {**config, "Image": state.image_id, "Cmd": cmd, "Entrypoint": [""],
                "Env": [*(config.get("Env") or []), *arg_env], "Healthcheck": None,
                "AttachStdout": True, "AttachStderr": True, "Labels": config.get("Labels"),
                "HostConfig": {
                    "NetworkMode": ins.flag("network") or opts.network_mode or "default",
                    "Memory": opts.memory, "MemorySwap": opts.memory_swap,
                    "CpuShares": opts.cpu_shares, "CpusetCpus": opts.cpuset_cpus,
                    "CpuPeriod": opts.cpu_period, "CpuQuota": opts.cpu_quota,
                    "ShmSize": opts.shm_size or None, "ExtraHosts": opts.extra_hosts or None,
                    "Ulimits": opts.ulimits or None,
                    "Mounts": host_mounts}}
        created = await self.containers.create(body, None)
        cid = created["Id"]
        self.live_containers.add(cid)
        runner.out(f" ---> Running in {cid[:12]}\n")
        try:
            container = self.containers.get(cid)
            queue = self.containers.subscribe(container)
            await self.containers.start(cid)
            while (frame := await queue.get()) is not None:
                text = frame[1].decode("utf-8", "replace")
                # the classic builder paints each stderr chunk red, as docker-py expects
                runner.out(f"\x1b[91m{text}\x1b[0m" if frame[0] == FRAME_STDERR else text)
            status = (await self.containers.wait(cid, ""))["StatusCode"]
            if status != 0:
                raise StepFailed(cmd, status)
            image_id = await commit_mod.commit(
                self.containers, cid, config=config, created_by=created_by,
                created=self.created(), merge=False, pause=False, clamp=self.epoch)
        except BaseException:
            if opts.remove or opts.force_remove:
                await self._remove(cid, runner)
            raise
        if opts.remove:
            await self._remove(cid, runner)
            runner.out(f"Removing intermediate container {cid[:12]}\n")
        return image_id

    async def nop_container(self, runner: StepRunner, config: dict[str, Any],
                            created_by: str, make: Any) -> str:
        """A metadata step's intermediate container, as the classic builder makes one
        (created, never started; its image is made without it: nothing can change)."""
        shell_ = list(config.get("Shell") or ["/bin/sh", "-c"])
        comment = created_by.split("#(nop)  ", 1)[-1]
        body = {**config, "Image": runner.state.image_id, "Entrypoint": [""],
                "Cmd": [*shell_, "#(nop) ", comment], "Healthcheck": None,
                "HostConfig": {"NetworkMode": "none"}}
        cid = (await self.containers.create(body, None))["Id"]
        self.live_containers.add(cid)
        runner.out(f" ---> Running in {cid[:12]}\n")
        try:
            image_id = await make()
        except BaseException:
            if self.options.remove or self.options.force_remove:
                await self._remove(cid, runner)
            raise
        if self.options.remove:
            await self._remove(cid, runner)
            runner.out(f"Removing intermediate container {cid[:12]}\n")
        return image_id

    async def _remove(self, cid: str, runner: StepRunner) -> None:
        """Removal goes on in the background (the next step need not wait for it);
        cleanup() waits for every one before the build ends."""
        self.live_containers.discard(cid)
        self.removals.append(asyncio.ensure_future(self._remove_now(cid)))

    async def _remove_now(self, cid: str) -> None:
        try:
            await self.containers.remove(cid, force=True, volumes=True)
        except DockyardError:
            pass

    async def cleanup(self) -> None:
        if self.options.remove or self.options.force_remove:
            self.removals += [asyncio.ensure_future(self._remove_now(cid))
                              for cid in self.live_containers]
            self.live_containers.clear()
        while self.removals:
            await asyncio.shield(asyncio.gather(*self.removals, return_exceptions=True))
            self.removals = [t for t in self.removals if not t.done()]

    async def stage_files(self, ref: str, sources: list[str], scratch: str) -> str:
        """COPY --from: the named paths of a stage's (or an image's) filesystem, copied
        into `scratch` through a build container (never started)."""
        image_id = await self.stage_image(ref)
        return await stagefiles.copy_out(self, image_id, sources, scratch)

    async def stage_image(self, ref: str) -> str:
        index = self.stage_index(ref)
        if index is not None:
            return await self.results[index]
        return await self.base_image(shell.word(ref, self.meta_args))

    def stage_index(self, ref: str) -> int | None:
        for stage in self.doc.stages:
            if stage.name and stage.name == ref.lower():
                return stage.index
        if ref.isdigit() and int(ref) < len(self.doc.stages):
            return int(ref)
        return None

    async def base_image(self, ref: str, platform: str | None = None,
                         emit: Emit | None = None) -> str:
        """An image FROM names: local, or pulled (always with --pull) for FROM's
        --platform or the build's."""
        if not self.options.pull:
            try:
                return self.images.resolve(ref).id
            except NotFound:
                pass
        try:
            messages = await self.distribution.pull(
                ref, None, platform or self.options.platform or None, None)
            async for message in messages:
                if "error" in message:
                    raise InvalidParameter(message["error"])
                (emit or self.emit)(message)
        except DockyardError as exc:
            raise InvalidParameter(exc.message) from None
        return self.images.resolve(ref).id

    # --- the build -------------------------------------------------------------------------
    def prepare(self, text: str) -> None:
        """Parse and pick the target: what must fail before the first message."""
        self.doc = parse(text)
        self.target = self._target(self.doc)
        # as Docker: one LABEL step per build label (sorted) at the end of the target stage
        self.target.instructions += [_label_instruction(key, value, self.doc.escape)
                                     for key, value in sorted(self.options.labels.items())]

    async def run(self) -> str:
        doc, target = self.doc, self.target
        needed = self._needed(doc, target)
        total = len(doc.meta_args) + sum(1 + len(s.instructions) for s in doc.stages
                                         if s.index in needed)
        counter = iter(range(1, total + 1))
        for warning in doc.warnings:
            self.emit({"stream": warning + "\n"})
        for ins in doc.meta_args:
            self.emit({"stream": f"Step {next(counter)}/{total} : {ins.original}\n"})
            for item in shell.words(ins.args, self.meta_args, doc.escape):
                name, eq, default = item.partition("=")
                value = self.arg_value(name, default if eq else None)
                if value is not None:
                    self.meta_args[name] = value
                self.declared.add(name)
        loop = asyncio.get_running_loop()
        for index in needed:
            self.results[index] = loop.create_future()
        numbering = {}
        for stage in doc.stages:
            if stage.index in needed:
                numbering[stage.index] = [next(counter) for _ in range(
                    1 + len(stage.instructions))]
        outputs = {index: _StageOutput() for index in needed}
        tasks = [asyncio.ensure_future(self._stage(doc.stages[i], numbering[i], total,
                                                   outputs[i], doc.escape))
                 for i in sorted(needed)]
        try:
            for index in sorted(needed):
                await outputs[index].relay(self.emit)
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.cleanup()
        unused = sorted(set(self.options.build_args) - self.declared)
        if unused:
            self.emit({"stream": f"[Warning] One or more build-args [{' '.join(unused)}] "
                                 "were not consumed\n"})
        return self.results[target.index].result()

    def _target(self, doc: Dockerfile) -> Stage:
        if not self.options.target:
            return doc.stages[-1]
        for stage in doc.stages:
            if stage.name == self.options.target.lower():
                return stage
        raise InvalidParameter(f"failed to reach build target {self.options.target} in "
                               "Dockerfile")

    def _needed(self, doc: Dockerfile, target: Stage) -> list[int]:
        """The target's stage and every stage it builds on or copies from."""
        needed: set[int] = set()
        todo = [target.index]
        while todo:
            index = todo.pop()
            if index in needed:
                continue
            needed.add(index)
            stage = doc.stages[index]
            refs = [shell.word(stage.base, self.meta_args, doc.escape)]
            refs += [i.flag("from") or "" for i in stage.instructions if i.keyword == "copy"]
            refs += [f.get("from", "") for i in stage.instructions if i.keyword == "run"
                     for f in mounts.specs(i)]
            for ref in refs:
                found = self._earlier(doc, ref, index)
                if found is not None:
                    todo.append(found)
        return sorted(needed)

    def _earlier(self, doc: Dockerfile, ref: str, before: int) -> int | None:
        if not ref:
            return None
        for stage in doc.stages[:before]:
            if stage.name and stage.name == ref.lower():
                return stage.index
        if ref.isdigit() and int(ref) < before:
            return int(ref)
        return None

    async def _stage(self, stage: Stage, numbers: list[int], total: int,
                     output: _StageOutput, escape: str) -> None:
        try:
            output.emit({"stream": f"Step {numbers[0]}/{total} : {stage.original}\n"})
            state = await self._from(stage, escape, output.emit)
            runner = StepRunner(self, state, output.emit, escape)
            await self._triggers(runner, escape)        # part of the FROM step, as Docker's
            output.emit({"stream": f" ---> {state.image_id.split(':')[-1][:12]}\n"})
            for number, ins in zip(numbers[1:], stage.instructions):
                output.emit({"stream": f"Step {number}/{total} : {ins.original}\n"})
                await runner.run_instruction(ins)
                output.emit({"stream": f" ---> {state.image_id.split(':')[-1][:12]}\n"})
            self.results[stage.index].set_result(state.image_id)
        except BaseException as exc:
            if not self.results[stage.index].done():
                self.results[stage.index].set_exception(
                    exc if isinstance(exc, Exception) else asyncio.CancelledError())
                self.results[stage.index].exception()     # retrieved: no warning
            output.fail(exc)
            raise
        finally:
            output.close()

    async def _from(self, stage: Stage, escape: str, emit: Emit) -> State:
        base = shell.word(stage.base, self.meta_args, escape)
        if not base:
            raise InvalidParameter(f"base name ({stage.base}) should not be blank")
        earlier = self._earlier(self.doc, base, stage.index)
        if earlier is not None:
            image_id = await self.results[earlier]
        elif base.lower() == "scratch":     # FROM --platform (or the build's) names it
            wanted = platforms.parse(self._platform(stage, escape) or None)
            config = {"architecture": wanted.architecture, "os": wanted.os,
                      "rootfs": {"type": "layers", "diff_ids": []}}
            if wanted.variant:
                config["variant"] = wanted.variant
            return State("", config, {})
        else:
            image_id = await self.base_image(base, self._platform(stage, escape), emit)
        image = self.images.resolve(image_id)
        return State(image.id, image.config, dict(image.config.get("config") or {}))

    def _platform(self, stage: Stage, escape: str) -> str | None:
        if stage.platform:
            return shell.word(stage.platform, self.meta_args, escape)
        return self.options.platform or None

    async def _triggers(self, runner: StepRunner, escape: str) -> None:
        triggers = list(runner.state.config.get("OnBuild") or [])
        if not triggers:
            return
        runner.state.config = {**runner.state.config, "OnBuild": None}
        word = "trigger" if len(triggers) == 1 else "triggers"
        runner.out(f"# Executing {len(triggers)} build {word}\n")
        for trigger in triggers:
            doc = parse(f"FROM scratch\n{trigger}")
            for ins in doc.stages[0].instructions:
                await runner.run_instruction(ins)


class _StageOutput:
    """A stage's messages, held until the stages before it have been relayed, so that
    stages built at the same time still read in order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.error: BaseException | None = None

    def emit(self, message: dict[str, Any]) -> None:
        self.queue.put_nowait(message)

    def fail(self, exc: BaseException) -> None:
        self.error = exc

    def close(self) -> None:
        self.queue.put_nowait(None)

    async def relay(self, emit: Emit) -> None:
        while (message := await self.queue.get()) is not None:
            emit(message)
        if self.error is not None:
            raise self.error


def new_workdir(root: str) -> str:
    os.makedirs(root, exist_ok=True)
    return tempfile.mkdtemp(dir=root, prefix="build-")


def _label_instruction(key: str, value: str, escape: str) -> Instruction:
    """A build label as a LABEL instruction: quoted so that nothing in it is expanded; the
    transcript shows it unquoted, as Docker's."""
    def quote(text: str) -> str:
        if "'" not in text:
            return f"'{text}'"
        for char in dict.fromkeys((escape, '"', "$")):
            text = text.replace(char, escape + char)
        return f'"{text}"'

    return Instruction("label", f"{quote(key)}={quote(value)}", f"LABEL {key}={value}", 0)
