"""Overlay snapshotter.

Every layer is unpacked once, under overlay/<chain-id hex>/diff, and shared by all images
whose layer stacks begin the same way (the chain ID names the whole stack up to and
including the layer: chainID(L0) = diffID(L0), chainID(Ln) = sha256(chainID(Ln-1) + " " +
diffID(Ln))). A layer is unpacked into a temp dir, synced and renamed into place, and then
its row (layer_rows.py: diff ID, parent, size, short link name) is committed: a layer
exists when its row does, and a directory no row names is garbage (removed at start-up).
Containers get overlay/containers/<id>/{upper,work}, an `init` layer (initlayer.py) below
the upper dir, and a writable-layer row naming the image and chain IDs they sit on, so
their layers outlive a forced `rmi`.

    overlay/<chainhex>/diff        the layer's files (overlay whiteouts)
    overlay/l/<short>              -> ../<chainhex>/diff (short lowerdirs for long stacks)
    overlay/containers/<id>/       upper, work, init
    overlay/empty                  the lower dir of an image without layers

`lock` orders the directory work against garbage collection: "row missing, so rename the
layer into place and insert its row" and "row gone, so remove the directory" never
interleave.
"""
from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import shutil
import sqlite3
import string
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

from ..errors import NotFound
from ..linux import atomic
from . import initlayer, layer_rows
from .content import ContentStore
from .layers import LayerError, apply_layer, directory_size

log = logging.getLogger(__name__)

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
        self.db = content.db
        self.lock = threading.Lock()
        self.root = os.path.join(data_root, "overlay")
        self.links = os.path.join(self.root, "l")
        self.containers = os.path.join(self.root, "containers")
        self.empty = os.path.join(self.root, "empty")
        for path in (self.root, self.links, self.containers, self.empty):
            os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(self.empty, 0o755)
        layer_rows.migrate(self.db, data_root)
        self.remove_unnamed()

    # --- layers -------------------------------------------------------------------------------
    def layer_dir(self, chain: str) -> str:
        return os.path.join(self.root, chain.split(":", 1)[1])

    def diff_dir(self, chain: str) -> str:
        return os.path.join(self.layer_dir(chain), "diff")

    def _row(self, chain: str) -> sqlite3.Row | None:
        return self.db.query_one("SELECT * FROM layers WHERE chain_id = ?", (chain,))

    def has(self, chain: str) -> bool:
        return self._row(chain) is not None

    def claim(self, chain: str, lease: str | None) -> bool:
        """Whether the layer exists; if so the lease now holds it. One transaction, so a
        concurrent collect either ran before (then the layer is gone) or sees the lease."""
        if lease is None:
            return self.has(chain)
        with self.db.transaction() as conn:
            found = conn.execute("SELECT 1 FROM layers WHERE chain_id = ?",
                                 (chain,)).fetchone()
            if found is not None:
                layer_rows.attach(conn, lease, "layer", chain)
        return found is not None

    def list_layers(self) -> list[str]:
        return [r[0] for r in self.db.query("SELECT chain_id FROM layers ORDER BY chain_id")]

    def size(self, chain: str) -> int:
        row = self._row(chain)
        return int(row["size"]) if row else 0

    def diff_id(self, chain: str) -> str:
        row = self._row(chain)
        return str(row["diff_id"]) if row else ""

    def parent(self, chain: str) -> str:
        row = self._row(chain)
        return str(row["parent"]) if row else ""

    def unpack(self, parent_chain: str | None, stream: BinaryIO,
               expected_diff_id: str | None = None, expected_digest: str | None = None,
               lease: str | None = None) -> LayerInfo:
        """Unpack a layer on top of `parent_chain`. With an expected diff ID a layer that is
        already there is not read at all; otherwise the stream is unpacked into a temp dir,
        checked (diff ID, and the raw digest when given), its uncompressed tar committed to
        the content store, the dir renamed into place and its row committed. What it
        creates or reuses is attached to `lease`."""
        if expected_diff_id:
            chain = chain_id(parent_chain, expected_diff_id)
            if self.content.claim(expected_diff_id, lease) and self.claim(chain, lease):
                if expected_digest:     # already here, but the archive must not lie
                    _check_digest(stream, expected_digest)
                return LayerInfo(expected_diff_id, chain, self.size(chain), "", False)
        tmp = os.path.join(self.root, atomic.temp_name())
        os.makedirs(os.path.join(tmp, "diff"))
        os.chmod(os.path.join(tmp, "diff"), 0o755)
        try:
            with self.content.writer(hashed_by_caller=True, lease=lease) as blob:
                stats = apply_layer(stream, os.path.join(tmp, "diff"), blob)
                if expected_digest and stats.digest != expected_digest:
                    raise LayerError(f"invalid layer: digest mismatch: expected "
                                     f"{expected_digest}, got {stats.digest}")
                if expected_diff_id and stats.diff_id != expected_diff_id:
                    raise LayerError(f"invalid diffID for layer: expected "
                                     f'"{expected_diff_id}", got "{stats.diff_id}"')
                blob.commit(stats.diff_id)
            chain = chain_id(parent_chain, stats.diff_id)
            if self.claim(chain, lease):
                shutil.rmtree(tmp, ignore_errors=True)
                return LayerInfo(stats.diff_id, chain, self.size(chain), stats.digest, False)
            size = directory_size(os.path.join(tmp, "diff"))
            _sync_tree(tmp)
            return self._commit(tmp, chain, stats.diff_id, parent_chain or "", size,
                                stats.digest, lease)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _commit(self, tmp: str, chain: str, diff_id: str, parent: str, size: int,
                digest: str, lease: str | None) -> LayerInfo:
        """Directory into place, then its row: under the lock, so a concurrent unpack of
        the same layer or a sweep of its old directory cannot fall in between."""
        with self.lock:
            if self.claim(chain, lease):      # another unpack won the race
                shutil.rmtree(tmp, ignore_errors=True)
                return LayerInfo(diff_id, chain, self.size(chain), digest, False)
            final = self.layer_dir(chain)
            if os.path.lexists(final):        # no row: garbage of a GC or crash
                self._discard(final)
            os.rename(tmp, final)
            atomic.fsync_dir(self.root)
            short = self._new_link_name()
            os.symlink(os.path.join("..", chain.split(":", 1)[1], "diff"),
                       os.path.join(self.links, short))
            with self.db.transaction() as conn:
                conn.execute("INSERT INTO layers (chain_id, diff_id, parent, size, link) "
                             "VALUES (?, ?, ?, ?, ?)", (chain, diff_id, parent, size, short))
                layer_rows.attach(conn, lease, "layer", chain)
        return LayerInfo(diff_id, chain, size, digest, True)

    def _new_link_name(self) -> str:
        alphabet = string.ascii_uppercase + string.digits
        return "".join(random.SystemRandom().choice(alphabet) for _ in range(26))

    def _ensure_link(self, chain: str) -> str:
        row = self._row(chain)
        short = str(row["link"]) if row else ""
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
        """Delete a layer's row; its directory goes once the (caller's) transaction has
        committed."""
        row = self._row(chain)
        if row is None:
            return False
        def after(committed: bool) -> None:
            if committed:
                self.remove_dirs([(chain, str(row["link"]))])

        with self.db.transaction() as conn:
            conn.execute("DELETE FROM layers WHERE chain_id = ?", (chain,))
            self.db.when_done(after)
        return True

    def remove_dirs(self, layers: Iterable[tuple[str, str]]) -> None:
        """After the transaction that deleted their rows: (chain ID, link) directories go,
        unless an unpack has put the layer back meanwhile."""
        for chain, short in layers:
            with self.lock:
                if self.has(chain):
                    continue
                if short:
                    try:
                        os.unlink(os.path.join(self.links, short))
                    except FileNotFoundError:
                        pass
                self._discard(self.layer_dir(chain))

    def _discard(self, path: str) -> None:
        """Rename out of the namespace at once, delete at leisure."""
        trash = os.path.join(self.root, atomic.temp_name("rm"))
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def missing(self) -> list[str]:
        """Chain IDs whose row names a directory that is gone."""
        return [c for c in self.list_layers() if not os.path.isdir(self.diff_dir(c))]

    def lowerdirs(self, chains: list[str]) -> list[str]:
        dirs = [self.diff_dir(c) for c in reversed(chains)]
        return dirs or [self.empty]

    # --- containers' writable layers ------------------------------------------------------------
    def rw_dir(self, key: str) -> str:
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"invalid container key: {key!r}")
        return os.path.join(self.containers, key)

    def rw_info(self, key: str) -> dict | None:
        row = self.db.query_one("SELECT image_id, init FROM writable_layers "
                                "WHERE container_id = ?", (key,))
        if row is None:
            return None
        chains = [r[0] for r in self.db.query(
            "SELECT chain_id FROM writable_layer_chains WHERE container_id = ? "
            "ORDER BY position", (key,))]
        return {"image": row["image_id"], "chains": chains, "init": bool(row["init"])}

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
            with self.db.transaction() as conn:
                conn.execute("INSERT INTO writable_layers (container_id, image_id, init) "
                             "VALUES (?, ?, 1)", (key, info["image"]))
                conn.executemany("INSERT INTO writable_layer_chains (container_id, position, "
                                 "chain_id) VALUES (?, ?, ?)",
                                 [(key, n, c) for n, c in enumerate(chains)])
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
        """The row first (its layers may then be collected), the directory after."""
        base = self.rw_dir(key)
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM writable_layers WHERE container_id = ?", (key,))
        if not os.path.exists(base):
            return
        trash = os.path.join(self.containers, f".rm-{key}-{os.urandom(4).hex()}")
        os.rename(base, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def holds(self, image_id: str) -> bool:
        """Whether a container's writable layer sits on the image."""
        return self.db.query_one("SELECT 1 FROM writable_layers WHERE image_id = ?",
                                 (image_id,)) is not None

    def list_rw(self) -> dict[str, dict]:
        keys = [r[0] for r in self.db.query("SELECT container_id FROM writable_layers")]
        return {key: self.rw_info(key) or {"image": "", "chains": []} for key in keys}

    # --- housekeeping ---------------------------------------------------------------------------
    def remove_unnamed(self) -> None:
        """Start-up: unpacks and removals interrupted by a crash, layer and container
        directories no row names, links whose layer is gone."""
        atomic.remove_temp_entries(self.root)
        layers = set(self.list_layers())
        for name in os.listdir(self.root):
            if _HEX64.match(name) and f"sha256:{name}" not in layers:
                shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)
                log.warning("repaired: removed layer directory overlay/%s: no row names it",
                            name)
        atomic.remove_temp_entries(self.containers, (".rm-",))
        rw = {r[0] for r in self.db.query("SELECT container_id FROM writable_layers")}
        for name in os.listdir(self.containers):
            if not name.startswith(".") and name not in rw:
                shutil.rmtree(os.path.join(self.containers, name), ignore_errors=True)
                log.warning("repaired: removed writable layer directory of %s: no row names "
                            "it", name[:12])
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
