"""Apply a layer (a tar stream, optionally gzip/bzip2/xz/zstd-compressed) to a directory.

The uncompressed bytes are hashed on the fly (the layer's diff ID) and may be copied to a
sink (the content store keeps every layer's tar for `save`); the raw bytes are hashed too
(the digest of the blob as it came, which OCI manifests name).

OCI whiteouts become overlayfs ones: `.wh.<name>` a 0/0 character device, `.wh..wh..opq`
the xattr trusted.overlay.opaque=y on its directory.

Security: the entries are applied by dockyard/tarsafe.py, which confines every write to the
target (names clamped, parents resolved as if the target were '/', hard links only to
entries inside it, trusted.overlay.* xattrs from the archive dropped: only whiteouts made
here may steer overlayfs). Devices are created (the daemon is root), owners, modes, times
and other xattrs preserved.

Speed: decompression and hashing run in a producer thread, and small files and symlinks
are created by writer threads while the tar is still being parsed (creating inodes is the
slow part); the applier waits for them wherever an entry could depend on a pending one.
"""
from __future__ import annotations

import os
import queue
import stat
import tarfile
import threading
from typing import Any, BinaryIO

from ..tarsafe import (UnpackError, UnpackOptions, _extract_member, check_link, check_owner,
                       remove, resolve_parent, set_xattrs, utime)
from ..tarsafe import clean_name  # noqa: F401 (re-exported)
from .layerstream import LayerError, LayerReader, LayerStats

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
WHITEOUT_META_PREFIX = ".wh..wh."
OPAQUE_XATTR = "trusted.overlay.opaque"
_PARALLEL_MAX_FILE = 4 << 20   # smaller regular files are written by worker threads
_WRITER_BYTES = 32 << 20    # file data (plus a KB per entry) queued for the writer threads
_ENTRY_COST = 1024


# --- application ----------------------------------------------------------------------------

def _whiteout(member: tarfile.TarInfo, parent: str, base: str) -> bool:
    """OCI whiteouts become overlay ones; other AUFS metadata is dropped."""
    if base == WHITEOUT_OPAQUE:
        os.setxattr(parent, OPAQUE_XATTR, b"y")
        return True
    if base.startswith(WHITEOUT_META_PREFIX):
        return True        # other AUFS metadata (.wh..wh.plnk and friends)
    if not base.startswith(WHITEOUT_PREFIX):
        return False
    hidden = base[len(WHITEOUT_PREFIX):]
    if hidden in ("", ".", ".."):
        raise LayerError(f"invalid whiteout: {member.name}")
    path = os.path.join(parent, hidden)
    remove(path)
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))
    os.lchown(path, member.uid, member.gid)
    return True


_OPTIONS = UnpackOptions()


class _Writers:
    """Worker threads that create small regular files while the tar is still being read:
    creating inodes is the slow part of unpacking, and creations in different directories
    run in parallel in the kernel. A file goes to the worker its directory hashes to, so
    the entries of one directory stay in order. `pending` holds the paths not yet known to
    be written; the applier flushes before anything that could depend on one of them.
    The queues are bounded by bytes, not entries, so that a run of files in one directory
    (one writer) does not stop the parser from feeding the other writers."""

    def __init__(self, count: int) -> None:
        self.queues: list[queue.Queue[Any]] = [queue.Queue() for _ in range(count)]
        self.budget = threading.Condition()
        self.queued = 0          # bytes queued, bounded by _WRITER_BYTES
        self.error: BaseException | None = None
        self.pending: set[str] = set()
        self.threads = [threading.Thread(target=self._run, args=(q,), daemon=True)
                        for q in self.queues]
        for thread in self.threads:
            thread.start()

    def submit(self, path: str, data: bytes, member: tarfile.TarInfo) -> None:
        cost = len(data) + _ENTRY_COST
        with self.budget:
            while self.queued and self.queued + cost > _WRITER_BYTES:
                self.budget.wait()
            self.queued += cost
        self.pending.add(path)
        self.queues[hash(os.path.dirname(path)) % len(self.queues)].put((path, data, member))

    def _run(self, jobs: "queue.Queue[Any]") -> None:
        while True:
            job = jobs.get()
            try:
                if job is None:
                    return
                if self.error is None:
                    _write_file(*job)
            except BaseException as exc:  # noqa: BLE001 - re-raised by flush()
                if self.error is None:
                    self.error = exc
            finally:
                if job is not None:
                    with self.budget:
                        self.queued -= len(job[1]) + _ENTRY_COST
                        self.budget.notify()
                jobs.task_done()

    def flush(self) -> None:
        """Wait until every submitted file is written; raise a worker's error."""
        if self.pending:
            for jobs in self.queues:
                jobs.join()
            self.pending.clear()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        for jobs in self.queues:
            jobs.put(None)
        for thread in self.threads:
            thread.join()


def _write_file(path: str, data: bytes, member: tarfile.TarInfo) -> None:
    """Create one small file or symlink with as few system calls as possible: every call
    hands the GIL back and forth with the thread parsing the tar."""
    if member.issym():
        os.symlink(member.linkname, path)
        _set_metadata(path, member)
        return
    mode = member.mode & 0o7777
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 mode & 0o777 & ~_UMASK)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        owned = member.uid == _EUID and member.gid == _EGID
        if not owned:
            os.fchown(fd, member.uid, member.gid)
        if not owned or mode & 0o7000 or mode & _UMASK:
            os.fchmod(fd, mode)          # after chown, which clears set-id bits
        if member.pax_headers:
            set_xattrs(path, member)
        ns = int(member.mtime * 1_000_000_000)
        os.utime(fd, ns=(ns, ns))
    finally:
        os.close(fd)


def _current_umask() -> int:
    """The umask, read without changing it (os.umask would, for every thread)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o777     # unknown: always chmod


_UMASK = _current_umask()
_EUID, _EGID = os.geteuid(), os.getegid()


def apply_layer(stream: BinaryIO, target: str, sink: Any = None) -> LayerStats:
    """Unpack a layer into `target` (normally an empty directory) and return its digests.
    The whole stream is consumed, so the diff ID covers the tar's trailing blocks too."""
    target = os.path.abspath(target)
    reader = LayerReader(stream, sink)
    try:
        archive = tarfile.open(fileobj=reader, mode="r:",  # type: ignore[call-overload]
                               errorlevel=2)
    except tarfile.ReadError as exc:
        reader.close()
        if reader.size == 0 and reader.raw_size == 0:
            raise LayerError("invalid tar archive: empty") from None
        raise LayerError(f"invalid tar archive: {exc}") from None
    except BaseException:
        reader.close()
        raise
    dir_times: list[tuple[str, float]] = []
    writers = _Writers(max(2, min(4, os.cpu_count() or 1)))
    # resolved parent directories; only a removal can change what a path resolves to
    parents: dict[str, str] = {}
    # Into an empty target, what exists is what this layer made: known without a lookup
    # (lookups would wait for the writers' directory locks).
    made: set[str] | None = set() if not os.listdir(target) else None
    links: set[str] = set()       # relative paths of symlinks the writers may not have made
    made_dirs: set[str] = set()   # real directories made by this layer (until a removal)
    try:
        for member in archive:
            rel = clean_name(member.name)
            if not rel:
                continue        # the archive root itself
            check_owner(member)     # regular files go to the writers, past _extract_member
            check_link(member)
            parent_rel, _, base = rel.rpartition("/")
            if links and _through(parent_rel, links):
                writers.flush()          # the path may lead through a pending symlink
                links.clear()
            parent = parents.get(parent_rel)
            if parent is None:
                grand_rel, _, last = parent_rel.rpartition("/")
                grand = parents.get(grand_rel) if parent_rel else None
                candidate = os.path.join(grand, last) if grand is not None else ""
                if candidate in made_dirs:       # a directory this layer just made
                    parent = candidate
                else:
                    parent = resolve_parent(target, parent_rel)
                parents[parent_rel] = parent
                if made is not None:
                    ancestor = parent
                    while ancestor != target and ancestor not in made:
                        made.add(ancestor)
                        ancestor = os.path.dirname(ancestor)
            if base.startswith(WHITEOUT_PREFIX):     # whiteouts and other AUFS metadata
                writers.flush()
                links.clear()
                parents.clear()
                made_dirs.clear()
                _whiteout(member, parent, base)
                if made is not None:          # the whiteout device now exists there
                    made.add(os.path.join(parent, base[len(WHITEOUT_PREFIX):]))
                continue
            path = os.path.join(parent, base)
            exists = path in writers.pending or \
                (path in made if made is not None else os.path.lexists(path))
            if made is not None:
                made.add(path)
            if member.isreg() and member.size <= _PARALLEL_MAX_FILE and not exists:
                src = archive.extractfile(member)
                writers.submit(path, src.read() if src is not None else b"", member)
                continue
            if member.issym() and not exists:
                links.add(rel)
                writers.submit(path, b"", member)
                continue
            if exists or member.islnk():
                writers.flush()          # the entry replaces or links to a pending file
                links.clear()
                if exists and not member.isdir():
                    parents.clear()      # it may replace a directory or a symlink
                    made_dirs.clear()
            if _extract_member(archive, member, path, target, "", _OPTIONS) and member.isdir():
                dir_times.append((path, member.mtime))
                made_dirs.add(path)
        reader.drain()
        writers.flush()
    except UnpackError as exc:
        raise LayerError(exc.message.replace("invalid tar:", "invalid layer:")) from None
    except tarfile.TarError as exc:
        raise LayerError(f"invalid tar archive: {exc}") from None
    except OSError as exc:
        raise LayerError(f"failed to apply layer: {exc}") from None
    finally:
        writers.close()
        reader.close()
    for path, mtime in reversed(dir_times):   # directory times last, after their contents
        utime(path, mtime)
    return reader.stats()


def _through(parent_rel: str, links: set[str]) -> bool:
    """Whether parent_rel is, or lies under, one of the relative paths in `links`."""
    if not parent_rel:
        return False
    if parent_rel in links:
        return True
    position = parent_rel.find("/")
    while position != -1:
        if parent_rel[:position] in links:
            return True
        position = parent_rel.find("/", position + 1)
    return False


def _set_metadata(path: str, member: tarfile.TarInfo) -> None:
    """Owner, mode, xattrs and (but for directories, set last) the times of an entry."""
    os.lchown(path, member.uid, member.gid)
    if not member.issym():
        os.chmod(path, member.mode & 0o7777)      # after chown, which clears set-id bits
    set_xattrs(path, member)
    if not member.isdir():
        utime(path, member.mtime)


def directory_size(path: str) -> int:
    """Docker's layer DiffSize: apparent sizes of everything but directories, each inode
    counted once."""
    seen: set[int] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames + [d for d in dirnames
                                 if os.path.islink(os.path.join(dirpath, d))]:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if st.st_ino in seen:
                continue
            seen.add(st.st_ino)
            total += st.st_size
    return total
