"""RUN --mount (BuildKit's syntax; Docker's classic builder refuses it): type=cache keeps
a directory between builds (<data-root>/build/cache/<id>), type=bind shows a context path
(read-only unless rw; writes are thrown away with the build's copy of the context),
type=tmpfs an empty tmpfs. They become the build container's HostConfig.Mounts, so
nothing mounted there reaches the committed layer."""
from __future__ import annotations

import hashlib
import os
import posixpath
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


def run_mounts(build: Any, ins: Instruction) -> list[dict[str, Any]] | None:
    mounts = []
    for spec in ins.flags.get("mount", []):
        fields = _fields(spec)
        kind = fields.get("type", "bind")
        target = fields.get("target") or fields.get("dst") or fields.get("destination")
        if not target:
            raise InvalidParameter(f"mount {spec}: target is required")
        target = posixpath.join("/", target)
        if kind == "cache":
            name = fields.get("id") or target
            key = hashlib.sha256(name.encode()).hexdigest()[:32]
            source = os.path.join(build.cache_root, key)
            os.makedirs(source, mode=0o755, exist_ok=True)
            mounts.append({"Type": "bind", "Source": source, "Target": target,
                           "ReadOnly": fields.get("ro") == "true"
                           or fields.get("readonly") == "true"})
        elif kind == "bind":
            rel = tarsafe.clean_name(fields.get("source") or fields.get("src") or "")
            source = os.path.join(build.context_dir, rel) if rel else build.context_dir
            if not os.path.exists(source):
                raise InvalidParameter(f"failed to compute cache key: \"/{rel}\" not found")
            source = context.in_context(build.context_dir, source, InvalidParameter(
                f"mount {spec}: the source is outside the build context"))
            rw = fields.get("rw") == "true" or fields.get("readwrite") == "true"
            mounts.append({"Type": "bind", "Source": source, "Target": target,
                           "ReadOnly": not rw})
        elif kind == "tmpfs":
            mount: dict[str, Any] = {"Type": "tmpfs", "Target": target}
            if fields.get("size"):
                mount["TmpfsOptions"] = {"SizeBytes": parse_bytes(fields["size"])}
            mounts.append(mount)
        else:
            raise InvalidParameter(f"unsupported mount type {kind!r}")
    return mounts or None
