"""Overlay snapshotter: each layer unpacked once under overlay/<chainid-hex>/diff and shared
by every image that uses it; containers get upper/work directories of their own."""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from typing import BinaryIO

from ..linux import atomic
from .content import ContentStore
from .layers import apply_layer

COMMITTED = "committed"


def chain_ids(diff_ids: list[str]) -> list[str]:
    chain: list[str] = []
    for diff_id in diff_ids:
        chain.append(diff_id if not chain else
                     "sha256:" + hashlib.sha256(f"{chain[-1]} {diff_id}".encode()).hexdigest())
    return chain


@dataclass
class OverlayMount:
    lowerdirs: list[str]   # topmost first, as overlayfs wants them
    upperdir: str
    workdir: str

    def options(self) -> str:
        return (f"lowerdir={':'.join(self.lowerdirs)},upperdir={self.upperdir},"
                f"workdir={self.workdir}")


class Snapshotter:
    def __init__(self, root: str, content: ContentStore) -> None:
        self.content = content
        self.root = os.path.join(root, "overlay")
        self.containers = os.path.join(self.root, "containers")
        self.empty = os.path.join(self.root, "empty")
        for path in (self.root, self.containers, self.empty):
            os.makedirs(path, mode=0o700, exist_ok=True)

    def layer_dir(self, chain_id: str) -> str:
        return os.path.join(self.root, chain_id.split(":", 1)[1])

    def has(self, chain_id: str) -> bool:
        return os.path.exists(os.path.join(self.layer_dir(chain_id), COMMITTED))

    def unpack(self, parent_chain: str | None, stream: BinaryIO) -> tuple[str, str, int]:
        """Unpack a layer on top of `parent_chain`; returns (diff ID, chain ID, size).
        The layer lands in a temp dir and is renamed into place only when complete; its
        uncompressed tar is kept in the content store under its diff ID."""
        tmp = os.path.join(self.root, f".tmp-{os.getpid()}-{os.urandom(6).hex()}")
        os.makedirs(os.path.join(tmp, "diff"))
        blob_tmp, sink = self.content.temp_file()
        try:
            with sink:
                diff_id, size = apply_layer(stream, os.path.join(tmp, "diff"), sink)
            self.content.commit_temp(blob_tmp, diff_id)
            chain = "sha256:" + hashlib.sha256(f"{parent_chain} {diff_id}".encode()
                                               ).hexdigest() if parent_chain else diff_id
            final = self.layer_dir(chain)
            if self.has(chain):
                shutil.rmtree(tmp)
                return diff_id, chain, size
            shutil.rmtree(final, ignore_errors=True)
            atomic.write_bytes(os.path.join(tmp, "size"), str(size).encode())
            atomic.write_bytes(os.path.join(tmp, "diff_id"), diff_id.encode())
            atomic.write_bytes(os.path.join(tmp, COMMITTED), b"")
            os.rename(tmp, final)
            atomic.fsync_dir(self.root)
            return diff_id, chain, size
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if os.path.exists(blob_tmp):
                os.unlink(blob_tmp)
            raise

    def size(self, chain_id: str) -> int:
        try:
            with open(os.path.join(self.layer_dir(chain_id), "size")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return 0

    def lowerdirs(self, chains: list[str]) -> list[str]:
        dirs = [os.path.join(self.layer_dir(c), "diff") for c in reversed(chains)]
        return dirs or [self.empty]

    def prepare_rw(self, key: str, chains: list[str]) -> OverlayMount:
        """Idempotent: the container's upper/work dirs on top of the image's layers."""
        base = os.path.join(self.containers, key)
        upper, work = os.path.join(base, "upper"), os.path.join(base, "work")
        os.makedirs(upper, exist_ok=True)
        os.makedirs(work, exist_ok=True)
        return OverlayMount(self.lowerdirs(chains), upper, work)

    def remove_rw(self, key: str) -> None:
        shutil.rmtree(os.path.join(self.containers, key), ignore_errors=True)

    def garbage_collect(self, in_use: set[str]) -> int:
        """Remove layers no image references (and abandoned temp dirs); returns bytes freed."""
        freed = 0
        for name in os.listdir(self.root):
            path = os.path.join(self.root, name)
            if name.startswith(".tmp-"):
                shutil.rmtree(path, ignore_errors=True)
            elif len(name) == 64 and f"sha256:{name}" not in in_use:
                freed += self.size(f"sha256:{name}")
                try:
                    with open(os.path.join(path, "diff_id")) as f:
                        self.content.delete(f.read().strip())
                except OSError:
                    pass
                shutil.rmtree(path, ignore_errors=True)
        return freed
