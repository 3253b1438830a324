"""`docker commit`: a container's changes become a new image on top of its image.

The container is paused (freezer) while its upper dir is read, unless asked not to. The
new config is the request's config (or the container's), with `changes` applied by the same
instruction parser as `import -c`, and empty fields filled from the container's config
(moby's merge). An empty diff adds no layer, only an empty_layer history entry, as Docker.
"""
from __future__ import annotations

import asyncio
import tempfile
from typing import Any

from .. import __version__, reference
from ..errors import Conflict
from .build.config import apply_changes
from ..store.difftar import write_upper_tar
from ..timeutil import rfc3339nano
from .containers import processes
from .containers.filesystem import _MOUNT_TARGETS
from .containers.service import ContainerService


def merge_config(user: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    """moby's commit merge: what the user's config leaves empty comes from the container."""
    merged = dict(user)
    for key in ("User", "WorkingDir", "StopSignal", "Healthcheck"):
        if not merged.get(key) and container.get(key):
            merged[key] = container[key]
    keys = {e.partition("=")[0] for e in merged.get("Env") or []}
    merged["Env"] = list(merged.get("Env") or []) + [
        e for e in container.get("Env") or [] if e.partition("=")[0] not in keys]
    for key in ("Labels", "ExposedPorts", "Volumes"):
        if container.get(key):
            merged[key] = {**container[key], **(merged.get(key) or {})}
    if not merged.get("Entrypoint"):
        if not merged.get("Cmd"):
            merged["Cmd"] = container.get("Cmd")
        if merged.get("Entrypoint") is None:
            merged["Entrypoint"] = container.get("Entrypoint")
    return merged


def _target(repo: str, tag: str) -> str | None:
    if not repo:
        return None
    return str(reference.repo_tag_reference(repo, tag or None))


async def commit(service: ContainerService, ref: str, *, repo: str = "", tag: str = "",
                 author: str = "", comment: str = "", changes: list[str] | None = None,
                 pause: bool = True, config: dict[str, Any] | None = None,
                 created_by: str | None = None, created: str | None = None,
                 merge: bool = True, clamp: int | None = None) -> str:
    """Returns the new image's ID. Build passes its own history line and time, and a
    config it made whole (`merge=False`: a RUN container's build args stay out) and,
    for a reproducible build, the time that clamps the layer's entries."""
    container = service.get(ref)
    if container.state["Status"] in ("removing", "dead"):
        raise Conflict(f"You cannot commit container {container.id} which is being removed "
                       "or is dead")
    target = _target(repo, tag)
    new_config = apply_changes(config if config is not None else container.config,
                               changes or [])
    if merge:
        new_config = merge_config(new_config, container.config)
    images = service.images
    parent = images.resolve(container.record["Image"])
    overlay = service.layers.prepare(container.id, container.record["Image"])
    paused_here = False
    if pause and container.running and not container.state["Paused"]:
        try:
            await processes.pause(service, container.id)
            paused_here = True
        except Conflict:  # it exited meanwhile: a stopped container needs no pause
            if container.running:
                raise
    spool = tempfile.TemporaryFile(dir=container.dir)
    try:
        try:
            entries = await asyncio.to_thread(write_upper_tar, overlay.upperdir, spool,
                                              _MOUNT_TARGETS, overlay.lowerdirs, clamp)
        finally:
            if paused_here and container.running and container.state["Paused"]:
                try:
                    await processes.unpause(service, container.id)
                except Conflict:
                    if container.running:
                        raise
        spool.seek(0)
        created = created or rfc3339nano()
        history = list(parent.config.get("history") or [])
        if created_by is None:
            created_by = " ".join(container.config.get("Cmd") or [])
        entry: dict[str, Any] = {"created": created, "created_by": created_by}
        if author:
            entry["author"] = author
        if comment:
            entry["comment"] = comment
        if not entries:
            entry["empty_layer"] = True
        history.append(entry)
        image_config: dict[str, Any] = {
            "architecture": parent.config.get("architecture", "amd64"),
            "config": new_config, "created": created, "docker_version": __version__,
            "history": history, "os": parent.config.get("os", "linux"),
            "rootfs": {"type": "layers",
                       "diff_ids": list((parent.config.get("rootfs") or {})
                                        .get("diff_ids") or [])}}
        if author:
            image_config["author"] = author
        if parent.config.get("variant"):
            image_config["variant"] = parent.config["variant"]
        image_id = await asyncio.to_thread(
            images.create_image, dict(sorted(image_config.items())),
            [spool] if entries else [], parent.id, [target] if target else [])
    finally:
        spool.close()
    service.emit(container, "commit", comment=comment, imageID=image_id,
                  imageRef=target or "")
    return image_id

