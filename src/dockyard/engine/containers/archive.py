"""`docker cp` on the daemon side: stat, archive and extract one path of a container.

Every operation runs in a child inside Docker's view of the container's filesystem
(linux/fsview.py), so paths resolve as they would for the container itself and never reach
host files. A stopped container's overlay is mounted for the occasion in the child's
private mount namespace. See docs/architecture.md, "Archives, cp and commit".
"""
from __future__ import annotations

import asyncio
import bz2  # noqa: F401 - the child may need them for compressed uploads and cannot import
import lzma  # noqa: F401
import os
import posixpath
import signal
import stat
import tarfile
import zlib  # noqa: F401
from typing import Any, AsyncIterator

from ... import cppaths, tarsafe
from ...errors import InvalidParameter
from ...linux import fsview
from .model import Container
from .service import ContainerService

_CHUNK = 1 << 20


def _not_found(path: str, ref: str) -> str:
    return f"Could not find the file {path} in container {ref}"


async def _run(service: ContainerService, container: Container, job: fsview.Job,
               child_reads: bool = False) -> fsview.View:
    """Start the job in Docker's view of the container's filesystem: its overlay (mounted
    privately for the child unless the running container's is there) and the network
    files."""
    overlay = ""
    if not os.path.ismount(container.rootfs):
        overlay = service.layers.prepare(container.id, container.record["Image"]).options()
    record = container.record
    mounts = [fsview.Bind(record[key], target) for key, target in (
        ("HostnamePath", "/etc/hostname"), ("HostsPath", "/etc/hosts"),
        ("ResolvConfPath", "/etc/resolv.conf")) if record.get(key)]
    mounts += [fsview.Bind(m["Source"], m["Destination"], not m.get("RW", True), user=True)
               for m in _binds(container)]
    return fsview.spawn(job, rootfs=container.rootfs, overlay=overlay, mounts=mounts,
                        child_reads=child_reads)


def _binds(container: Container) -> list[dict[str, Any]]:
    """The container's bind mounts (inspect's `Mounts`), parents first as the runtime
    mounts them."""
    binds = [m for m in container.record.get("Mounts") or []
             if m.get("Type") in ("bind", "volume")]
    return sorted(binds, key=lambda m: len([p for p in m["Destination"].split("/") if p]))


def _writable(target: str, binds: list[tuple[str, bool]], read_only_root: bool) -> None:
    """Docker's rule for PUT: a path inside a bind follows the bind's RW (then a read-only
    rootfs does not matter), anything else the rootfs. Runs chrooted in the view, where the
    bind destinations resolve as the container's own paths."""
    inside = [(os.path.realpath(dest), rw) for dest, rw in binds]
    inside = [(dest, rw) for dest, rw in inside
              if target == dest or target.startswith(dest.rstrip("/") + "/")]
    if inside:
        if not max(inside, key=lambda item: len(item[0]))[1]:
            raise InvalidParameter("mounted volume is marked read-only")
        return
    if read_only_root:
        raise InvalidParameter("container rootfs is marked read-only")


async def _close(view: fsview.View, kill: bool = False) -> None:
    if kill:
        try:
            os.kill(view.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    await asyncio.to_thread(fsview.finish, view)


# --- stat -----------------------------------------------------------------------------------

def _stat_job(path: str) -> fsview.Job:
    def job(report: fsview.Report, _fd: int) -> None:
        report({"ok": cppaths.path_stat(cppaths.absolute(path))})
    return job


async def stat_path(service: ContainerService, ref: str, path: str) -> dict[str, Any]:
    container = service.get(ref)
    view = await _run(service, container, _stat_job(path))
    try:
        message = await asyncio.to_thread(fsview.next_report, view)
    finally:
        await _close(view)
    fsview.raise_for(message, _not_found(path, ref))
    return message["ok"]


# --- archive (GET) --------------------------------------------------------------------------

def _archive_job(path: str) -> fsview.Job:
    def job(report: fsview.Report, fd: int) -> None:
        absolute = cppaths.absolute(path)
        report({"ok": cppaths.path_stat(absolute)})
        with os.fdopen(fd, "wb", buffering=_CHUNK) as out:
            cppaths.write_tar(out, absolute)
        report({"done": True})
    return job


async def archive_path(service: ContainerService, ref: str, path: str
                       ) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
    """The path's stat and its tar stream (consume it fully or close it)."""
    container = service.get(ref)
    view = await _run(service, container, _archive_job(path))
    try:
        message = await asyncio.to_thread(fsview.next_report, view)
        fsview.raise_for(message, _not_found(path, ref))
    except BaseException:
        await _close(view, kill=True)
        raise
    service.emit(container, "archive-path")

    async def chunks() -> AsyncIterator[bytes]:
        complete = False
        try:
            while chunk := await asyncio.to_thread(os.read, view.data_fd, _CHUNK):
                yield chunk
            final = await asyncio.to_thread(fsview.next_report, view)
            fsview.raise_for(final, _not_found(path, ref))
            complete = True
        finally:
            await _close(view, kill=not complete)
    return message["ok"], chunks()


# --- extract (PUT) --------------------------------------------------------------------------

def _passwd_owner(user: str) -> tuple[int, int]:
    """uid/gid of a container User ("name", "uid", "name:group", "uid:gid"), read from the
    container's own /etc/passwd and /etc/group as text (never through NSS)."""
    name, _, group = user.partition(":")

    def lookup(file: str, key: str) -> list[str] | None:
        try:
            with open(file, encoding="utf-8", errors="replace") as f:
                for line in f:
                    fields = line.rstrip("\n").split(":")
                    if len(fields) > 3 and key in (fields[0], fields[2]):
                        return fields
        except OSError:
            pass
        return None

    entry = lookup("/etc/passwd", name)
    if entry is None and not name.isdigit():
        raise InvalidParameter(f"unable to find user {name}: no matching entries in passwd "
                               "file")
    uid = int(entry[2]) if entry else int(name)
    gid = int(entry[3]) if entry else 0
    if group:
        found = lookup("/etc/group", group)
        if found is None and not group.isdigit():
            raise InvalidParameter(f"unable to find group {group}: no matching entries in "
                                   "group file")
        gid = int(found[2]) if found else int(group)
    return uid, gid


def _extract_job(path: str, read_only: bool, binds: list[tuple[str, bool]],
                 owner_user: str | None, no_overwrite_dir_nondir: bool) -> fsview.Job:
    def job(report: fsview.Report, fd: int) -> None:
        target = cppaths.preserve_trailing(os.path.realpath(posixpath.join("/", path)), path)
        if not stat.S_ISDIR(os.lstat(target).st_mode):
            raise InvalidParameter("extraction point is not a directory")
        _writable(os.path.normpath(target), binds, read_only)
        options = tarsafe.UnpackOptions(strict_names=True,
                                        no_overwrite_dir_nondir=no_overwrite_dir_nondir)
        if owner_user:
            options.owner = _passwd_owner(owner_user)
        report({"ok": True})
        with os.fdopen(fd, "rb", buffering=_CHUNK) as source:
            try:
                archive = tarfile.open(fileobj=source, mode="r|*")  # type: ignore
                tarsafe.unpack(archive, "/", os.path.normpath(target), options)
            except tarfile.TarError as exc:
                raise InvalidParameter(f"invalid tar archive: {exc}") from None
            while source.read(_CHUNK):      # the rest of the upload (trailing blocks)
                pass
        report({"done": True})
    return job


async def extract_to_dir(service: ContainerService, ref: str, path: str,
                         body: AsyncIterator[bytes], *, copy_uid_gid: bool = False,
                         no_overwrite_dir_nondir: bool = False) -> None:
    container = service.get(ref)
    owner = (container.config.get("User") or None) if copy_uid_gid else None
    binds = [(m["Destination"], bool(m.get("RW", True))) for m in _binds(container)]
    job = _extract_job(path, bool(container.host_config.get("ReadonlyRootfs")), binds, owner,
                       no_overwrite_dir_nondir)
    view = await _run(service, container, job, child_reads=True)
    complete = False
    try:
        message = await asyncio.to_thread(fsview.next_report, view)
        fsview.raise_for(message, _not_found(path, ref))
        try:
            async for chunk in body:
                await asyncio.to_thread(_write_all, view.data_fd, chunk)
        except BrokenPipeError:
            pass            # the child stopped reading: its report says why
        os.close(view.data_fd)
        view.data_fd = -1
        final = await asyncio.to_thread(fsview.next_report, view)
        fsview.raise_for(final, _not_found(path, ref))
        complete = True
    finally:
        await _close(view, kill=not complete)
    service.emit(container, "extract-to-dir")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

