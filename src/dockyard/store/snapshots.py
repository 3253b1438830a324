"""Overlay snapshotter.

Every layer is unpacked once, under overlay/<chain-id hex>/diff, and shared by all images
whose layer stacks begin the same way (the chain ID names the whole stack up to and
including the layer: chainID(L0) = diffID(L0), chainID(Ln) = sha256(chainID(Ln-1) + " " +
diffID(Ln))). A layer is unpacked into a temp dir, gets its metadata files and a
`committed` marker, and is renamed into place: a directory named after a chain ID is always
complete. Containers get overlay/containers/<id>/{upper,work}, an `init` layer (initlayer.py) below
the upper dir, and a `lower` file naming the image and chain IDs they sit on, so their
layers outlive a forced `rmi`.

    overlay/<chainhex>/diff        the layer's files (overlay whiteouts)
    overlay/<chainhex>/diff_id     the layer's diff ID; parent: the parent chain ID or ""
    overlay/<chainhex>/size        Docker's DiffSize of the layer
    overlay/<chainhex>/link        short name; overlay/l/<short> -> ../<chainhex>/diff
    overlay/<chainhex>/committed
    overlay/empty                  the lower dir of an image without layers
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import random
import re
import shutil
import string
from dataclasses import dataclass, field
from typing import BinaryIO

from ..errors import NotFound
from ..linux import atomic
from . import initlayer
from .content import ContentStore
from .layers import LayerError, apply_layer, directory_size

log = logging.getLogger(__name__)

COMMITTED = "committed"
_HEX64 = re.compile(r"^[a-f0-9]{64}$")
_MOUNT_DATA_MAX = 4000          # the mount data page is 4096 bytes


def chain_ids(diff_ids: list[str]) -> list[str]:
    chain: list[str] = []
    for diff_id in diff_ids:
        chain.append(chain_id(chain[-1] if chain else None, diff_id))
    return chain


def chain_id(parent: str | None, diff_id: str) -> str:
    if not parent:
        return diff_id
    return "sha256:" + hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()


@dataclass
class LayerInfo:
    diff_id: str
    chain_id: str
    size: int                 # DiffSize (bytes of files)
    digest: str = ""          # digest of the stream as read (empty if not unpacked now)
    unpacked: bool = True     # False when the layer was already there


@dataclass
class OverlayMount:
    lowerdirs: list[str]                  # topmost first, as overlayfs wants them
    upperdir: str
    workdir: str
    short_lowerdirs: list[str] = field(default_factory=list, repr=False)

    def options(self) -> str:
        """The overlay mount data; uses the short layer links when the full paths would
        not fit into the kernel's page of mount options."""
        tail = f",upperdir={self.upperdir},workdir={self.workdir}"
        data = f"lowerdir={':'.join(self.lowerdirs)}{tail}"
        if len(data) > _MOUNT_DATA_MAX and self.short_lowerdirs:
            data = f"lowerdir={':'.join(self.short_lowerdirs)}{tail}"
        return data


class Snapshotter:
    def __init__(self, data_root: str, content: ContentStore) -> None:
        self.content = content
        self.root = os.path.join(data_root, "overlay")
        self.links = os.path.join(self.root, "l")
        self.containers = os.path.join(self.root, "containers")
        self.empty = os.path.join(self.root, "empty")
        for path in (self.root, self.links, self.containers, self.empty):
            os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(self.empty, 0o755)
        self.cleanup_temp()

    # --- layers -------------------------------------------------------------------------------
    def layer_dir(self, chain: str) -> str:
        return os.path.join(self.root, chain.split(":", 1)[1])

    def diff_dir(self, chain: str) -> str:
        return os.path.join(self.layer_dir(chain), "diff")

    def has(self, chain: str) -> bool:
        return os.path.exists(os.path.join(self.layer_dir(chain), COMMITTED))

    def list_layers(self) -> list[str]:
        return [f"sha256:{name}" for name in os.listdir(self.root)
                if _HEX64.match(name) and self.has(f"sha256:{name}")]

    def _read(self, chain: str, name: str) -> str:
        try:
            with open(os.path.join(self.layer_dir(chain), name)) as f:
                return f.read().strip()
        except OSError:
            return ""

    def size(self, chain: str) -> int:
        try:
            return int(self._read(chain, "size"))
        except ValueError:
            return 0

    def diff_id(self, chain: str) -> str:
        return self._read(chain, "diff_id")

    def parent(self, chain: str) -> str:
        return self._read(chain, "parent")

    def unpack(self, parent_chain: str | None, stream: BinaryIO,
               expected_diff_id: str | None = None, expected_digest: str | None = None
               ) -> LayerInfo:
        """Unpack a layer on top of `parent_chain`. With an expected diff ID a layer that is
        already there is not read at all; otherwise the stream is unpacked into a temp dir,
        checked (diff ID, and the raw digest when given), its uncompressed tar committed to
        the content store, and the dir renamed into place."""
        if expected_diff_id:
            chain = chain_id(parent_chain, expected_diff_id)
            if self.has(chain) and self.content.exists(expected_diff_id):
                if expected_digest:     # already here, but the archive must not lie
                    _check_digest(stream, expected_digest)
                return LayerInfo(expected_diff_id, chain, self.size(chain), "", False)
        tmp = os.path.join(self.root, atomic.temp_name())
        os.makedirs(os.path.join(tmp, "diff"))
        os.chmod(os.path.join(tmp, "diff"), 0o755)
        try:
            with self.content.writer(hashed_by_caller=True) as blob:
                stats = apply_layer(stream, os.path.join(tmp, "diff"), blob)
                if expected_digest and stats.digest != expected_digest:
                    raise LayerError(f"invalid layer: digest mismatch: expected "
                                     f"{expected_digest}, got {stats.digest}")
                if expected_diff_id and stats.diff_id != expected_diff_id:
                    raise LayerError(f"invalid diffID for layer: expected "
                                     f'"{expected_diff_id}", got "{stats.diff_id}"')
                blob.commit(stats.diff_id)
            chain = chain_id(parent_chain, stats.diff_id)
            size = directory_size(os.path.join(tmp, "diff"))
            if self.has(chain):
                shutil.rmtree(tmp, ignore_errors=True)
                return LayerInfo(stats.diff_id, chain, self.size(chain), stats.digest, False)
            short = self._new_link_name()
            for name, value in (("diff_id", stats.diff_id), ("parent", parent_chain or ""),
                                ("size", str(size)), ("link", short)):
                with open(os.path.join(tmp, name), "w") as f:
                    f.write(value)
            with open(os.path.join(tmp, COMMITTED), "w"):
                pass
            _sync_tree(tmp)
            try:
                os.rename(tmp, self.layer_dir(chain))
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not self.has(chain):
                    raise
                shutil.rmtree(tmp, ignore_errors=True)     # another unpack won the race
                return LayerInfo(stats.diff_id, chain, self.size(chain), stats.digest, False)
            atomic.fsync_dir(self.root)
            self._ensure_link(chain)
            return LayerInfo(stats.diff_id, chain, size, stats.digest, True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _new_link_name(self) -> str:
        alphabet = string.ascii_uppercase + string.digits
        return "".join(random.SystemRandom().choice(alphabet) for _ in range(26))

    def _ensure_link(self, chain: str) -> str:
        short = self._read(chain, "link")
        if not short:
            return self.diff_dir(chain)
        path = os.path.join(self.links, short)
        if not os.path.islink(path):
            try:
                os.symlink(os.path.join("..", chain.split(":", 1)[1], "diff"), path)
            except FileExistsError:
                pass
        return path

    def remove_layer(self, chain: str) -> bool:
        """Take a layer out of the namespace atomically (rename), then delete it."""
        path = self.layer_dir(chain)
        if not os.path.exists(path):
            return False
        short = self._read(chain, "link")
        trash = os.path.join(self.root, atomic.temp_name("rm"))
        os.rename(path, trash)
        if short:
            try:
                os.unlink(os.path.join(self.links, short))
            except FileNotFoundError:
                pass
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def lowerdirs(self, chains: list[str]) -> list[str]:
        dirs = [self.diff_dir(c) for c in reversed(chains)]
        return dirs or [self.empty]

    # --- containers' writable layers ------------------------------------------------------------
    def rw_dir(self, key: str) -> str:
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"invalid container key: {key!r}")
        return os.path.join(self.containers, key)

    def rw_info(self, key: str) -> dict | None:
        try:
            with open(os.path.join(self.rw_dir(key), "lower")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def prepare_rw(self, key: str, image_id: str | None = None,
                   chains: list[str] | None = None) -> OverlayMount:
        """Idempotent: the container's upper/work dirs on top of its image's layers. Once
        created, the recorded lower layers are used whatever the image store says."""
        base = self.rw_dir(key)
        info = self.rw_info(key)
        if info is None:
            if chains is None:
                raise NotFound(f"No such image: {image_id}")
            missing = [c for c in chains if not self.has(c)]
            if missing:
                raise NotFound(f"layer {missing[0]} of image {image_id} is missing")
            os.makedirs(base, mode=0o700, exist_ok=True)
            self._make_init(base, chains)
            info = {"image": image_id or "", "chains": list(chains), "init": True}
            atomic.write_json(os.path.join(base, "lower"), info)
        upper, work = os.path.join(base, "upper"), os.path.join(base, "work")
        for path in (upper, work):
            if not os.path.isdir(path):
                os.makedirs(path, mode=0o755, exist_ok=True)
        layers = list(info.get("chains") or [])
        missing = [c for c in layers if not self.has(c)]
        if missing:
            raise NotFound(f"layer {missing[0]} of container {key} is missing")
        short = [self._ensure_link(c) for c in reversed(layers)] or [self.empty]
        lowers = self.lowerdirs(layers)
        if info.get("init"):  # containers made before init layers existed have none
            init = os.path.join(base, "init")
            lowers, short = [init, *lowers], [init, *short]
        return OverlayMount(lowers, upper, work, short)

    def _make_init(self, base: str, chains: list[str]) -> None:
        """The container's init layer (initlayer.py), built aside and renamed into place."""
        final, temp = os.path.join(base, "init"), os.path.join(base, "init.tmp")
        for stale in (final, temp):
            shutil.rmtree(stale, ignore_errors=True)
        os.mkdir(temp, 0o755)
        initlayer.build(temp, self.lowerdirs(chains))
        os.rename(temp, final)

    def remove_rw(self, key: str) -> None:
        base = self.rw_dir(key)
        if not os.path.exists(base):
            return
        trash = os.path.join(self.containers, f".rm-{key}-{os.urandom(4).hex()}")
        os.rename(base, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def list_rw(self) -> dict[str, dict]:
        out = {}
        for name in os.listdir(self.containers):
            if name.startswith("."):
                continue
            info = self.rw_info(name)
            out[name] = info if info is not None else {"image": "", "chains": []}
        return out

    # --- housekeeping ---------------------------------------------------------------------------
    def unused(self, keep: set[str], order: list[str] | tuple[str, ...] = ()
               ) -> list[tuple[str, int]]:
        """(chain ID, size) of every layer that is neither in `keep` nor under a container's
        writable layer: garbage, for `remove_layer`. Those in `order` come first and topmost
        first (the order `rmi` reports them in)."""
        live = set(keep)
        for info in self.list_rw().values():
            live.update(info.get("chains") or [])
        existing = self.list_layers()
        wanted = set(order)
        ordered = [c for c in reversed(list(order)) if c in existing] + \
            [c for c in existing if c not in wanted]
        return [(chain, self.size(chain)) for chain in ordered if chain not in live]

    def cleanup_temp(self) -> None:
        """Unpacks and removals interrupted by a crash; links whose layer is gone."""
        atomic.remove_temp_entries(self.root)
        for name in os.listdir(self.root):
            path = os.path.join(self.root, name)
            if _HEX64.match(name) and not os.path.exists(os.path.join(path, COMMITTED)):
                shutil.rmtree(path, ignore_errors=True)
                log.warning("repaired: removed half-unpacked layer %s", path)
        atomic.remove_temp_entries(self.containers, (".rm-",))
        for name in os.listdir(self.links):
            path = os.path.join(self.links, name)
            if not os.path.exists(path):
                try:
                    os.unlink(path)
                except OSError:
                    pass


def _check_digest(stream: BinaryIO, expected: str) -> None:
    hasher = hashlib.new(expected.split(":", 1)[0])
    while chunk := stream.read(1 << 20):
        hasher.update(chunk)
    actual = f"{expected.split(':', 1)[0]}:{hasher.hexdigest()}"
    if actual != expected:
        raise LayerError(f"invalid layer: digest mismatch: expected {expected}, got {actual}")


def _sync_tree(path: str) -> None:
    """fsync a freshly unpacked layer before it is renamed into place (syncfs of the
    filesystem is far cheaper than one fsync per file)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _syncfs(fd)
    finally:
        os.close(fd)


_libc = None


def _syncfs(fd: int) -> None:
    global _libc
    try:
        if _libc is None:
            import ctypes
            import ctypes.util

            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if _libc.syncfs(fd) == 0:
            return
    except (OSError, AttributeError):
        pass
    os.sync()
