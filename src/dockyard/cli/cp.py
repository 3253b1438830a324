"""`dockyard cp`: the docker CLI's copy rules between a container and the local disk.

The daemon archives or extracts one path; which path, and what the archive's top entry is
called, is decided here exactly as the docker CLI does (moby's CopyInfo/PrepareArchiveCopy
rules: trailing "/" and "/.", existing or new destinations, -L). Local extraction goes
through tarsafe, so a hostile archive cannot write outside the destination directory.
"""
from __future__ import annotations

import os
import posixpath
import stat
import sys
import tarfile
import tempfile
from typing import Any, BinaryIO, Callable

from .. import cppaths
from ..client import archive as api_archive
from ..client.transport import APIClient, APIError
from .common import CommandError, Context
from .flags import Bool, Opts, command


class CopyError(CommandError):
    """A copy the docker CLI refuses or cannot do."""


def split_arg(arg: str) -> tuple[str, str]:
    """CONTAINER:PATH or a local path (absolute, or starting with "." if it has a ':')."""
    if arg.startswith("/"):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return "", arg
    return container, path


def _local_abs(path: str) -> str:
    return cppaths.preserve_trailing(os.path.abspath(path), path)


def _asserts_directory(path: str) -> bool:
    return cppaths.has_trailing_separator(path) or cppaths.specifies_current_dir(path)


@command("[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\t"
         "dockyard cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
         Bool("-a, --archive", "Archive mode (copy all uid/gid information)"),
         Bool("-L, --follow-link", "Always follow symlinks in SRC_PATH"),
         Bool("-q, --quiet", "Suppress progress output during copy. Progress output is "
              "automatically suppressed if no terminal is attached", default=None),
         args=(2, 2))
def cp(ctx: Context, o: Opts, args: list[str]) -> None:
    source, destination, quiet = args[0], args[1], o.quiet
    if not source:
        raise CopyError("source can not be empty")
    if not destination:
        raise CopyError("destination can not be empty")
    if quiet is None:
        quiet = not sys.stdout.isatty()
    src_container, src_path = split_arg(source)
    dst_container, dst_path = split_arg(destination)
    if src_container and dst_container:
        raise CopyError("copying between containers is not supported")
    if not src_container and not dst_container:
        raise CopyError("must specify at least one container source")
    try:
        if src_container:
            _from_container(ctx.api, src_container, src_path, dst_path, o.follow_link, quiet)
        else:
            _to_container(ctx.api, dst_container, src_path, dst_path, o.follow_link, o.archive,
                          quiet)
    except OSError as exc:
        raise CopyError(f"{exc.strerror}: {exc.filename}" if exc.filename
                        else str(exc)) from None
    except tarfile.TarError as exc:
        raise CopyError(str(exc)) from None


# --- from a container -----------------------------------------------------------------------

class _Counting:
    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.total += len(data)
        return data


def _validate_output(path: str) -> None:
    parent = os.path.dirname(os.path.normpath(path))
    if parent and not os.path.exists(parent):
        raise CopyError(f'invalid output path: directory "{parent}" does not exist')
    if os.path.exists(path):
        mode = os.stat(path).st_mode
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            raise CopyError(f'invalid output path: "{path}" must be a directory or a '
                            "regular file")


def _destination_info(path: str) -> tuple[str, bool, bool]:
    """moby's CopyInfoDestinationPath: (path, exists, is_dir), symlinks followed."""
    for _ in range(11):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            parent, _ = cppaths.split_dir_entry(path)
            if not os.path.isdir(parent):
                if not os.path.exists(parent):
                    raise CopyError(f"stat {parent}: no such file or directory") from None
                raise CopyError("not a directory") from None
            return path, False, False
        if not stat.S_ISLNK(st.st_mode):
            return path, True, stat.S_ISDIR(st.st_mode)
        target = os.readlink(path)
        if not target.startswith("/"):
            target = os.path.join(cppaths.split_dir_entry(path)[0], target)
        path = target
    raise CopyError(f"too many symlinks in {path}")


def _prepare(src_path: str, src_is_dir: bool, rebase: str, dst: str
             ) -> tuple[str, str | None]:
    """moby's PrepareArchiveCopy: the directory to extract into and the name the archive's
    top entry must take there (None: keep it)."""
    dst_path, exists, dst_is_dir = _destination_info(dst)
    dst_dir, dst_base = cppaths.split_dir_entry(dst_path)
    if exists and dst_is_dir:
        return dst_path, None
    if exists and src_is_dir:
        raise CopyError("cannot copy directory")
    if not exists and not src_is_dir and _asserts_directory(dst_path):
        raise CopyError("no such directory")
    return dst_dir, dst_base


def _renamer(old: str, new: str) -> Callable[[tarfile.TarInfo], None]:
    def rename(member: tarfile.TarInfo) -> None:
        member.name = member.name.replace(old, new, 1)
        if member.islnk():
            member.linkname = member.linkname.replace(old, new, 1)
    return rename


def _from_container(api: APIClient, container: str, src_path: str, dst: str,
                    follow: bool, quiet: bool) -> None:
    if dst != "-":
        dst = _local_abs(dst)
        _validate_output(dst)
    rebase = ""
    if follow:
        try:
            st = api_archive.stat_path(api, container, src_path)
        except APIError:
            st = {}
        if st.get("mode", 0) & cppaths.MODE_SYMLINK:
            target = st["linkTarget"]
            if not target.startswith("/"):
                target = posixpath.join(cppaths.split_dir_entry(src_path)[0], target)
            src_path, rebase = cppaths.rebase_name(src_path, target)
    response, st = api_archive.get_archive(api, container, src_path)
    if dst == "-":
        out = sys.stdout.buffer
        while chunk := response.read(1 << 20):
            out.write(chunk)
        out.flush()
        return
    from ..tarsafe import UnpackOptions, unpack

    src_base = cppaths.split_dir_entry(src_path)[1]
    renames = []
    if rebase:
        renames.append(_renamer(src_base, rebase))
        src_base = rebase
    dst_dir, new_base = _prepare(src_path, cppaths.is_dir_mode(st.get("mode", 0)), rebase,
                                 dst)
    if new_base is not None:
        renames.append(_renamer(src_base, new_base))
    counted = _Counting(response)
    archive = tarfile.open(fileobj=counted, mode="r|*")  # type: ignore[call-overload]
    unpack(_renamed(archive, renames), dst_dir, "",  # type: ignore[arg-type]
           UnpackOptions(strict_names=True, no_overwrite_dir_nondir=True, lchown=False))
    while counted.read(1 << 20):
        pass
    if not quiet:
        print(cppaths.copied_message(counted.total, dst), file=sys.stderr)


class _renamed:
    """A TarFile whose members are renamed on the way (moby's RebaseArchiveEntries)."""

    def __init__(self, archive: tarfile.TarFile, renames: list[Callable[[tarfile.TarInfo],
                                                                        None]]) -> None:
        self.archive = archive
        self.renames = renames

    def __iter__(self) -> Any:
        for member in self.archive:
            for rename in self.renames:
                rename(member)
            yield member

    def extractfile(self, member: tarfile.TarInfo) -> Any:
        return self.archive.extractfile(member)


# --- to a container -------------------------------------------------------------------------

def _source_info(path: str, follow: bool) -> tuple[str, bool, str]:
    """moby's CopyInfoSourcePath: (resolved path, is_dir, rebase name)."""
    rebase = ""
    if follow:
        if not os.path.lexists(path):
            raise CopyError(f"lstat {path}: no such file or directory")
        resolved, rebase = cppaths.rebase_name(path, os.path.realpath(path))
    else:
        head, base = path.rsplit("/", 1) if "/" in path else ("", path)
        resolved = os.path.realpath(head + "/" if head else ".").rstrip("/") + "/" + base
        if cppaths.has_trailing_separator(path) and \
                cppaths.go_base(path) != cppaths.go_base(resolved):
            rebase = cppaths.go_base(path)
    try:
        st = os.lstat(resolved)
    except FileNotFoundError:
        raise CopyError(f"lstat {resolved}: no such file or directory") from None
    return resolved, stat.S_ISDIR(st.st_mode), rebase


def _to_container(api: APIClient, container: str, src: str, dst_path: str,
                  follow: bool, copy_uid_gid: bool, quiet: bool) -> None:
    if src != "-":
        src = _local_abs(src)
    target, exists, is_dir = dst_path, False, False
    try:
        st = api_archive.stat_path(api, container, dst_path)
        if st.get("mode", 0) & cppaths.MODE_SYMLINK:
            target = st["linkTarget"]
            if not target.startswith("/"):
                target = posixpath.join(cppaths.split_dir_entry(dst_path)[0], target)
            st = api_archive.stat_path(api, container, target)
        mode = st.get("mode", 0)
        if mode & (cppaths.MODE_DEVICE | cppaths.MODE_NAMED_PIPE | cppaths.MODE_SOCKET):
            raise CopyError(f'destination "{container}:{dst_path}" must be a directory or '
                            "a regular file")
        exists, is_dir = True, cppaths.is_dir_mode(mode)
    except APIError as exc:
        if exc.status != 404:
            raise
    if src == "-":
        if not is_dir:
            raise CopyError(f'destination "{container}:{dst_path}" must be a directory')
        api_archive.put_archive(api, container, target, sys.stdin.buffer, None,
                                copy_uid_gid)
        return
    resolved, src_is_dir, rebase = _source_info(src, follow)
    src_base = rebase or cppaths.split_dir_entry(resolved)[1]
    dst_dir, dst_base = cppaths.split_dir_entry(target)
    if exists and is_dir:
        extract_to, top = target, src_base
    elif exists and src_is_dir:
        raise CopyError("cannot copy directory")
    elif not exists and not src_is_dir and _asserts_directory(target):
        raise CopyError("no such directory")
    else:
        extract_to, top = dst_dir, dst_base
    with tempfile.TemporaryFile() as spool:
        size = cppaths.write_tar(spool, resolved, rebase=top if top != "." else "")
        spool.seek(0)
        api_archive.put_archive(api, container, extract_to, spool, size, copy_uid_gid)
    if not quiet:
        print(cppaths.copied_message(size, f"{container}:{target}"), file=sys.stderr)

