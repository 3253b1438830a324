"""Unpack a tar stream into a directory without ever writing outside a chosen root.

Used for image layers (store/layers.py), for `PUT /containers/{id}/archive` (in a child
chrooted into the container, see engine/containers/archive.py) and by `dockyard cp` on the
local side. The tar is hostile until proven otherwise: every entry's parent directory is
resolved with secure_join (symlinks followed as if `root` were '/'), so neither a symlink
nor a hard link can steer a write outside `root`; hard links may only point at entries inside
it; trusted.overlay.* xattrs from the archive are dropped.

Two naming modes. Layers clamp '..' at the root ("/../../etc/x" is "etc/x"). Copies (`base`
given) follow Docker's Unpack: names and relative link targets that leave `base` are refused.
"""
from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
from dataclasses import dataclass
from typing import Callable

from .errors import InvalidParameter
from .linux.securejoin import secure_join


class UnpackError(InvalidParameter):
    pass


@dataclass
class UnpackOptions:
    strict_names: bool = False          # refuse names leaving the base (cp) instead of clamping
    no_overwrite_dir_nondir: bool = False
    lchown: bool = True                 # apply the archive's (or `owner`'s) uid/gid
    owner: tuple[int, int] | None = None


def clean_name(name: str) -> str:
    """Relative, normalised, '..' clamped at the root: "/../../etc/x" -> "etc/x". A NUL
    byte (PAX headers can carry one) is refused: no system call takes it."""
    if "\x00" in name:
        raise UnpackError(f"invalid tar: NUL byte in name {name!r}")
    out: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(part)
    return "/".join(out)


def inside(root: str, path: str) -> bool:
    return path == root or root == "/" or path.startswith(root + os.sep)


def resolve_parent(root: str, parent_rel: str, create: bool = True) -> str:
    """The host directory for a parent path inside root: symlinks resolved confined to
    root, missing directories created; refuses anything but a real directory inside root."""
    if not parent_rel:
        return root
    resolved = secure_join(root, parent_rel)
    if not inside(root, resolved):          # secure_join never does this; belt and braces
        raise UnpackError(f"path escapes the target: {parent_rel}")
    try:
        st = os.lstat(resolved)
    except FileNotFoundError:
        if not create:
            raise UnpackError(f"no such directory: {parent_rel}") from None
        _mkdirs(root, resolved)
        return resolved
    if not stat.S_ISDIR(st.st_mode):
        raise UnpackError(f"invalid tar: {parent_rel} is not a directory")
    return resolved


def _mkdirs(root: str, path: str) -> None:
    rel = os.path.relpath(path, root)
    current = root
    for part in rel.split(os.sep):
        current = os.path.join(current, part)
        try:
            os.mkdir(current, 0o755)
        except FileExistsError:
            st = os.lstat(current)
            if not stat.S_ISDIR(st.st_mode):
                raise UnpackError(f"invalid tar: {os.path.relpath(current, root)} is not a "
                                  "directory") from None


def remove(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def utime(path: str, mtime: float) -> None:
    ns = int(mtime * 1_000_000_000)
    os.utime(path, ns=(ns, ns), follow_symlinks=False)


def _check_strict(base: str, member: tarfile.TarInfo) -> None:
    """Docker's breakout checks for copies: the entry, a relative symlink target and a hard
    link target must all stay below the extraction directory."""
    name = posixpath.normpath(member.name)
    if name == ".." or name.startswith("../"):
        raise UnpackError(f'"{member.name}" is outside of "{base}"')
    lexical = posixpath.join(base, name.lstrip("/"))
    if member.issym():
        target = posixpath.normpath(posixpath.join(posixpath.dirname(lexical), member.linkname)
                                    if not member.linkname.startswith("/") else
                                    posixpath.dirname(lexical) + member.linkname)
        if not inside(base, target):
            raise UnpackError(f'invalid symlink "{target}" -> "{member.linkname}"')
    if member.islnk():
        target = posixpath.normpath(posixpath.join(base, member.linkname))
        if not inside(base, target):
            raise UnpackError(f'invalid hardlink "{target}" -> "{member.linkname}"')


def unpack(archive: tarfile.TarFile, root: str, base: str = "",
           options: UnpackOptions | None = None,
           special: Callable[[tarfile.TarInfo, str, str], bool] | None = None) -> None:
    """Extract every member below root/base. `special(member, parent_dir, basename)` may
    consume an entry (layers use it for whiteouts) by returning True."""
    options = options or UnpackOptions()
    root = os.path.abspath(root)
    base_rel = clean_name(base)
    base_dir = os.path.join(root, base_rel) if base_rel else root
    dir_times: list[tuple[str, float]] = []
    for member in archive:
        if options.strict_names:
            _check_strict(base_dir, member)
        rel = clean_name(member.name)
        if not rel:
            continue        # the archive root itself
        parent_rel, _, name = rel.rpartition("/")
        full_parent = "/".join(p for p in (base_rel, parent_rel) if p)
        parent = resolve_parent(root, full_parent)
        if special is not None and special(member, parent, name):
            continue
        path = os.path.join(parent, name)
        if _extract_member(archive, member, path, root, base_rel, options) and member.isdir():
            dir_times.append((path, member.mtime))
    for path, mtime in reversed(dir_times):   # directory times last, after their contents
        utime(path, mtime)


def check_link(member: tarfile.TarInfo) -> None:
    """A link target with a NUL byte (from a PAX record) no system call takes."""
    if "\x00" in member.linkname:
        raise UnpackError(f"invalid tar: NUL byte in link target of {member.name}")


def check_owner(member: tarfile.TarInfo) -> None:
    """A header's uid and gid must be ids chown takes: base-256 fields can hold negative or
    huge numbers, which os.lchown refuses with an OverflowError (not an OSError)."""
    for value in (member.uid, member.gid):
        if not 0 <= value < 0xFFFFFFFF:      # (uid_t)-1 means "unchanged" to chown
            raise UnpackError(f"invalid tar: {member.name}: owner {member.uid}:{member.gid} "
                              "out of range")


def _extract_member(archive: tarfile.TarFile, member: tarfile.TarInfo, path: str,
                    root: str, base_rel: str, options: UnpackOptions) -> bool:
    """Create one entry at `path` (whose parent is already a real directory inside root).
    Returns False for entry types that are skipped."""
    check_link(member)
    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        existing = None
    if existing is not None:
        is_dir = stat.S_ISDIR(existing.st_mode)
        if options.no_overwrite_dir_nondir and is_dir and not member.isdir():
            raise UnpackError(f'cannot overwrite directory "{path}" with non-directory '
                              f'"{member.name}"')
        if options.no_overwrite_dir_nondir and not is_dir and member.isdir():
            raise UnpackError(f'cannot overwrite non-directory "{path}" with directory '
                              f'"{member.name}"')
        if not (member.isdir() and is_dir):
            remove(path)
    mode = member.mode & 0o7777
    if member.isdir():
        if existing is None or not stat.S_ISDIR(existing.st_mode):
            os.mkdir(path, 0o700)
    elif member.isreg():
        src = archive.extractfile(member)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        with os.fdopen(fd, "wb") as out:
            if src is not None:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
    elif member.issym():
        os.symlink(member.linkname, path)
    elif member.islnk():
        link_rel = clean_name(member.linkname)
        if not link_rel:
            raise UnpackError(f"invalid hardlink {member.name} -> {member.linkname}")
        link_rel = "/".join(p for p in (base_rel, link_rel) if p)
        link_parent_rel, _, link_base = link_rel.rpartition("/")
        source = os.path.join(resolve_parent(root, link_parent_rel, create=False), link_base)
        try:
            st = os.lstat(source)
        except FileNotFoundError:
            raise UnpackError(f"invalid hardlink {member.name} -> {member.linkname}: "
                              "no such file") from None
        if stat.S_ISDIR(st.st_mode) or not inside(root, source):
            raise UnpackError(f"invalid hardlink {member.name} -> {member.linkname}")
        os.link(source, path, follow_symlinks=False)
        return True      # shares the inode (and so the metadata) of its source
    elif member.ischr() or member.isblk():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
    elif member.isfifo():
        os.mkfifo(path, 0o600)
    else:
        return False
    if options.lchown:
        if not options.owner:
            check_owner(member)
        uid, gid = options.owner or (member.uid, member.gid)
        os.lchown(path, uid, gid)
    if not member.issym():
        os.chmod(path, mode)          # after chown, which clears set-id bits
    set_xattrs(path, member)
    if not member.isdir():
        utime(path, member.mtime)
    return True


def set_xattrs(path: str, member: tarfile.TarInfo) -> None:
    """The entry's extended attributes, but never trusted.overlay.*: only whiteouts made by
    dockyard itself may steer overlayfs."""
    for key, value in (member.pax_headers or {}).items():
        if not key.startswith("SCHILY.xattr."):
            continue
        name = key[len("SCHILY.xattr."):]
        if name.startswith("trusted.overlay."):
            continue
        try:
            os.setxattr(path, name, value.encode("utf-8", "surrogateescape"),
                        follow_symlinks=False)
        except OSError:
            pass          # e.g. user.* xattrs on symlinks, or a filesystem without them
