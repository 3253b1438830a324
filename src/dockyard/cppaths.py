"""Docker's `cp` path rules and archives of one path, shared by the daemon (which runs them
inside the container's filesystem) and by `dockyard cp` on the local side.

Names follow moby's pkg/archive: a trailing "/" or "/." on a path is meaningful ("/." means
"the contents of"), an archive of a directory is rooted at the directory's base name, an
archive of anything else holds one entry, and `rebase` renames the top entry. Stats are
Docker's ContainerPathStat with Go's os.FileMode bits.
"""
from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from typing import Any, BinaryIO

from .errors import PATH_ERRNOS, InvalidParameter, SystemError_
from .timeutil import rfc3339nano
from .units import human_size

# Go's os.FileMode type bits
MODE_DIR = 1 << 31
MODE_SYMLINK = 1 << 27
MODE_DEVICE = 1 << 26
MODE_NAMED_PIPE = 1 << 25
MODE_SOCKET = 1 << 24
MODE_SETUID = 1 << 23
MODE_SETGID = 1 << 22
MODE_CHAR_DEVICE = 1 << 21
MODE_STICKY = 1 << 20
_CHUNK = 1 << 20


def go_file_mode(st_mode: int) -> int:
    """A stat mode as Go's os.FileMode (what Docker puts in a path stat)."""
    mode = st_mode & 0o777
    kind = stat.S_IFMT(st_mode)
    mode |= {stat.S_IFDIR: MODE_DIR, stat.S_IFLNK: MODE_SYMLINK, stat.S_IFBLK: MODE_DEVICE,
             stat.S_IFCHR: MODE_DEVICE | MODE_CHAR_DEVICE, stat.S_IFIFO: MODE_NAMED_PIPE,
             stat.S_IFSOCK: MODE_SOCKET}.get(kind, 0)
    for bit, go_bit in ((stat.S_ISUID, MODE_SETUID), (stat.S_ISGID, MODE_SETGID),
                        (stat.S_ISVTX, MODE_STICKY)):
        if st_mode & bit:
            mode |= go_bit
    return mode


def specifies_current_dir(path: str) -> bool:
    return posixpath.basename(path) == "."


def has_trailing_separator(path: str) -> bool:
    return path.endswith("/")


def preserve_trailing(cleaned: str, original: str) -> str:
    """moby's PreserveTrailingDotOrSeparator."""
    if not specifies_current_dir(cleaned) and specifies_current_dir(original):
        if not has_trailing_separator(cleaned):
            cleaned += "/"
        cleaned += "."
    if not has_trailing_separator(cleaned) and has_trailing_separator(original):
        cleaned += "/"
    return cleaned


def absolute(path: str) -> str:
    """A path inside the container, absolute, trailing "/" or "/." kept."""
    return preserve_trailing(go_clean(posixpath.join("/", path)), path)


def go_base(path: str) -> str:
    """Go's filepath.Base: trailing slashes dropped; "/" stays "/"; "" is "."."""
    stripped = path.rstrip("/")
    if not stripped:
        return "/" if path else "."
    return posixpath.basename(stripped)


def go_clean(path: str) -> str:
    """Go's filepath.Clean (Python's normpath keeps a leading "//")."""
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def split_dir_entry(path: str) -> tuple[str, str]:
    """moby's SplitPathDirEntry: "/a/b/" -> ("/a", "b"); "/a/b/." -> ("/a/b", ".");
    "/" -> ("/", "/")."""
    cleaned = go_clean(path)
    if specifies_current_dir(path):
        cleaned = cleaned.rstrip("/") + "/."
    return go_clean(posixpath.dirname(cleaned)), go_base(cleaned)


def rebase_name(path: str, resolved: str) -> tuple[str, str]:
    """moby's GetRebaseName: the resolved path with the trailing markers of `path`, and the
    name the archive's top entry must take ("" if it keeps its own)."""
    if specifies_current_dir(path) and not specifies_current_dir(resolved):
        resolved += "/."
    if has_trailing_separator(path) and not has_trailing_separator(resolved):
        resolved += "/"
    return resolved, go_base(path) if go_base(path) != go_base(resolved) else ""


def path_stat(path: str) -> dict[str, Any]:
    """Docker's ContainerPathStat of `path` (lstat; a trailing "/" follows a link)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:      # Go's *PathError text, e.g. "lstat /f/: not a directory"
        kind = InvalidParameter if exc.errno in PATH_ERRNOS else SystemError_
        raise kind(f"lstat {path}: {(exc.strerror or str(exc)).lower()}") from None
    target = ""
    if stat.S_ISLNK(st.st_mode):
        target = os.path.realpath(path)
    return {"name": go_base(path), "size": st.st_size, "mode": go_file_mode(st.st_mode),
            "mtime": rfc3339nano(st.st_mtime_ns), "linkTarget": target}


def is_dir_mode(go_mode: int) -> bool:
    return bool(go_mode & MODE_DIR)


# --- writing an archive of one path ------------------------------------------------------

def tar_header(path: str, name: str, st: os.stat_result) -> tarfile.TarInfo | None:
    """A header from lstat alone: numeric owners, no user-name look-ups (inside a container
    they would run the container's NSS modules)."""
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = st.st_mtime_ns // 1_000_000_000
    if stat.S_ISREG(st.st_mode):
        info.type, info.size = tarfile.REGTYPE, st.st_size
    elif stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        info.name = name.rstrip("/") + "/"
    elif stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(st.st_mode):
        info.type = tarfile.FIFOTYPE
    else:
        return None     # sockets: Go's tar cannot hold them either
    try:
        cap = os.getxattr(path, "security.capability", follow_symlinks=False)
        info.pax_headers = {"SCHILY.xattr.security.capability":
                            cap.decode("utf-8", "surrogateescape")}
    except OSError:
        pass
    return info


class _Counter:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.total = 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.total += len(data)
        return len(data)

    def tell(self) -> int:
        return self.total


def write_tar(out: BinaryIO, path: str, rebase: str = "") -> int:
    """Write moby's TarResourceRebase(path, rebase) to `out`; returns the bytes written.
    The top entry is named after the path's base name ("." for "dir/."), or `rebase`."""
    _, source_base = split_dir_entry(path)
    top = rebase or source_base     # the root is archived as "/", "//bin", ... as moby does
    counter = _Counter(out)
    links: dict[tuple[int, int], str] = {}
    tar = tarfile.TarFile(fileobj=counter, mode="w",  # type: ignore[arg-type]
                          format=tarfile.PAX_FORMAT)
    _add(tar, path, top, links)     # as given: a trailing "/" follows a symlink
    # The end-of-archive blocks, without tarfile's padding to 10 KiB records (Go's tar
    # writes none, and `cp` reports the size).
    counter.write(tarfile.NUL * (2 * tarfile.BLOCKSIZE))
    tar.closed = True
    return counter.total


def _add(tar: tarfile.TarFile, path: str, name: str,
         links: dict[tuple[int, int], str]) -> None:
    st = os.lstat(path)
    info = tar_header(path, name, st)
    if info is None:
        return
    if info.isreg() and st.st_nlink > 1:
        key = (st.st_dev, st.st_ino)
        if key in links:
            info.type, info.size, info.linkname = tarfile.LNKTYPE, 0, links[key]
            tar.addfile(info)
            return
        links[key] = info.name
    if info.isreg():
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            tar.addfile(info, f)
        return
    tar.addfile(info)
    if info.isdir():
        for entry in sorted(os.listdir(path)):
            parent = name if name == "/" else name.rstrip("/")
            _add(tar, os.path.join(path, entry), f"{parent}/{entry}", links)


def copied_message(size: int, destination: str) -> str:
    """The docker CLI's summary line after a copy."""
    return f"Successfully copied {human_size(size, precision=3)} to {destination}"
