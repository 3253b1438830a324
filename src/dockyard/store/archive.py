"""Image archives: `docker save` output (OCI layout plus Docker's manifest.json) and `load`
of either Docker's format or a plain OCI image layout."""
from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
from typing import Any, Callable, Iterator

from ..errors import InvalidParameter

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
    tar.addfile(info)


class _Pipe(io.RawIOBase):
    """Collects what tarfile writes so `save` can be streamed chunk by chunk."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def save(images: list[tuple[Any, list[str]]], read_blob: Callable[[str], Any]
         ) -> Iterator[bytes]:
    """images: (Image, familiar tags to record). Yields the tar archive in pieces."""
    pipe = _Pipe()
    tar = tarfile.open(fileobj=pipe, mode="w|", format=tarfile.PAX_FORMAT)
    written: set[str] = set()
    manifest_json = []
    index_manifests = []
    _add_dir(tar, "blobs")
    _add_dir(tar, "blobs/sha256")

    def blob(digest: str, data: bytes | None = None) -> str:
        name = f"blobs/sha256/{digest.split(':', 1)[1]}"
        if digest not in written:
            written.add(digest)
            if data is not None:
                _add(tar, name, data)
            else:
                with read_blob(digest) as f:
                    size = os.fstat(f.fileno()).st_size
                    info = tarfile.TarInfo(name)
                    info.size, info.mode, info.mtime = size, 0o644, 0
                    tar.addfile(info, f)
        return name

    for image, tags in images:
        config_raw = json.dumps(image.config, separators=(",", ":")).encode()
        with read_blob(image.id) as f:
            config_raw = f.read()
        config_name = blob(image.id, config_raw)
        diff_ids = (image.config.get("rootfs") or {}).get("diff_ids", [])
        layers = []
        layer_names = []
        for diff_id in diff_ids:
            layer_names.append(blob(diff_id))
            with read_blob(diff_id) as f:
                layers.append({"mediaType": OCI_LAYER, "digest": diff_id,
                               "size": os.fstat(f.fileno()).st_size})
            yield pipe.take()
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": image.id,
                               "size": len(config_raw)}, "layers": layers}
        manifest_raw = json.dumps(manifest, separators=(",", ":")).encode()
        import hashlib
        manifest_digest = "sha256:" + hashlib.sha256(manifest_raw).hexdigest()
        blob(manifest_digest, manifest_raw)
        for tag in tags or [None]:
            entry: dict[str, Any] = {"mediaType": OCI_MANIFEST, "digest": manifest_digest,
                                     "size": len(manifest_raw)}
            if tag:
                entry["annotations"] = {"io.containerd.image.name": _full_name(tag),
                                        "org.opencontainers.image.ref.name":
                                            tag.rsplit(":", 1)[-1]}
            index_manifests.append(entry)
        manifest_json.append({"Config": config_name, "RepoTags": tags or None,
                              "Layers": layer_names})
    _add(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    _add(tar, "index.json", json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                        "manifests": index_manifests}).encode())
    _add(tar, "manifest.json", json.dumps(manifest_json).encode())
    tar.close()
    yield pipe.take()


def _full_name(tag: str) -> str:
    from .reference import parse
    return str(parse(tag))


def extract(stream: Any, directory: str) -> None:
    """Unpack an image archive: only plain files and directories, names confined."""
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                name = os.path.normpath(member.name).lstrip("/")
                if name.startswith("..") or name in ("", "."):
                    continue
                path = os.path.join(directory, name)
                if member.isdir():
                    os.makedirs(path, exist_ok=True)
                elif member.isreg():
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    src = tar.extractfile(member)
                    assert src is not None
                    with open(path, "wb") as f:
                        shutil.copyfileobj(src, f, 1 << 20)
    except tarfile.TarError as exc:
        raise InvalidParameter(f"invalid tar header: {exc}") from None


def read_layout(directory: str) -> list[dict[str, Any]]:
    """The images in an extracted archive: [{config, layers (paths), tags}]."""
    def path_of(name: str) -> str:
        full = os.path.normpath(os.path.join(directory, name))
        if not full.startswith(directory + os.sep):
            raise InvalidParameter(f"invalid path in archive: {name}")
        return full

    manifest_path = os.path.join(directory, "manifest.json")
    found = []
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            entries = json.load(f)
        for entry in entries:
            with open(path_of(entry["Config"]), "rb") as f:
                config_raw = f.read()
            found.append({"config_raw": config_raw,
                          "layers": [path_of(p) for p in entry.get("Layers") or []],
                          "tags": entry.get("RepoTags") or []})
        return found
    index_path = os.path.join(directory, "index.json")
    if not os.path.exists(index_path):
        raise InvalidParameter("invalid archive: no manifest.json or index.json found")

    def blob_path(digest: str) -> str:
        return path_of(f"blobs/{digest.replace(':', '/', 1)}")

    def walk(descriptor: dict[str, Any], name: str | None) -> None:
        with open(blob_path(descriptor["digest"]), "rb") as f:
            doc = json.load(f)
        if doc.get("manifests"):
            for child in doc["manifests"]:
                platform = child.get("platform") or {}
                if platform and platform.get("architecture") not in (None, _host_arch()):
                    continue
                walk(child, name)
                return
            raise InvalidParameter("no matching manifest for this platform in the archive")
        with open(blob_path(doc["config"]["digest"]), "rb") as f:
            config_raw = f.read()
        found.append({"config_raw": config_raw,
                      "layers": [blob_path(layer["digest"]) for layer in doc["layers"]],
                      "tags": [name] if name else []})

    with open(index_path) as f:
        index = json.load(f)
    for descriptor in index.get("manifests") or []:
        annotations = descriptor.get("annotations") or {}
        name = annotations.get("io.containerd.image.name")
        if not name and ":" in annotations.get("org.opencontainers.image.ref.name", ""):
            name = annotations["org.opencontainers.image.ref.name"]
        walk(descriptor, name)
    return found


def _host_arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def temp_dir(root: str) -> str:
    return tempfile.mkdtemp(prefix=".load-", dir=root)
