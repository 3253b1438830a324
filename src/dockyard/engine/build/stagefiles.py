"""COPY --from: the paths a COPY names, read out of a stage's (or an image's) filesystem
through a build container that is never started: the container service's archive job
reads them in Docker's view of that filesystem (symlinks resolved inside it), and the
tar lands in the step's scratch directory, where COPY's usual rules take over."""
from __future__ import annotations

import os
import posixpath
import tarfile
import tempfile
from typing import Any

from ... import tarsafe
from ...errors import InvalidParameter, NotFound
from ..containers import archive


def _fixed_prefix(pattern: str) -> str:
    """The part of a source pattern before its first wildcard element."""
    parts = []
    for part in posixpath.normpath("/" + pattern).strip("/").split("/"):
        if any(ch in part for ch in "*?["):
            break
        parts.append(part)
    return "/".join(p for p in parts if p)


async def copy_out(build: Any, image_id: str, sources: list[str], scratch: str) -> str:
    root = tempfile.mkdtemp(dir=scratch, prefix="from-")
    if not image_id:
        return root
    created = await build.containers.create({"Image": image_id, "Cmd": ["true"],
                                             "Entrypoint": [""]}, None)
    cid = created["Id"]
    try:
        for source in sources:
            prefix = _fixed_prefix(source)
            try:
                _stat, chunks = await archive.archive_path(build.containers, cid,
                                                           "/" + prefix)
            except NotFound:
                raise InvalidParameter(f"COPY failed: stat {source}: file does not exist"
                                       ) from None
            with tempfile.TemporaryFile(dir=scratch) as spool:
                async for chunk in chunks:
                    spool.write(chunk)
                spool.seek(0)
                parent = posixpath.dirname(prefix)
                with tarfile.open(fileobj=spool, mode="r|") as tar:
                    os.makedirs(os.path.join(root, parent), exist_ok=True)
                    tarsafe.unpack(tar, root, parent)
    finally:
        await build.containers.remove(cid, force=True, volumes=True)
    return root
