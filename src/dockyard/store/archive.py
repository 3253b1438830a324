"""Image archives and imports.

save: the layout of `docker save` since Docker 25 — an OCI image layout (oci-layout,
index.json, blobs/sha256/...) plus Docker's manifest.json and the legacy `repositories`
file, so both Docker and OCI tools can read it. Layers are stored uncompressed (their blob
digest is their diff ID). The archive is produced as a stream of chunks; no layer is ever
held in memory.

load: Docker archives (manifest.json; old `<id>/layer.tar` layouts and symlinked layers
included) and OCI image layouts (index.json, nested indexes resolved for this platform).
Every digest an archive states is checked: blob names, manifest, config and layer
descriptors, and each layer's diff ID against the image config.

import: the config of a one-layer image made from a root filesystem tarball, with
Dockerfile-style changes and a message, as `docker import` builds it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Iterator

from .. import platforms, reference
from ..errors import InvalidParameter
from ..linux.securejoin import secure_join
from ..mediatypes import INDEXES, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST
from ..tarsafe import check_link
from .containerconfig import full_config
from .layers import clean_name

OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
_BLOB_PATH = re.compile(r"^blobs/sha256/([a-f0-9]{64})$")
_CHUNK = 1 << 20


class ArchiveError(InvalidParameter):
    pass


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


# --- save -----------------------------------------------------------------------------------

@dataclass
class SaveImage:
    image_id: str
    config_raw: bytes
    diff_ids: list[str]
    tags: list[reference.Reference]      # tagged references to record for this image


class _TarWriter:
    """Just enough of a tar writer to stream big files without buffering them."""

    def __init__(self) -> None:
        self.offset = 0

    def header(self, name: str, size: int = 0, kind: bytes = tarfile.REGTYPE,
               mode: int = 0o644) -> bytes:
        info = tarfile.TarInfo(name)
        info.size, info.type, info.mode, info.mtime = size, kind, mode, 0
        if kind == tarfile.DIRTYPE:
            info.size, info.mode = 0, 0o755
        raw = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        self.offset += len(raw)
        return raw

    def padding(self, size: int) -> bytes:
        pad = b"\0" * (-size % tarfile.BLOCKSIZE)
        self.offset += size + len(pad)
        return pad

    def file(self, name: str, data: bytes) -> bytes:
        return self.header(name, len(data)) + data + self.padding(len(data))

    def end(self) -> bytes:
        tail = b"\0" * (2 * tarfile.BLOCKSIZE)
        total = self.offset + len(tail)
        return tail + b"\0" * (-total % tarfile.RECORDSIZE)


def save_archive(images: list[SaveImage], open_blob: Callable[[str], BinaryIO]
                 ) -> Iterator[bytes]:
    """Yield a docker-save archive of `images` chunk by chunk."""
    tar = _TarWriter()
    written: set[str] = set()
    yield tar.header("blobs/", kind=tarfile.DIRTYPE)
    yield tar.header("blobs/sha256/", kind=tarfile.DIRTYPE)

    def small_blob(data: bytes) -> tuple[str, bytes]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        name = f"blobs/sha256/{digest[7:]}"
        if digest in written:
            return digest, b""
        written.add(digest)
        return digest, tar.file(name, data)

    manifest_json: list[dict[str, Any]] = []
    index: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    for image in images:
        layers = []
        for diff_id in image.diff_ids:
            name = f"blobs/sha256/{diff_id[7:]}"
            with open_blob(diff_id) as f:
                size = os.fstat(f.fileno()).st_size
                if diff_id not in written:
                    written.add(diff_id)
                    yield tar.header(name, size)
                    remaining = size
                    while remaining > 0:
                        chunk = f.read(min(_CHUNK, remaining))
                        if not chunk:
                            raise ArchiveError(f"layer {diff_id} is shorter than expected")
                        remaining -= len(chunk)
                        yield chunk
                    yield tar.padding(size)
            layers.append({"mediaType": OCI_LAYER, "digest": diff_id, "size": size})
        config_digest, data = small_blob(image.config_raw)
        if data:
            yield data
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": config_digest,
                               "size": len(image.config_raw)},
                    "layers": layers}
        manifest_raw = _json(manifest)
        manifest_digest, data = small_blob(manifest_raw)
        if data:
            yield data
        descriptor = {"mediaType": OCI_MANIFEST, "digest": manifest_digest,
                      "size": len(manifest_raw)}
        if image.tags:
            for ref in image.tags:
                index.append({**descriptor, "annotations": {
                    ANNOTATION_IMAGE_NAME: str(ref), ANNOTATION_REF_NAME: ref.tag or ""}})
                repositories.setdefault(ref.familiar, {})[ref.tag or ""] = image.image_id[7:]
        else:
            index.append(descriptor)
        manifest_json.append({
            "Config": f"blobs/sha256/{config_digest[7:]}",
            "RepoTags": [ref.familiar_string() for ref in image.tags] or None,
            "Layers": [f"blobs/sha256/{d[7:]}" for d in image.diff_ids]})
    yield tar.file("index.json", _json({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                        "manifests": index}))
    yield tar.file("manifest.json", _json(manifest_json))
    yield tar.file("oci-layout", OCI_LAYOUT)
    if repositories:
        yield tar.file("repositories", _json(repositories))
    yield tar.end()


# --- load -----------------------------------------------------------------------------------

@dataclass
class ArchiveLayer:
    path: str
    digest: str | None = None          # the blob digest the archive promises, if any


@dataclass
class ArchiveImage:
    config_raw: bytes
    config_digest: str
    layers: list[ArchiveLayer]
    tags: list[str] = field(default_factory=list)   # references as written in the archive
    parent: str = ""


LOAD_PREFIX = ".load-"      # an archive being loaded: `.load-<pid>-...` (see linux/atomic.py)


def temp_dir(parent: str) -> str:
    os.makedirs(parent, mode=0o700, exist_ok=True)
    return tempfile.mkdtemp(prefix=f"{LOAD_PREFIX}{os.getpid()}-", dir=parent)


def extract_archive(stream: BinaryIO, directory: str) -> None:
    """Unpack an image archive (plain or compressed tar) into a private directory. Names
    are confined; symlinks and hard links are kept but only ever resolved inside it."""
    directory = os.path.abspath(directory)
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                rel = clean_name(member.name)
                if not rel:
                    continue
                parent_rel, _, base = rel.rpartition("/")
                parent = secure_join(directory, parent_rel) if parent_rel else directory
                os.makedirs(parent, mode=0o700, exist_ok=True)
                path = os.path.join(parent, base)
                if os.path.lexists(path) and not (member.isdir() and os.path.isdir(path)):
                    if os.path.isdir(path) and not os.path.islink(path):
                        shutil.rmtree(path)
                    else:
                        os.unlink(path)
                if member.isdir():
                    os.makedirs(path, mode=0o700, exist_ok=True)
                elif member.isreg():
                    src = tar.extractfile(member)
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                                 0o600)
                    with os.fdopen(fd, "wb") as out:
                        if src is not None:
                            shutil.copyfileobj(src, out, _CHUNK)
                elif member.issym():
                    check_link(member)
                    os.symlink(member.linkname, path)
                elif member.islnk():
                    source = secure_join(directory, clean_name(member.linkname))
                    if os.path.isfile(source):
                        os.link(source, path)
    except tarfile.TarError as exc:
        raise ArchiveError(f"invalid tar header: {exc}") from None
    except (EOFError, OSError) as exc:
        raise ArchiveError(f"invalid archive: {exc}") from None


def _file(directory: str, name: str) -> str:
    """A regular file of the extracted archive, symlinks resolved inside it."""
    rel = clean_name(name)
    path = secure_join(directory, rel)
    if not rel or not os.path.isfile(path):
        raise ArchiveError(f"invalid archive: {name} not found")
    return path


def _read_verified(path: str, digest: str | None, what: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    if digest is not None:
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise ArchiveError(f"invalid archive: {what} digest mismatch: expected {digest}, "
                               f"got {actual}")
    return data


def read_archive(directory: str) -> list[ArchiveImage]:
    """The images an extracted archive holds, in archive order."""
    directory = os.path.abspath(directory)
    if os.path.isfile(os.path.join(directory, "manifest.json")):
        return _read_docker(directory)
    if os.path.isfile(os.path.join(directory, "index.json")):
        return _read_oci(directory)
    if os.path.isfile(os.path.join(directory, "repositories")):
        raise ArchiveError("invalid archive: legacy (pre-1.10) image archives without "
                           "manifest.json are not supported")
    raise ArchiveError("invalid archive: no manifest.json or index.json found")


def _blob_digest(name: str) -> str | None:
    match = _BLOB_PATH.match(clean_name(name))
    return f"sha256:{match.group(1)}" if match else None


def _read_docker(directory: str) -> list[ArchiveImage]:
    try:
        with open(os.path.join(directory, "manifest.json"), "rb") as f:
            entries = json.load(f)
    except ValueError as exc:
        raise ArchiveError(f"invalid archive: manifest.json: {exc}") from None
    if not isinstance(entries, list):
        raise ArchiveError("invalid archive: manifest.json is not a list")
    images = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ArchiveError("invalid archive: bad manifest.json entry")
        config_raw = _read_verified(_file(directory, entry["Config"]),
                                    _blob_digest(entry["Config"]), "config")
        layers = [ArchiveLayer(_file(directory, name), _blob_digest(name))
                  for name in entry.get("Layers") or []]
        images.append(ArchiveImage(config_raw, "sha256:" + hashlib.sha256(config_raw).hexdigest(),
                                   layers, [t for t in entry.get("RepoTags") or []],
                                   entry.get("Parent") or ""))
    return images


def _platform_matches(platform: dict[str, Any]) -> bool:
    here = platforms.host()
    host_os, host_arch, host_variant = here.os, here.architecture, here.variant
    if platform.get("os", host_os) != host_os:
        return False
    if platform.get("architecture", host_arch) != host_arch:
        return False
    variant = platform.get("variant")
    return not variant or not host_variant or variant == host_variant or \
        (host_arch == "arm64" and variant in ("v8", ""))


def _oci_name(annotations: dict[str, str]) -> str | None:
    name = annotations.get(ANNOTATION_IMAGE_NAME)
    if not name:
        ref_name = annotations.get(ANNOTATION_REF_NAME, "")
        if "/" in ref_name or ":" in ref_name:   # a full reference, not just a tag
            name = ref_name
    if name:
        try:
            return str(reference.parse(name))
        except InvalidParameter:
            return None
    return None


def _read_oci(directory: str) -> list[ArchiveImage]:
    def blob(descriptor: dict[str, Any], what: str) -> bytes:
        digest = descriptor.get("digest", "")
        reference.validate_digest(digest)
        if not digest.startswith("sha256:"):
            raise ArchiveError(f"invalid archive: unsupported digest {digest}")
        data = _read_verified(_file(directory, f"blobs/sha256/{digest[7:]}"), digest, what)
        if "size" in descriptor and descriptor["size"] != len(data):
            raise ArchiveError(f"invalid archive: {what} size mismatch")
        return data

    def manifest_of(descriptor: dict[str, Any]) -> dict[str, Any] | None:
        doc = json.loads(blob(descriptor, "manifest"))
        if doc.get("mediaType") in INDEXES or descriptor.get("mediaType") in INDEXES \
                or ("manifests" in doc and "layers" not in doc):
            candidates = [d for d in doc.get("manifests") or []
                          if (d.get("annotations") or {}).get("vnd.docker.reference.type")
                          != "attestation-manifest"]
            for child in candidates:
                if _platform_matches(child.get("platform") or {}):
                    return manifest_of(child)
            here = platforms.host()
            raise ArchiveError(f"no matching manifest for {here.os}/{here.architecture} in the "
                               "manifest list entries")
        return doc

    try:
        with open(os.path.join(directory, "index.json"), "rb") as f:
            index = json.load(f)
    except ValueError as exc:
        raise ArchiveError(f"invalid archive: index.json: {exc}") from None
    images: list[ArchiveImage] = []
    by_manifest: dict[str, ArchiveImage] = {}
    for descriptor in index.get("manifests") or []:
        platform = descriptor.get("platform")
        if platform and not _platform_matches(platform):
            continue
        name = _oci_name(descriptor.get("annotations") or {})
        key = descriptor.get("digest", "")
        if key in by_manifest:
            if name and name not in by_manifest[key].tags:
                by_manifest[key].tags.append(name)
            continue
        manifest = manifest_of(descriptor)
        if manifest is None:
            continue
        config_desc = manifest.get("config") or {}
        config_raw = blob(config_desc, "config")
        layers = []
        for layer in manifest.get("layers") or []:
            digest = layer.get("digest", "")
            reference.validate_digest(digest)
            layers.append(ArchiveLayer(_file(directory, f"blobs/sha256/{digest[7:]}"), digest))
        image = ArchiveImage(config_raw, config_desc["digest"], layers, [name] if name else [])
        by_manifest[key] = image
        images.append(image)
    if not images:
        raise ArchiveError("invalid archive: index.json names no image for this platform")
    return images


# --- import ---------------------------------------------------------------------------------

def import_platform(text: str | None) -> platforms.Platform:
    """`docker import --platform`: any platform.Parse accepts, but only Linux."""
    platform = platforms.parse(text)
    if platform.os != "linux":
        raise InvalidParameter(f"operating system is not supported: {platform.os}")
    return platform


def import_config(diff_id: str, created: str, source: str, message: str = "",
                  container_config: dict[str, Any] | None = None,
                  platform: str | None = None, docker_version: str = "") -> dict[str, Any]:
    """The image config `docker import` writes for a one-layer image."""
    target = import_platform(platform)
    os_, arch, variant = target.os, target.architecture, target.variant
    comment = message or f"Imported from {source}"
    config: dict[str, Any] = {
        "architecture": arch, "comment": comment,
        "config": full_config(container_config), "created": created,
        "docker_version": docker_version,
        "history": [{"created": created, "comment": comment}],
        "os": os_, "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    if variant:
        config["variant"] = variant
    if not docker_version:
        del config["docker_version"]
    return dict(sorted(config.items()))


def open_url(url: str, timeout: float = 60) -> BinaryIO:
    """An import source given as a URL (http:// is assumed when no scheme is given)."""
    import urllib.error
    import urllib.request

    if "://" not in url:
        url = "http://" + url
    if not url.startswith(("http://", "https://")):
        raise InvalidParameter(f"unsupported URL scheme: {url}")
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise InvalidParameter(f"failed to GET {url} with status {exc.code} "
                               f"{exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InvalidParameter(f"Get \"{url}\": {reason}") from None
    return response  # type: ignore[return-value]
