"""One stage's steps, as the classic builder runs them: RUN in a build container that is
committed, COPY/ADD as a layer written straight from the sources, the metadata
instructions as images without a layer (history `#(nop)`, 0B). Each step first asks the
cache; the first miss turns the cache off for the rest of the stage."""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import posixpath
import re
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from ... import __version__
from ...errors import DockyardError, InvalidParameter
from ...store import archive
from . import config as configs
from . import context, files, mounts, shell
from .cache import step_key
from .parser import Instruction

Emit = Callable[[dict[str, Any]], None]
PREDEFINED_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                   "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


class StepFailed(InvalidParameter):
    """A RUN that exited non-zero: the stream's errorDetail carries the code, and the
    docker CLI exits with it."""

    def __init__(self, cmd: list[str], code: int) -> None:
        super().__init__(f"The command '{' '.join(cmd)}' returned a non-zero code: {code}")
        self.code = code


@dataclass
class State:
    """Where a stage is: its image so far ("" for scratch) and what the next step sees."""
    image_id: str
    image_config: dict[str, Any]          # the OCI/Docker image config of image_id
    config: dict[str, Any]                # its container config, changed step by step
    args: dict[str, str] = field(default_factory=dict)   # ARGs in scope with values
    cmd_set: bool = False
    use_cache: bool = True


class StepRunner:
    """Runs one stage's instructions on a State; `build` holds the services and options
    (see builder.Build)."""

    def __init__(self, build: Any, state: State, emit: Emit, escape: str) -> None:
        self.build, self.state, self.emit, self.escape = build, state, emit, escape

    def out(self, text: str) -> None:
        self.emit({"stream": text})

    # --- images --------------------------------------------------------------------------------
    def _shell(self) -> list[str]:
        return list(self.state.config.get("Shell") or configs.DEFAULT_SHELL)

    def _nop(self, text: str) -> str:
        return " ".join([*self._shell(), "#(nop) ", text])

    async def _cached(self, created_by: str, config: dict[str, Any], extra: str = ""
                      ) -> str | None:
        key = step_key(self.state.image_id, created_by + extra, config)
        if not self.state.use_cache or self.build.no_cache:
            return None
        image_id = self.build.cache.get(key)
        if image_id and self.build.images.exists(image_id) and \
                self.build.cache_source_allowed(image_id):
            return image_id
        return None

    async def _adopt(self, image_id: str) -> None:
        image = self.build.images.resolve(image_id)
        self.state.image_id = image.id
        self.state.image_config = image.config

    async def step(self, created_by: str, config: dict[str, Any],
                   make: Callable[[], Awaitable[str]], extra: str = "",
                   container: bool = False) -> None:
        """A cache hit (" ---> Using cache") or `make()`'s new image; the state moves on.
        `container`: the classic builder's intermediate container for a metadata step."""
        hit = await self._cached(created_by, config, extra)
        if hit:
            self.out(" ---> Using cache\n")
            self.state.config = config
            await self._adopt(hit)
            return
        self.state.use_cache = False
        parent = self.state.image_id
        if container and parent:
            image_id = await self.build.nop_container(self, config, created_by, make)
        else:
            image_id = await make()
        await asyncio.to_thread(self.build.cache.put,      # a commit fsyncs: off the loop
                                step_key(parent, created_by + extra, config), parent, image_id)
        self.state.config = config
        await self._adopt(image_id)

    async def new_image(self, created_by: str, config: dict[str, Any],
                        layer: Any = None) -> str:
        """An image on top of the state's: `layer` (a tar file) or none (empty_layer)."""
        parent_cfg = self.state.image_config
        created = self.build.created()
        entry: dict[str, Any] = {"created": created, "created_by": created_by}
        if layer is None:
            entry["empty_layer"] = True
        image_config = {
            "architecture": parent_cfg.get("architecture", "amd64"),
            "config": config, "created": created, "docker_version": __version__,
            "history": [*(parent_cfg.get("history") or []), entry],
            "os": parent_cfg.get("os", "linux"),
            "rootfs": {"type": "layers",
                       "diff_ids": list((parent_cfg.get("rootfs") or {}).get("diff_ids")
                                        or [])}}
        if parent_cfg.get("variant"):
            image_config["variant"] = parent_cfg["variant"]
        return await asyncio.to_thread(self.build.images.create_image,
                                       dict(sorted(image_config.items())),
                                       [layer] if layer is not None else [],
                                       self.state.image_id)

    # --- instructions ----------------------------------------------------------------------------
    async def run_instruction(self, ins: Instruction) -> None:
        key = ins.keyword
        if key == "run":
            await self.run(ins)
        elif key in ("copy", "add"):
            await self.copy(ins)
        elif key == "arg":
            await self.arg(ins)
        elif key == "workdir":
            await self.workdir(ins)
        else:
            await self.metadata(ins)

    def _args_env(self) -> dict[str, str]:
        return dict(self.state.args)

    async def metadata(self, ins: Instruction) -> None:
        config = configs.apply(self.state.config, ins, self._args_env(), self.escape)
        if ins.keyword == "cmd":
            self.state.cmd_set = True
        if ins.keyword == "entrypoint" and not self.state.cmd_set:
            config["Cmd"] = None        # an ENTRYPOINT drops the base image's CMD
        created_by = self._nop(_comment(ins, config))
        await self.step(created_by, config, lambda: self.new_image(created_by, config),
                        container=True)

    async def arg(self, ins: Instruction) -> None:
        for item in shell.words(ins.args, self._args_env(), self.escape):
            name, eq, default = item.partition("=")
            value = self.build.arg_value(name, default if eq else None)
            if value is not None:
                self.state.args[name] = value
            self.build.declared.add(name)
        created_by = self._nop(f"ARG {ins.args.strip()}")
        config = self.state.config
        await self.step(created_by, config, lambda: self.new_image(created_by, config),
                        container=True)

    async def workdir(self, ins: Instruction) -> None:
        config = configs.apply(self.state.config, ins, self._args_env(), self.escape)
        path = config["WorkingDir"]
        created_by = self._nop(f"WORKDIR {path}")

        async def make() -> str:
            images, image_id = self.build.images, self.state.image_id
            real = posixpath.dirname(files.resolve(images, image_id,
                                                   path.rstrip("/") + "/x"))
            missing = files.missing_dirs(images, image_id, real)
            if not missing:
                return await self.new_image(created_by, config)
            with tempfile.TemporaryFile(dir=self.build.workdir) as layer:
                context.write_layer([], layer, missing, None, None, self.build.epoch)
                layer.seek(0)
                return await self.new_image(created_by, config, layer)
        await self.step(created_by, config, make, container=True)

    async def run(self, ins: Instruction) -> None:
        form = ins.exec_form
        if form is not None:
            cmd = form
        elif len(ins.heredocs) == 1 and _HEREDOC_ONLY.fullmatch(ins.args.strip()):
            cmd = [*self._shell(), ins.heredocs[0].content]     # RUN <<EOF: the script
        elif ins.heredocs:
            script = ins.args + "\n" + "".join(h.content + h.name + "\n"
                                               for h in ins.heredocs)
            cmd = [*self._shell(), script]
        else:
            cmd = configs.command(ins, self.state.config)
        env_keys = set(shell.env_map(self.state.config.get("Env")))
        arg_env = [f"{k}={v}" for k, v in sorted(self.state.args.items())
                   if k not in env_keys]
        # predefined (proxy) args reach RUN but, as Docker's, neither history nor cache
        proxies = [f"{k}={v}" for k, v in sorted(self.build.options.build_args.items())
                   if k in PREDEFINED_ARGS and v is not None and k not in env_keys
                   and k not in self.state.args]
        prefix = f"|{len(arg_env)} {' '.join(arg_env)} " if arg_env else ""
        created_by = prefix + " ".join(cmd)
        config = self.state.config
        specs = mounts.specs(ins)
        scratch = tempfile.mkdtemp(dir=self.build.workdir)   # goes with the build's workdir
        binds = {i: await mounts.bind_root(self.build, f, scratch)
                 for i, f in enumerate(specs) if f["type"] == "bind"}
        sums = [await asyncio.to_thread(context.checksum, [context.Source(path, "")])
                for path in binds.values()]
        extra = json.dumps([[f["spec"] for f in specs], sums]) if specs else ""

        async def make() -> str:
            host = await asyncio.to_thread(mounts.host_mounts, self.build, specs, binds,
                                           scratch)
            return await self.build.run_container(self, cmd, arg_env + proxies, created_by,
                                                  config, ins, host)
        await self.step(created_by, config, make, extra)

    async def copy(self, ins: Instruction) -> None:
        what = ins.keyword.upper()
        env = {**self._args_env(), **shell.env_map(self.state.config.get("Env"))}
        form = ins.exec_form
        words = form if form is not None else shell.words(ins.args, env, self.escape)
        sources, dest = words[:-1], words[-1]
        if ins.heredocs:
            dest = words[-1]
            sources = [w for w in words[:-1] if not w.startswith("<<")]
        if not dest.startswith("/"):
            dest = posixpath.join(self.state.config.get("WorkingDir") or "/", dest)
        dest = files.resolve(self.build.images, self.state.image_id, dest)
        with tempfile.TemporaryDirectory(dir=self.build.workdir) as scratch:
            items = await self._sources(ins, sources, dest, env, scratch)
            several = len(items) > 1 or any(any(c in s for c in "*?[") for s in sources)
            if several and not dest.endswith("/"):
                raise InvalidParameter(f"When using {what} with more than one source file, "
                                       "the destination must be a directory and end with "
                                       "a /")
            owner = files.owner(self.build.images, self.state.image_id, ins.flag("chown"),
                                env, self.escape)
            chmod = _chmod(ins.flag("chmod"))
            images, image_id = self.build.images, self.state.image_id
            dest_is_dir = dest.endswith("/") or several or files.kind(
                images, image_id, dest) == "dir"
            if dest_is_dir:     # a directory that is a symlink: its target
                dest = posixpath.dirname(files.resolve(images, image_id,
                                                       dest.rstrip("/") + "/x")) + "/"
            digest = await asyncio.to_thread(context.checksum, items)
            kind = "dir" if len(items) == 1 and os.path.isdir(items[0].path) else \
                "multi" if len(items) > 1 else "file"
            created_by = " ".join([*self._shell(),
                                   f"#(nop) {what} {kind}:{digest} in {dest} "])
            extra = json.dumps([ins.flags.get("chown"), ins.flags.get("chmod"),
                                ins.flags.get("exclude")])
            config = self.state.config

            async def make() -> str:
                placements = context.plan(items, dest, dest_is_dir)
                top = dest.rstrip("/") if dest_is_dir or any(
                    os.path.isdir(i.path) for i in items) else posixpath.dirname(dest)
                missing = files.missing_dirs(self.build.images, self.state.image_id, top)
                with tempfile.TemporaryFile(dir=self.build.workdir) as layer:
                    await asyncio.to_thread(context.write_layer, placements, layer, missing,
                                            owner, chmod, self.build.epoch)
                    layer.seek(0)
                    return await self.new_image(created_by, config, layer)
            await self.step(created_by, config, make, extra)


    async def _sources(self, ins: Instruction, sources: list[str], dest: str,
                       env: dict[str, str], scratch: str) -> list[context.Source]:
        """COPY/ADD's sources on disk: from the context or (--from) a stage or image,
        ADD's URLs downloaded and local tars extracted, heredocs written, --exclude
        applied."""
        what = ins.keyword.upper()
        root = self.build.context_dir
        source_from = ins.flag("from")
        if source_from:
            root = await self.build.stage_files(source_from, sources, scratch)
        items: list[context.Source] = []
        for source in sources:
            if what == "ADD" and _is_url(source):
                items.append(await asyncio.to_thread(_download, source, scratch, dest,
                                                     ins.flag("checksum")))
                continue
            if ins.flag("checksum"):
                raise InvalidParameter("checksum can't be specified for non-HTTP(S) sources")
            found = await asyncio.to_thread(context.resolve, root, source, what)
            if not found:
                raise InvalidParameter(f"{what} failed: no source files were specified")
            items.extend(found)
        for doc in ins.heredocs:
            path = os.path.join(scratch, "heredoc", doc.name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(shell.word(doc.content, env, self.escape) if doc.expand
                        else doc.content)
            items.append(context.Source(path, doc.name))
        if what == "ADD":
            items = [await asyncio.to_thread(_maybe_extract, item, scratch) for item in items]
        for pattern in ins.flags.get("exclude", []):
            items = [i for i in items if not context.fnmatch_path(i.rel, pattern)]
        return items


_HEREDOC_ONLY = re.compile(r"<<-?([\"']?)[A-Za-z_][A-Za-z0-9_.\-]*\1")


def _comment(ins: Instruction, config: dict[str, Any]) -> str:
    """The history line's text, in the forms Docker's classic builder writes."""
    key = ins.keyword
    if key in ("cmd", "entrypoint"):
        value = config.get("Cmd" if key == "cmd" else "Entrypoint") or []
        return f"{key.upper()} [" + " ".join(json.dumps(v) for v in value) + "]"
    if key == "workdir":
        return f"WORKDIR {config['WorkingDir']}"
    return ins.original


def _chmod(text: str | None) -> int | None:
    if not text:
        return None
    try:
        value = int(text, 8)
    except ValueError:
        raise InvalidParameter(f"invalid chmod parameter: {text}") from None
    if value > 0o7777:
        raise InvalidParameter(f"invalid chmod parameter: {text}")
    return value


def _is_url(text: str) -> bool:
    return text.startswith("http://") or text.startswith("https://")


def _download(url: str, scratch: str, dest: str, checksum: str | None) -> context.Source:
    """ADD <url>: the file named after the URL's last path element (or dest's name);
    with --checksum=sha256:<hex> its content must match."""
    name = posixpath.basename(urllib.parse.urlparse(url).path) or "download"
    if not dest.endswith("/"):
        name = posixpath.basename(dest) or name
    directory = os.path.join(scratch, "url", str(len(os.listdir(scratch))))
    os.makedirs(directory)
    path = os.path.join(directory, name)
    try:
        stream = archive.open_url(url)
    except DockyardError as exc:
        raise InvalidParameter(f"ADD failed: {exc.message}") from None
    digest = hashlib.sha256()
    with stream, open(path, "wb") as f:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            f.write(chunk)
    if checksum and checksum != f"sha256:{digest.hexdigest()}":
        raise InvalidParameter(f"digest mismatch {checksum}: sha256:{digest.hexdigest()}")
    os.chmod(path, 0o600)
    return context.Source(path, name)


def _maybe_extract(item: context.Source, scratch: str) -> context.Source:
    """ADD of a local tar (any compression): its contents, extracted, in place of it."""
    import tarfile
    from ... import tarsafe
    if not os.path.isfile(item.path) or os.path.islink(item.path):
        return item
    try:
        with tarfile.open(item.path, "r:*") as archive_file:
            directory = tempfile.mkdtemp(dir=scratch)
            tarsafe.unpack(archive_file, directory)
    except (tarfile.TarError, EOFError, OSError):
        return item
    return context.Source(directory, "")
