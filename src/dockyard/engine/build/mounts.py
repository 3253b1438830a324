"""RUN --mount (BuildKit's syntax; Docker's classic builder refuses it): type=cache keeps
a directory between builds (<data-root>/build/cache/<id>), type=bind shows a path of the
context or (from=) of a stage or image, read-only unless rw (then a copy, whose writes
are thrown away), type=tmpfs an empty tmpfs. They become the build container's HostConfig.Mounts, so
nothing mounted there reaches the committed layer. A bind mount's content is part of
the step's cache key (steps.py), as BuildKit's is."""
from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
from typing import Any

from ...errors import InvalidParameter
from ... import tarsafe
from ...units import parse_bytes
from . import context
from .parser import Instruction


def _fields(spec: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in spec.split(","):
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if key in ("readonly", "ro", "rw", "readwrite") and not eq:
            value = "true"
        out[key] = value.strip()
    return out


def specs(ins: Instruction) -> list[dict[str, str]]:
    """RUN's --mount flags as fields, checked (a target each, a known type)."""
    out = []
    for spec in ins.flags.get("mount", []):
        fields = _fields(spec)
        fields.setdefault("type", "bind")
        target = fields.get("target") or fields.get("dst") or fields.get("destination")
        if not target:
            raise InvalidParameter(f"mount {spec}: target is required")
        if fields["type"] not in ("bind", "cache", "tmpfs"):
            raise InvalidParameter(f"unsupported mount type {fields['type']!r}")
        fields["target"] = posixpath.join("/", target)
        fields["spec"] = spec
        out.append(fields)
    return out


async def bind_root(build: Any, fields: dict[str, str], scratch: str) -> str:
    """The directory a bind mount shows: in the context, or (from=) in a stage's or an
    image's filesystem, copied out."""
    rel = tarsafe.clean_name(fields.get("source") or fields.get("src") or "")
    root = build.context_dir
    if fields.get("from"):
        root = await build.stage_files(fields["from"], ["/" + rel], scratch)
    source = os.path.join(root, rel) if rel else root
    if not os.path.exists(source):
        raise InvalidParameter(f"failed to compute cache key: \"/{rel}\" not found")
    return context.in_context(root, source, InvalidParameter(
        f"mount {fields['spec']}: the source is outside the build context"))


def _true(fields: dict[str, str], *names: str) -> bool:
    return any(fields.get(n) == "true" for n in names)


def host_mounts(build: Any, fields_list: list[dict[str, str]], binds: dict[int, str],
                scratch: str) -> list[dict[str, Any]] | None:
    """The build container's HostConfig.Mounts; `binds` are bind_root's answers by index.
    A read-write bind is a copy, so what RUN writes there reaches nothing else."""
    mounts: list[dict[str, Any]] = []
    for index, fields in enumerate(fields_list):
        kind, target = fields["type"], fields["target"]
        if kind == "cache":
            name = fields.get("id") or target
            key = hashlib.sha256(name.encode()).hexdigest()[:32]
            source = os.path.join(build.cache_root, key)
            os.makedirs(source, mode=0o755, exist_ok=True)
            mounts.append({"Type": "bind", "Source": source, "Target": target,
                           "ReadOnly": _true(fields, "ro", "readonly")})
        elif kind == "bind":
            source = binds[index]
            rw = _true(fields, "rw", "readwrite")
            if rw:
                copy = os.path.join(scratch, f"rw-{index}")
                if os.path.isdir(source):
                    shutil.copytree(source, copy, symlinks=True)
                else:
                    shutil.copy2(source, copy)
                source = copy
            mounts.append({"Type": "bind", "Source": source, "Target": target,
                           "ReadOnly": not rw})
        else:
            mount: dict[str, Any] = {"Type": "tmpfs", "Target": target}
            if fields.get("size"):
                mount["TmpfsOptions"] = {"SizeBytes": parse_bytes(fields["size"])}
            mounts.append(mount)
    return mounts or None
