"""What COPY, ADD and WORKDIR need to know of the image they change, read from its layer
directories top-down (overlay's view, whiteouts honoured) without mounting anything:
whether a path is a directory, which of its parents are missing, and --chown's names
looked up in the image's own /etc/passwd and /etc/group."""
from __future__ import annotations

import os
import posixpath
import stat
from typing import Any

from ...errors import InvalidParameter
from ...store.layers import OPAQUE_XATTR
from . import shell


def _lowerdirs(images: Any, image_id: str) -> list[str]:
    if not image_id:
        return []
    image = images.resolve(image_id)
    return [images.snapshots.diff_dir(c) for c in reversed(image.chain_ids)]


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _lstat(lowerdirs: list[str], rel: str) -> os.stat_result | None:
    """The path's entry as the overlay of the layers shows it (no symlinks followed):
    a whiteout (0/0 character device) hides it, an opaque parent hides lower layers."""
    parts = [p for p in rel.split("/") if p]
    full_rel = os.path.join(*parts)
    for lower in lowerdirs:
        try:
            st = os.lstat(os.path.join(lower, full_rel))
        except OSError:
            st = None
        if st is not None:
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None
            return st
        for depth in range(1, len(parts)):
            parent = os.path.join(lower, *parts[:depth])
            try:
                pst = os.lstat(parent)
            except OSError:
                break
            if stat.S_ISCHR(pst.st_mode) and pst.st_rdev == 0:
                return None
            if _opaque(parent):
                return None
    return None


def _readlink(lowerdirs: list[str], rel: str) -> str:
    for lower in lowerdirs:
        path = os.path.join(lower, rel)
        if os.path.lexists(path):
            return os.readlink(path)
    return ""


def resolve(images: Any, image_id: str, path: str) -> str:
    """`path` with the image's symlinks in its parents followed inside the image's root
    (as the container would see it: /var/run/x is /run/x when /var/run -> /run); the
    last element is kept as it is."""
    lowerdirs = _lowerdirs(images, image_id)
    trailing = "/" if path.endswith("/") else ""
    todo = [p for p in posixpath.normpath("/" + path).split("/") if p]
    done: list[str] = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        if not todo:
            done.append(part)
            break
        rel = "/".join([*done, part])
        st = _lstat(lowerdirs, rel)
        if st is not None and stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > 40:
                raise InvalidParameter(f"too many levels of symbolic links: {path}")
            target = _readlink(lowerdirs, rel)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p and p != "."] + todo
            continue
        done.append(part)
    return "/" + "/".join(done) + (trailing if done else "")


def kind(images: Any, image_id: str, path: str) -> str | None:
    """"dir", "file" or None (absent) for an absolute path in the image."""
    rel = posixpath.normpath(path).strip("/")
    if not rel:
        return "dir"
    st = _lstat(_lowerdirs(images, image_id), rel)
    if st is not None and stat.S_ISLNK(st.st_mode):     # follow it, as the container would
        real = posixpath.dirname(resolve(images, image_id, "/" + rel + "/x"))
        st = _lstat(_lowerdirs(images, image_id), real.strip("/")) if real != "/" else None
        if real == "/":
            return "dir"
    if st is None:
        return None
    return "dir" if stat.S_ISDIR(st.st_mode) else "file"


def missing_dirs(images: Any, image_id: str, path: str) -> list[str]:
    """The directories (relative, outermost first) to create so that `path` exists."""
    rel = posixpath.normpath(path).strip("/")
    if not rel or rel == ".":
        return []
    lowerdirs = _lowerdirs(images, image_id)
    parts = rel.split("/")
    missing: list[str] = []
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        if missing or _lstat(lowerdirs, prefix) is None:
            missing.append(prefix)
    return missing


def _read(lowerdirs: list[str], rel: str) -> str:
    st = _lstat(lowerdirs, rel)
    if st is None or not stat.S_ISREG(st.st_mode):
        return ""
    for lower in lowerdirs:
        path = os.path.join(lower, rel)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
    return ""


def _lookup(text: str, key: str) -> list[str] | None:
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) > 3 and fields[0] == key:
            return fields
    return None


def owner(images: Any, image_id: str, chown: str | None, env: dict[str, str],
          escape: str) -> tuple[int, int] | None:
    """--chown=user[:group] as numbers; a name is looked up in the image's files."""
    if not chown:
        return None
    text = shell.word(chown, env, escape)
    user, _, group = text.partition(":")
    lowerdirs = _lowerdirs(images, image_id)
    if user.isdigit():
        uid, gid = int(user), int(user)
    else:
        entry = _lookup(_read(lowerdirs, "etc/passwd"), user)
        if entry is None:
            raise InvalidParameter(f"unable to convert uid/gid chown string to host mapping: "
                                   f"can't find uid for user {user}: no such user: {user}")
        uid, gid = int(entry[2]), int(entry[3])
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            entry = _lookup(_read(lowerdirs, "etc/group"), group)
            if entry is None:
                raise InvalidParameter("unable to convert uid/gid chown string to host "
                                       f"mapping: can't find gid for group {group}: no such "
                                       f"group: {group}")
            gid = int(entry[2])
    return uid, gid
