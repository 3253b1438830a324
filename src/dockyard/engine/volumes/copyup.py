"""Copy-up: a new, empty volume mounted where the image has content gets that content, with
owners, modes and times, as Docker fills it (not with `nocopy`). The source is the
container's mounted rootfs; nothing is followed: symlinks are copied as links, hard links
inside the tree stay hard links, device nodes and fifos are made again."""
from __future__ import annotations

import os
import shutil
import stat


def is_empty(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is None
    except FileNotFoundError:
        return True


def copy_up(source: str, target: str) -> bool:
    """Copy `source`'s content into the empty directory `target` and give `target` the
    owner and mode of `source`; False (nothing done) when `source` is not a directory."""
    try:
        st = os.lstat(source)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        return False
    links: dict[tuple[int, int], str] = {}
    for base, dirs, files in os.walk(source):
        rel = os.path.relpath(base, source)
        dest_base = target if rel == "." else os.path.join(target, rel)
        for name in dirs + files:
            _copy_entry(os.path.join(base, name), os.path.join(dest_base, name), links)
        # os.walk does not descend into symlinks to directories (followlinks=False)
    for base, dirs, _ in os.walk(source, topdown=False):
        for name in dirs:
            path = os.path.join(base, name)
            if not os.path.islink(path):
                _copy_meta(path, os.path.join(target, os.path.relpath(path, source)))
    _copy_meta(source, target)
    return True


def _copy_entry(src: str, dst: str, links: dict[tuple[int, int], str]) -> None:
    st = os.lstat(src)
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        os.mkdir(dst, 0o700)
        return
    key = (st.st_dev, st.st_ino)
    if st.st_nlink > 1 and key in links:
        os.link(links[key], dst)
        return
    if stat.S_ISLNK(mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(mode):
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
        os.mknod(dst, mode, st.st_rdev)
    else:           # sockets are not copied, as Docker's copy skips them
        return
    if st.st_nlink > 1:
        links[key] = dst
    _copy_meta(src, dst)


def _copy_meta(src: str, dst: str) -> None:
    st = os.lstat(src)
    os.lchown(dst, st.st_uid, st.st_gid)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
