"""The build context on disk: the uploaded tar (plain or compressed) unpacked into a
directory as it streams in, .dockerignore applied, the Dockerfile read; COPY/ADD's sources
resolved (wildcards, Docker's directory rules), checksummed by content for the cache and
written as a layer tar (sorted entries, owners and modes as asked, times clamped when
reproducible)."""
from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import stat
import tarfile
import time
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from ... import dockerignore, tarsafe
from ...cppaths import tar_header
from ...errors import InvalidParameter

_CHUNK = 1 << 20


class _Counted:
    def __init__(self, stream: BinaryIO) -> None:
        self.stream, self.count = stream, 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        return data


def receive(stream: BinaryIO, directory: str) -> None:
    """Unpack the context tar (any compression tarfile detects) below `directory`.

    The docker CLI's tar for a Dockerfile from outside the context ends right after the
    last file's bytes (no padding, no end blocks); a stream that ends there is whole."""
    counted = _Counted(stream)
    archive = None
    try:
        archive = tarfile.open(fileobj=counted, mode="r|*")  # type: ignore[call-overload]
        tarsafe.unpack(archive, directory, options=tarsafe.UnpackOptions(lchown=False))
    except tarfile.ReadError as exc:
        last = archive.members[-1] if archive is not None and archive.members else None
        plain = getattr(getattr(archive, "fileobj", None), "comptype", "") == "tar"
        if not (plain and last is not None and "unexpected end" in str(exc)
                and counted.count >= last.offset_data + last.size):
            raise InvalidParameter(f"failed to read the build context: {exc}") from None
    except tarfile.TarError as exc:
        raise InvalidParameter(f"failed to read the build context: {exc}") from None
    while stream.read(_CHUNK):      # trailing blocks
        pass


def read_dockerfile(directory: str, name: str) -> str:
    """The Dockerfile named by the request (a path inside the context)."""
    rel = tarsafe.clean_name(name or "Dockerfile")
    path = os.path.join(directory, rel)
    candidates = [path] if name else [path, os.path.join(directory, "dockerfile")]
    missing = InvalidParameter(f"Cannot locate specified Dockerfile: {name or 'Dockerfile'}")
    for candidate in candidates:
        if os.path.lexists(candidate):
            candidate = in_context(directory, candidate, missing)
        if os.path.isfile(candidate):
            with open(candidate, encoding="utf-8", errors="replace") as f:
                return f.read()
    raise missing


def apply_dockerignore(directory: str) -> None:
    """Remove what .dockerignore excludes (the Dockerfile was read before)."""
    path = os.path.join(directory, ".dockerignore")
    if not os.path.isfile(path) or os.path.islink(path):
        return
    with open(path, encoding="utf-8", errors="replace") as f:
        matcher = dockerignore.Matcher(dockerignore.read(f.read()))
    kept = set(matcher.walk(directory))
    for root, dirs, files in os.walk(directory, topdown=False):
        for name in files + dirs:
            full = os.path.join(root, name)
            rel = os.path.relpath(full, directory)
            if rel in kept:
                continue
            if os.path.isdir(full) and not os.path.islink(full):
                if not os.listdir(full):
                    os.rmdir(full)
            else:
                os.unlink(full)


# --- COPY / ADD sources -----------------------------------------------------------------------

@dataclass
class Source:
    path: str       # on disk
    rel: str        # relative to the source root ("" for the root itself)


def _escapes(rel: str) -> bool:
    return rel == ".." or rel.startswith("../")


def in_context(root: str, path: str, error: Exception) -> str:
    """`path` with its symlinks resolved, which must stay inside the context `root`."""
    real, base = os.path.realpath(path), os.path.realpath(root)
    if real != base and not real.startswith(base + os.sep):
        raise error
    return real


def resolve(root: str, pattern: str, what: str) -> list[Source]:
    """The sources a COPY argument names: a path or a wildcard, inside `root`."""
    clean = posixpath.normpath("/" + pattern).lstrip("/")
    if _escapes(posixpath.normpath(pattern)) and not pattern.startswith("/"):
        raise InvalidParameter(f"{what} failed: forbidden path outside the build context: "
                               f"{pattern} ()")
    if not any(ch in clean for ch in "*?["):
        full = os.path.join(root, clean) if clean else root
        outside = InvalidParameter(f"{what} failed: forbidden path outside the build "
                                   f"context: {pattern} ()")
        if clean and os.path.lexists(full):
            # the context's own symlinks are followed, but never out of it
            real = in_context(root, full if os.path.islink(full)
                              else os.path.dirname(full), outside)
            if os.path.islink(full):
                return [Source(real, clean)]
            full = os.path.join(real, os.path.basename(full))
        if not os.path.lexists(full):
            raise InvalidParameter(f"{what} failed: file not found in build context or "
                                   f"excluded by .dockerignore: stat {pattern}: file does "
                                   "not exist")
        return [Source(full, clean)]
    matches = [""]
    for part in clean.split("/"):
        nxt = []
        for base in matches:
            directory = os.path.join(root, base) if base else root
            if not os.path.isdir(directory) or os.path.realpath(directory) != \
                    os.path.join(os.path.realpath(root), base).rstrip("/"):
                continue        # not a directory of the context itself (a symlink)
            for name in sorted(os.listdir(directory)):
                if fnmatch.fnmatchcase(name, part):
                    nxt.append(f"{base}/{name}" if base else name)
        matches = nxt
    return [Source(os.path.join(root, m), m) for m in matches]


def fnmatch_path(rel: str, pattern: str) -> bool:
    """COPY --exclude: a pattern matched per path element, or on any parent."""
    matcher = dockerignore.Matcher([posixpath.normpath(pattern).lstrip("/")])
    return matcher.excluded(rel)


def walk(source: Source) -> Iterator[tuple[str, str]]:
    """(relative name below the source, path) for a source and, for a directory, its
    contents in sorted order; the source itself is ""."""
    yield "", source.path
    if os.path.isdir(source.path) and not os.path.islink(source.path):
        for root, dirs, files in os.walk(source.path):
            dirs.sort()
            rel_root = os.path.relpath(root, source.path)
            for name in sorted(dirs + files):
                rel = name if rel_root == "." else f"{rel_root}/{name}"
                yield rel, os.path.join(root, name)


def checksum(sources: list[Source]) -> str:
    """Content checksum of the sources (names, modes, link targets and file bytes; not
    owners or times), the cache's key for COPY/ADD."""
    digest = hashlib.sha256()
    for source in sources:
        for rel, path in walk(source):
            st = os.lstat(path)
            digest.update(f"{source.rel}/{rel}\0{stat.S_IFMT(st.st_mode)}"
                          f"\0{stat.S_IMODE(st.st_mode)}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                digest.update(os.readlink(path).encode() + b"\0")
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        digest.update(chunk)
            digest.update(b"\1")
    return digest.hexdigest()


@dataclass
class Placement:
    """One entry of the layer: a path on disk written at `name` in the image."""
    name: str
    path: str | None            # None: a directory the copy creates


def plan(sources: list[Source], dest: str, dest_is_dir: bool) -> list[Placement]:
    """Docker's rules: a directory's contents go into dest; a file goes to dest, or into it
    when dest is a directory (ends with '/', exists as one, or there are several sources)."""
    out: list[Placement] = []
    dest = dest.strip("/")
    for source in sources:
        is_dir = os.path.isdir(source.path) and not os.path.islink(source.path)
        for rel, path in walk(source):
            if is_dir:
                if not rel:
                    continue    # a directory's contents are copied, not the directory
                name = f"{dest}/{rel}" if dest else rel
            else:
                base = posixpath.basename(source.rel) or os.path.basename(source.path)
                name = f"{dest}/{base}" if dest_is_dir else dest
            out.append(Placement(name.strip("/"), path))
    return out


def write_layer(placements: list[Placement], out: BinaryIO, parents: list[str],
                owner: tuple[int, int] | None, chmod: int | None,
                epoch: int | None) -> None:
    """The layer tar: `parents` (directories to create, root-owned 0755 or owner's),
    then the placements in order, sorted names, clamped times when `epoch` is given."""
    seen: set[str] = set()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in parents:
            info = tarfile.TarInfo(name + "/")
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            info.uid, info.gid = owner or (0, 0)
            info.mtime = epoch if epoch is not None else int(time.time())
            tar.addfile(info)
            seen.add(name)
        for item in sorted(placements, key=lambda p: p.name):
            if item.name in seen or not item.name or item.path is None:
                continue
            seen.add(item.name)
            st = os.lstat(item.path)
            info = tar_header(item.path, item.name, st)
            if info is None:
                continue
            info.uid, info.gid = owner or (0, 0)
            if chmod is not None and not info.issym():
                info.mode = chmod
            if epoch is not None:
                info.mtime = min(info.mtime, epoch)
            if info.isreg():
                with open(item.path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
