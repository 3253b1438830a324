"""Manifest formats: Docker schema 2 manifests and manifest lists, OCI manifests and
indexes; choosing the entry for a platform as Docker (containerd's matcher) does."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameter, NotFound

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = OCI_LAYER + "+gzip"
OCI_LAYER_ZSTD = OCI_LAYER + "+zstd"
OCI_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"

MANIFESTS = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEXES = (DOCKER_LIST, OCI_INDEX)
ACCEPT = ", ".join(INDEXES + MANIFESTS)
LAYERS = {DOCKER_LAYER, DOCKER_FOREIGN_LAYER, OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD,
          OCI_NONDIST, OCI_NONDIST + "+gzip", OCI_NONDIST + "+zstd"}
FOREIGN = {DOCKER_FOREIGN_LAYER, OCI_NONDIST, OCI_NONDIST + "+gzip", OCI_NONDIST + "+zstd"}

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386",
                 "i686": "386", "armhf": "arm", "armel": "arm"}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


def normalise(os_name: str, arch: str, variant: str = "") -> Platform:
    """containerd's Normalize: arch aliases; arm64's variant v8 is implied."""
    arch = _ARCH_ALIASES.get(arch.lower(), arch.lower())
    variant = variant.lower()
    if arch == "arm64" and variant in ("8", "v8"):
        variant = ""
    elif arch == "arm":
        variant = "v" + variant if variant.isdigit() else (variant or "v7")
    elif arch == "amd64" and variant == "v1":
        variant = ""
    return Platform(os_name.lower(), arch, variant)


def host_platform() -> Platform:
    machine = os.uname().machine
    if machine.startswith("armv"):
        return normalise("linux", "arm", machine[3:4])
    return normalise("linux", machine)


def parse_platform(text: str | None) -> Platform:
    """"linux/arm64/v8", "linux/amd64", "arm64" (the OS defaults to linux)."""
    if not text:
        return host_platform()
    parts = text.split("/")
    if len(parts) > 3 or not all(parts):
        raise InvalidParameter(f'"{text}": unknown operating system or architecture: '
                               "invalid argument")
    if len(parts) == 1:
        return normalise("linux", parts[0])
    return normalise(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


def _compatible_variants(want: Platform) -> list[str]:
    """Variants `want` can run, best first (arm v7 runs v6 and v5; amd64 runs v1 images)."""
    if want.architecture == "arm" and want.variant.startswith("v"):
        try:
            level = int(want.variant[1:])
        except ValueError:
            return [want.variant]
        return [f"v{n}" for n in range(level, 4, -1)]
    return [want.variant, ""] if want.variant else [""]


def select(index: dict[str, Any], want: Platform) -> dict[str, Any]:
    """The descriptor in a list/index that best matches the platform."""
    variants = _compatible_variants(want)
    best: tuple[int, dict[str, Any]] | None = None
    for entry in index.get("manifests") or []:
        if entry.get("mediaType") not in MANIFESTS + ("",) and "mediaType" in entry:
            continue
        plat = entry.get("platform") or {}
        have = normalise(plat.get("os", ""), plat.get("architecture", ""),
                         plat.get("variant", ""))
        if have.os != want.os or have.architecture != want.architecture:
            continue
        if have.variant not in variants:
            continue
        rank = variants.index(have.variant)
        if best is None or rank < best[0]:
            best = (rank, entry)
    if best is None:
        raise NotFound(f"no matching manifest for {want} in the manifest list entries")
    return best[1]


def media_type(raw: bytes, content_type: str) -> str:
    """The manifest's media type: its own field, else the response's Content-Type."""
    try:
        doc = json.loads(raw)
    except ValueError:
        raise InvalidParameter("invalid manifest: not JSON") from None
    declared = doc.get("mediaType") if isinstance(doc, dict) else None
    if declared:
        return str(declared)
    if content_type.split(";")[0].strip() in INDEXES + MANIFESTS:
        return content_type.split(";")[0].strip()
    if isinstance(doc, dict) and "manifests" in doc:
        return OCI_INDEX
    if isinstance(doc, dict) and "layers" in doc:
        return OCI_MANIFEST
    if isinstance(doc, dict) and doc.get("schemaVersion") == 1:
        raise InvalidParameter("[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image "
                               "manifest version 2, schema 1 support has been removed.")
    raise InvalidParameter(f"unsupported manifest media type {content_type!r}")


def check_manifest(doc: dict[str, Any]) -> None:
    """A manifest we can pull: a config descriptor and layer descriptors we understand."""
    config = doc.get("config")
    if not isinstance(config, dict) or not config.get("digest"):
        raise InvalidParameter("invalid manifest: no config descriptor")
    for layer in doc.get("layers") or []:
        if layer.get("mediaType") not in LAYERS:
            raise InvalidParameter(f"unsupported layer media type {layer.get('mediaType')}")
