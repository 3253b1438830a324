"""The image store and image service, on real files (root: devices, xattrs, overlay mounts).

Content store atomicity, Docker's reference rules, layer application (whiteouts, opaque
dirs, hostile archives), the overlay snapshotter, the image service's rules (tag, list,
inspect, history, rmi conflicts, prune), save/load round trips (Docker and OCI layouts),
crash safety (leftover temp files, kill -9 at random moments), the HTTP endpoints, and
the CLI's formatting helpers.
"""
from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import os
import random
import sqlite3
import signal
import stat
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
import types
from typing import Any

import pytest

from dockyard.errors import Conflict, InvalidParameter, NotFound

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")


@pytest.fixture(autouse=True)
def _root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: the store tests need root (devices, xattrs, mounts)")


# --- helpers ---------------------------------------------------------------------------------

def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes | None = None,
          mode: int = 0o644, uid: int = 0, gid: int = 0, mtime: int = 1_600_000_000,
          link: str = "", major: int = 0, minor: int = 0,
          pax: dict[str, str] | None = None) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, uid, gid, mtime
    info.linkname, info.devmajor, info.devminor = link, major, minor
    if pax:
        info.pax_headers = dict(pax)
    if kind == tarfile.REGTYPE:
        data = data or b""
    return info, data


def make_tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def service(root: str, events: Any = None) -> Any:
    from dockyard.engine.images import ImageService
    return ImageService(root, events)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, dict[str, str]]] = []

    def emit(self, type_: str, action: str, actor: str,
             attributes: dict[str, str] | None = None) -> None:
        self.events.append((type_, action, actor, dict(attributes or {})))

    def actions(self) -> list[str]:
        return [e[1] for e in self.events]


def simple_layer(*files: tuple[str, bytes]) -> bytes:
    return make_tar([entry(name, data=data) for name, data in files])


def import_bytes(svc: Any, data: bytes, repo: str | None = None, tag: str | None = None,
                 **kw: Any) -> str:
    return svc.import_image(io.BytesIO(data), repo, tag, **kw)


def mounted(lowerdirs: list[str], upper: str, work: str, target: str) -> Any:
    from dockyard.linux import syscalls
    from dockyard.store.snapshots import OverlayMount

    class _Mount:
        def __enter__(self) -> str:
            options = OverlayMount(lowerdirs, upper, work).options()
            syscalls.mount("overlay", target, "overlay", 0, options)
            return target

        def __exit__(self, *exc: Any) -> None:
            syscalls.umount(target, syscalls.MNT_DETACH)
    return _Mount()


# --- content store ---------------------------------------------------------------------------

def test_content_store_roundtrip(tmp_path: Any) -> None:
    from dockyard.store.content import ContentStore

    store = ContentStore(str(tmp_path))
    digest = store.write(b"hello")
    assert digest == sha(b"hello")
    assert store.exists(digest) and store.size(digest) == 5 and store.read(digest) == b"hello"
    with store.open(digest) as f:
        assert f.read() == b"hello"
    assert store.write(b"hello", expected=digest) == digest        # idempotent
    assert store.write_stream(io.BytesIO(b"abc" * 1000)) == sha(b"abc" * 1000)
    assert store.write_stream(iter([b"a", b"b"]), expected=sha(b"ab")) == sha(b"ab")
    assert sorted(store.list()) == sorted([digest, sha(b"abc" * 1000), sha(b"ab")])
    assert store.delete(digest) and not store.exists(digest) and not store.delete(digest)
    for bad in ("sha256:xyz", "md5:" + "0" * 32, "nope"):
        with pytest.raises(InvalidParameter):
            store.path(bad)


def test_content_store_mismatch_leaves_nothing(tmp_path: Any) -> None:
    from dockyard.store.content import ContentStore, DigestMismatch

    store = ContentStore(str(tmp_path))
    wrong = sha(b"something else")
    with pytest.raises(DigestMismatch):
        store.write(b"data", expected=wrong)
    with pytest.raises(DigestMismatch):
        store.write_stream(io.BytesIO(b"data" * 100000), expected=wrong)
    with pytest.raises(RuntimeError):
        with store.writer() as w:
            w.write(b"partial")
            raise RuntimeError("client went away")
    assert os.listdir(store.root) == []
    assert os.listdir(store.ingest) == []
    # a crash mid-write leaves an ingest file: the next open removes it
    with open(os.path.join(store.ingest, "123-abc"), "wb") as f:
        f.write(b"half a blob")
    store = ContentStore(str(tmp_path))
    assert os.listdir(store.ingest) == [] and os.listdir(store.root) == []


# --- references -----------------------------------------------------------------------------

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize("text,full,familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("user/app", "docker.io/user/app:latest", "user/app:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"),
    ("localhost:5000/x:1", "localhost:5000/x:1", "localhost:5000/x:1"),
    ("localhost/x", "localhost/x:latest", "localhost/x:latest"),
    ("example.com/team/box:v1", "example.com/team/box:v1", "example.com/team/box:v1"),
    ("[::1]:5000/img", "[::1]:5000/img:latest", "[::1]:5000/img:latest"),
    ("Foo/bar", "Foo/bar:latest", "Foo/bar:latest"),
    ("a__b-c---d/e.f", "docker.io/a__b-c---d/e.f:latest", "a__b-c---d/e.f:latest"),
    (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
    (f"busybox:1@{DIGEST}", f"docker.io/library/busybox:1@{DIGEST}", f"busybox:1@{DIGEST}"),
])
def test_reference_normalisation(text: str, full: str, familiar: str) -> None:
    from dockyard import reference

    ref = reference.parse(text)
    assert str(ref) == full
    assert ref.familiar_string() == familiar
    assert reference.parse(familiar) == ref


@pytest.mark.parametrize("text,message", [
    ("Busybox", "invalid reference format: repository name (library/Busybox) must be "
                "lowercase"),
    ("library/Busybox:1", "invalid reference format: repository name (library/Busybox) "
                          "must be lowercase"),
    ("busybox:", "invalid reference format"),
    ("bus box", "invalid reference format"),
    ("-busybox", "invalid reference format"),
    ("busybox:" + "x" * 129, "invalid reference format"),
    (":tag", "invalid reference format"),
    ("", "invalid reference format"),
    ("a" * 64, f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal "
               "strings"),
    ("busybox@sha256:" + "a" * 32, "invalid checksum digest length"),
    ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("x/" + "a" * 250, "repository name must not be more than 255 characters"),
])
def test_reference_invalid(text: str, message: str) -> None:
    from dockyard import reference

    with pytest.raises(InvalidParameter) as info:
        reference.parse(text)
    assert info.value.message == message


def test_reference_helpers() -> None:
    from dockyard import reference

    assert reference.familiar_name("docker.io/library/busybox") == "busybox"
    assert reference.familiar_name("docker.io/user/app") == "user/app"
    assert reference.familiar_name("quay.io/x/y") == "quay.io/x/y"
    assert reference.parse("busybox", default_tag=False).tag is None
    hexid = "0123456789abcdef" * 4
    assert reference.parse_any(hexid) == f"sha256:{hexid}"
    assert reference.parse_any(f"sha256:{hexid}") == f"sha256:{hexid}"
    assert isinstance(reference.parse_any("0123"), reference.Reference)   # also a name
    assert reference.id_prefix("0123") == "0123"
    assert reference.id_prefix("sha256:01") == "01"
    assert reference.id_prefix("busybox") is None and reference.id_prefix("ABC") is None
    assert reference.is_image_id_prefix(f"sha256:{hexid}", "0123")
    assert reference.is_image_id_prefix(f"sha256:{hexid}", "sha256:0123")
    assert not reference.is_image_id_prefix(f"sha256:{hexid}", "busybox")
    assert reference.repo_tag_reference("foo", None).familiar_string() == "foo:latest"
    assert reference.repo_tag_reference("foo:1", None).familiar_string() == "foo:1"
    assert reference.repo_tag_reference("foo:1", "2").familiar_string() == "foo:2"
    with pytest.raises(InvalidParameter, match="invalid tag format"):
        reference.repo_tag_reference("foo", "bad tag")
    with pytest.raises(InvalidParameter, match="cannot tag using a digest reference"):
        reference.repo_tag_reference(f"foo@{DIGEST}", None)
    assert reference.split_repo_tag("localhost:5000/x") == ("localhost:5000/x", None)
    assert reference.split_repo_tag("localhost:5000/x:1") == ("localhost:5000/x", "1")
    busybox = reference.parse("busybox")
    assert reference.familiar_match("*:latest", busybox)
    assert reference.familiar_match("busy*", busybox)
    assert reference.familiar_match("b?sybox", busybox)
    assert reference.familiar_match("[a-c]usybox:*", busybox)
    assert not reference.familiar_match("[^b]usybox", busybox)
    team = reference.parse("example.com/team/box:v1")
    assert not reference.familiar_match("example.com/*", team)     # '*' stops at '/'
    assert reference.familiar_match("example.com/*/*", team)
    with pytest.raises(InvalidParameter):
        reference.familiar_match("[", busybox)


# --- layers ---------------------------------------------------------------------------------

def test_apply_layer_preserves_everything(tmp_path: Any) -> None:
    from dockyard.store.layers import apply_layer

    data = make_tar([
        entry("etc", tarfile.DIRTYPE, mode=0o755, mtime=1_500_000_000),
        entry("etc/conf", data=b"x=1\n", mode=0o640, uid=1234, gid=4321),
        entry("bin", tarfile.DIRTYPE, mode=0o755),
        entry("bin/tool", data=b"#!/bin/sh\n", mode=0o4755),
        entry("bin/alias", tarfile.SYMTYPE, link="tool"),
        entry("bin/hard", tarfile.LNKTYPE, link="bin/tool"),
        entry("dev", tarfile.DIRTYPE, mode=0o755),
        entry("dev/null", tarfile.CHRTYPE, mode=0o666, major=1, minor=3),
        entry("dev/loop9", tarfile.BLKTYPE, mode=0o660, major=7, minor=9),
        entry("run/fifo", tarfile.FIFOTYPE, mode=0o600),
        entry("caps", data=b"ping", pax={"SCHILY.xattr.user.test": "value",
                                         "SCHILY.xattr.trusted.overlay.redirect": "/x"}),
        entry("./tmp/", tarfile.DIRTYPE, mode=0o1777),
    ])
    target = tmp_path / "layer"
    target.mkdir()
    sink = io.BytesIO()
    stats = apply_layer(io.BytesIO(data), str(target), sink)
    assert stats.diff_id == sha(data) and stats.digest == sha(data)
    assert stats.compression == "" and sink.getvalue() == data and stats.tar_size == len(data)
    st = os.lstat(target / "etc/conf")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 4321, 0o640)
    assert st.st_mtime == 1_600_000_000
    assert os.lstat(target / "etc").st_mtime == 1_500_000_000      # set after its contents
    assert stat.S_IMODE(os.lstat(target / "bin/tool").st_mode) == 0o4755
    assert os.readlink(target / "bin/alias") == "tool"
    assert os.lstat(target / "bin/hard").st_ino == os.lstat(target / "bin/tool").st_ino
    null = os.lstat(target / "dev/null")
    assert stat.S_ISCHR(null.st_mode) and os.major(null.st_rdev) == 1 and \
        os.minor(null.st_rdev) == 3
    assert stat.S_ISBLK(os.lstat(target / "dev/loop9").st_mode)
    assert stat.S_ISFIFO(os.lstat(target / "run/fifo").st_mode)
    assert stat.S_IMODE(os.lstat(target / "run").st_mode) == 0o755    # implied parent
    assert os.getxattr(target / "caps", "user.test") == b"value"
    with pytest.raises(OSError):
        os.getxattr(target / "caps", "trusted.overlay.redirect")     # never from a tar
    assert stat.S_IMODE(os.lstat(target / "tmp").st_mode) == 0o1777
    # compressed: the same diff ID, a different blob digest
    other = tmp_path / "gz"
    other.mkdir()
    packed = gzip.compress(data)
    gz = apply_layer(io.BytesIO(packed), str(other))
    assert gz.diff_id == sha(data) and gz.digest == sha(packed) and gz.compression == "gzip"
    # two concatenated gzip members, as parallel compressors write them
    half = len(data) // 2
    multi = gzip.compress(data[:half]) + gzip.compress(data[half:])
    third = tmp_path / "multi"
    third.mkdir()
    assert apply_layer(io.BytesIO(multi), str(third)).diff_id == sha(data)


def test_apply_layer_rejects_garbage(tmp_path: Any) -> None:
    from dockyard.store.layers import LayerError, apply_layer

    for bad in (b"", b"this is not a tar archive at all" * 40,
                gzip.compress(simple_layer(("a", b"x" * 5000)))[:-30]):
        target = tmp_path / f"t{len(bad)}"
        target.mkdir()
        with pytest.raises(LayerError):
            apply_layer(io.BytesIO(bad), str(target))


def test_whiteouts_and_opaque_dirs_under_overlayfs(tmp_path: Any) -> None:
    from dockyard.store.layers import apply_layer

    lower, upper_layer = tmp_path / "l0", tmp_path / "l1"
    lower.mkdir()
    upper_layer.mkdir()
    apply_layer(io.BytesIO(make_tar([
        entry("etc", tarfile.DIRTYPE, mode=0o755),
        entry("etc/passwd", data=b"root:x:0:0\n"),
        entry("etc/keep", data=b"keep"),
        entry("home", tarfile.DIRTYPE, mode=0o755),
        entry("home/old", data=b"old"),
        entry("home/sub", tarfile.DIRTYPE, mode=0o755),
        entry("home/sub/deep", data=b"deep"),
    ])), str(lower))
    apply_layer(io.BytesIO(make_tar([
        entry("etc", tarfile.DIRTYPE, mode=0o755),
        entry("etc/.wh.passwd", data=b""),
        entry("home", tarfile.DIRTYPE, mode=0o755),
        entry("home/.wh..wh..opq", data=b""),
        entry("home/new", data=b"new"),
        entry("gone/.wh.never", data=b""),       # a whiteout in a new directory
    ])), str(upper_layer))
    wh = os.lstat(upper_layer / "etc/passwd")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == os.makedev(0, 0)
    assert os.getxattr(upper_layer / "home", "trusted.overlay.opaque") == b"y"
    upper, work, merged = tmp_path / "upper", tmp_path / "work", tmp_path / "merged"
    for d in (upper, work, merged):
        d.mkdir()
    with mounted([str(upper_layer), str(lower)], str(upper), str(work), str(merged)):
        assert not os.path.lexists(merged / "etc/passwd"), "whited-out file still visible"
        assert (merged / "etc/keep").read_bytes() == b"keep"
        assert sorted(os.listdir(merged / "home")) == ["new"], "opaque dir leaks lower files"
        # (like Docker's and containerd's, a whiteout in a directory no lower layer has is
        # listed by overlayfs but can't be looked up)
        assert not os.path.lexists(merged / "gone/never")
    assert not os.path.ismount(merged)


def test_invalid_whiteouts_are_refused(tmp_path: Any) -> None:
    from dockyard.store.layers import LayerError, apply_layer

    for name in (".wh..", "sub/.wh...", ".wh."):
        target = tmp_path / str(abs(hash(name)))
        target.mkdir()
        with pytest.raises(LayerError):
            apply_layer(io.BytesIO(make_tar([entry(name, data=b"")])), str(target))
        assert os.path.isdir(target)


def _tree(path: str) -> dict[str, tuple[int, int, bytes]]:
    """Everything under a directory (for "nothing changed outside" checks)."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            content = b""
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    content = f.read()
            result[os.path.relpath(full, path)] = (st.st_mode, st.st_ino, content)
    return result


def test_hostile_archives_stay_inside(tmp_path: Any) -> None:
    from dockyard.store.layers import LayerError, apply_layer

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(b"precious")
    with open("/etc/passwd", "rb") as f:
        passwd = f.read()
    passwd_stat = os.stat("/etc/passwd")
    hostile = [
        entry("../../etc/x", data=b"dotdot"),
        entry(f"../../../../../../../..{outside}/dotdot", data=b"dotdot"),
        entry(f"{outside}/absolute", data=b"absolute"),
        entry("link", tarfile.SYMTYPE, link=str(outside)),
        entry("link/through-symlink", data=b"through an absolute symlink"),
        entry("link/victim", data=b"overwritten through a symlink"),
        entry("rel", tarfile.SYMTYPE, link="../../../../../../../.."),
        entry(f"rel{outside}/through-relative", data=b"through a relative symlink"),
        entry("root", tarfile.SYMTYPE, link="/"),
        entry("root/etc/passwd", data=b"owned\n"),
        entry("chain1", tarfile.SYMTYPE, link="chain2"),
        entry("chain2", tarfile.SYMTYPE, link=str(outside)),
        entry("chain1/victim", data=b"through a chain of symlinks"),
        entry("dir", tarfile.DIRTYPE, mode=0o755),
        entry("dir/..", tarfile.SYMTYPE, link=str(outside)),
        entry("dir/../victim", data=b"via dotdot symlink"),
        entry("passwd-link", tarfile.SYMTYPE, link="/etc/passwd"),
        entry("passwd-link", data=b"replaces the symlink, not its target"),
        entry("hl-to-link", tarfile.LNKTYPE, link="root"),    # links the symlink itself
    ]
    target = tmp_path / "layer"
    target.mkdir()
    before = _tree(str(outside))
    apply_layer(io.BytesIO(make_tar(hostile)), str(target))
    assert _tree(str(outside)) == before, "a layer wrote outside its directory"
    with open("/etc/passwd", "rb") as f:
        assert f.read() == passwd
    assert os.stat("/etc/passwd").st_ino == passwd_stat.st_ino
    assert not os.path.exists("/etc/x") or open("/etc/x", "rb").read() != b"dotdot"
    # the writes landed inside, where a chroot would have put them
    assert (target / "etc/x").read_bytes() == b"dotdot"
    assert (target / str(outside).lstrip("/") / "victim").read_bytes() == \
        b"through a chain of symlinks"
    assert (target / "victim").read_bytes() == b"via dotdot symlink"    # "dir/.." is "."
    assert (target / "etc/passwd").read_bytes() == b"owned\n"
    assert (target / "passwd-link").read_bytes() == b"replaces the symlink, not its target"
    assert os.path.islink(target / "hl-to-link")

    # hard links may only name entries of the layer itself
    for link in ("/etc/passwd", "../../../../etc/passwd", "link/victim"):
        other = tmp_path / f"hard{abs(hash(link))}"
        other.mkdir()
        entries = [entry("link", tarfile.SYMTYPE, link=str(outside)),
                   entry("hard", tarfile.LNKTYPE, link=link),
                   entry("hard", data=b"write through the link")]
        with pytest.raises(LayerError):
            apply_layer(io.BytesIO(make_tar(entries)), str(other))
    assert _tree(str(outside)) == before
    with open("/etc/passwd", "rb") as f:
        assert f.read() == passwd
    assert os.stat("/etc/passwd").st_nlink == passwd_stat.st_nlink

    # a file where a directory is needed is an invalid layer, not a write elsewhere
    third = tmp_path / "notdir"
    third.mkdir()
    with pytest.raises(LayerError):
        apply_layer(io.BytesIO(make_tar([entry("f", data=b"x"), entry("f/g", data=b"y")])),
                    str(third))


# --- snapshots ------------------------------------------------------------------------------

def test_chain_ids() -> None:
    from dockyard.store.snapshots import chain_ids

    a, b, c = sha(b"a"), sha(b"b"), sha(b"c")
    ab = sha(f"{a} {b}".encode())
    assert chain_ids([]) == []
    assert chain_ids([a]) == [a]
    assert chain_ids([a, b, c]) == [a, ab, sha(f"{ab} {c}".encode())]


def test_snapshotter_shares_layers_and_prepares_rw(tmp_path: Any) -> None:
    from dockyard.errors import InvalidParameter as Invalid
    from dockyard.store.content import ContentStore
    from dockyard.store.snapshots import Snapshotter, chain_id

    content = ContentStore(str(tmp_path))
    snaps = Snapshotter(str(tmp_path), content)
    base = simple_layer(("a", b"A"))
    top = simple_layer(("b", b"B"))
    l0 = snaps.unpack(None, io.BytesIO(base))
    assert l0.unpacked and l0.chain_id == l0.diff_id == sha(base)
    assert os.path.isdir(snaps.diff_dir(l0.chain_id)) and snaps.has(l0.chain_id)
    assert os.listdir(snaps.layer_dir(l0.chain_id)) == ["diff"]     # no marker files
    assert snaps.size(l0.chain_id) == 1 and snaps.diff_id(l0.chain_id) == l0.diff_id
    assert content.read(l0.diff_id) == base         # the tar is kept for save
    again = snaps.unpack(None, io.BytesIO(base))
    assert not again.unpacked and again.chain_id == l0.chain_id
    skipped = snaps.unpack(None, io.BytesIO(b"not read"), expected_diff_id=l0.diff_id)
    assert not skipped.unpacked
    with pytest.raises(Invalid):        # the archive promised another blob
        snaps.unpack(None, io.BytesIO(b"lies"), expected_diff_id=l0.diff_id,
                     expected_digest=sha(b"truth"))
    l1 = snaps.unpack(l0.chain_id, io.BytesIO(top))
    assert l1.chain_id == chain_id(l0.chain_id, sha(top)) and snaps.parent(l1.chain_id) == \
        l0.chain_id
    with pytest.raises(Invalid, match="invalid diffID"):
        snaps.unpack(None, io.BytesIO(top), expected_diff_id=sha(b"other"))
    assert not [n for n in os.listdir(snaps.root) if n.startswith(".tmp-")]
    mount = snaps.prepare_rw("c1", "sha256:img", [l0.chain_id, l1.chain_id])
    init = os.path.join(snaps.rw_dir("c1"), "init")   # the mount points, above the image
    assert mount.lowerdirs == [init, snaps.diff_dir(l1.chain_id), snaps.diff_dir(l0.chain_id)]
    assert sorted(os.listdir(init)) == [".dockerenv", "dev", "etc", "proc", "sys"]
    assert mount.upperdir.endswith("containers/c1/upper") and os.path.isdir(mount.workdir)
    assert mount.options() == (f"lowerdir={init}:{mount.lowerdirs[1]}:{mount.lowerdirs[2]},"
                               f"upperdir={mount.upperdir},workdir={mount.workdir}")
    # idempotent, and independent of what the caller says the second time
    assert snaps.prepare_rw("c1").lowerdirs == mount.lowerdirs
    assert snaps.rw_info("c1") == {"image": "sha256:img",
                                   "chains": [l0.chain_id, l1.chain_id], "init": True}
    empty = snaps.prepare_rw("c2", "sha256:empty", [])
    assert empty.lowerdirs[1:] == [snaps.empty]
    merged = tmp_path / "merged"
    merged.mkdir()
    with mounted(mount.lowerdirs, mount.upperdir, mount.workdir, str(merged)):
        assert sorted(os.listdir(merged)) == [".dockerenv", "a", "b", "dev", "etc", "proc",
                                              "sys"]
        (merged / "c").write_bytes(b"C")
    assert os.listdir(mount.upperdir) == ["c"]
    with mounted(empty.lowerdirs, empty.upperdir, empty.workdir, str(merged)):
        assert sorted(os.listdir(merged)) == [".dockerenv", "dev", "etc", "proc", "sys"]
    # too many layers for a page of mount options: the short links take over
    long = type(mount)([mount.lowerdirs[0]] * 60, mount.upperdir, mount.workdir,
                       ["/l/ABC"] * 60)
    assert "/l/ABC" in long.options() and len(long.options()) < 4000
    snaps.remove_rw("c1")
    assert not os.path.exists(os.path.join(snaps.containers, "c1"))
    assert snaps.remove_layer(l1.chain_id) and not snaps.has(l1.chain_id)
    # crash leftovers disappear when the snapshotter opens
    os.makedirs(os.path.join(snaps.root, ".tmp-123-dead", "diff"))
    os.makedirs(os.path.join(snaps.root, "f" * 64, "diff"))          # no row names it
    os.makedirs(os.path.join(snaps.containers, ".rm-c9-1234", "upper"))
    snaps = Snapshotter(str(tmp_path), content)
    leftovers = [n for n in os.listdir(snaps.root) if n.startswith(".tmp") or n == "f" * 64]
    assert leftovers == [] and os.listdir(snaps.containers) == ["c2"]
    assert snaps.has(l0.chain_id)


# --- the image service ----------------------------------------------------------------------

def test_import_busybox_and_run_from_its_overlay(tmp_path: Any, busybox_tar: str) -> None:
    events = Recorder()
    svc = service(str(tmp_path / "root"), events)
    with open(busybox_tar, "rb") as f:
        image_id = svc.import_image(f, "busybox", None, "", ['CMD ["sh"]', "ENV A=1 B=2",
                                                              "WORKDIR /srv"])
    image = svc.resolve("busybox")
    assert image.id == image_id == sha(svc.content.read(image_id))
    assert image.repo_tags == ["busybox:latest"] and image.repo_digests == []
    assert image.config["config"]["Cmd"] == ["sh"]
    assert image.config["config"]["Env"] == ["A=1", "B=2"]
    assert image.config["config"]["WorkingDir"] == "/srv"
    assert image.config["rootfs"]["diff_ids"] == [sha(open(busybox_tar, "rb").read())]
    assert image.config["history"] == [{"created": image.config["created"],
                                        "comment": "Imported from -"}]
    assert image.size > 1_000_000 and image.created == image.config["created"]
    assert events.actions() == ["tag", "import"]
    assert events.events[0][3]["name"] == "busybox:latest"
    mount = svc.layers.prepare("ctr1", image_id)
    merged = tmp_path / "merged"
    merged.mkdir()
    with mounted(mount.lowerdirs, mount.upperdir, mount.workdir, str(merged)):
        out = subprocess.run(["chroot", str(merged), "/bin/sh", "-c",
                              "echo hello > /tmp/x; cat /tmp/x; ls /bin | grep -c ."],
                             capture_output=True, text=True, check=True).stdout.split()
        assert out[0] == "hello" and int(out[1]) > 100
    assert (tmp_path / "root/overlay/containers/ctr1/upper/tmp/x").read_text() == "hello\n"
    svc.layers.remove("ctr1")
    # gzip-compressed rootfs: same layer, shared on disk
    packed = gzip.compress(open(busybox_tar, "rb").read(), compresslevel=1)
    other = svc.import_image(io.BytesIO(packed), "zipped", "1", message="from gz")
    assert svc.resolve("zipped:1").config["rootfs"]["diff_ids"] == \
        image.config["rootfs"]["diff_ids"]
    assert svc.resolve("zipped:1").config["comment"] == "from gz"
    assert len(svc.snapshots.list_layers()) == 1 and other != image_id


def test_resolve_forms_and_errors(tmp_path: Any) -> None:
    svc = service(str(tmp_path))
    image_id = import_bytes(svc, simple_layer(("f", b"1")), "example.com/team/box", "v1")
    hexid = image_id[7:]
    for ref in ("example.com/team/box:v1", image_id, hexid, hexid[:12], hexid[:1],
                f"sha256:{hexid[:5]}"):
        assert svc.resolve(ref).id == image_id, ref
    svc.tag(image_id, "busybox")
    for ref in ("busybox", "busybox:latest", "docker.io/library/busybox",
                "docker.io/library/busybox:latest", "index.docker.io/library/busybox"):
        assert svc.resolve(ref).id == image_id
    for ref, message in (("nothere", "No such image: nothere:latest"),
                         ("busybox:1", "No such image: busybox:1"),
                         ("sha256:" + "f" * 64, "No such image: sha256:" + "f" * 64),
                         ("ffff", "No such image: ffff:latest")):
        with pytest.raises(NotFound) as info:
            svc.resolve(ref)
        assert info.value.message == message and info.value.status == 404
    with pytest.raises(InvalidParameter, match="must be lowercase"):
        svc.resolve("Busybox")
    # an ambiguous prefix names nothing
    firsts: dict[str, int] = {}
    for n in range(17):                      # two of 17 IDs share their first hex digit
        first = import_bytes(svc, simple_layer(("f", str(n).encode())))[7]
        firsts[first] = firsts.get(first, 0) + 1
    shared = next(c for c, count in firsts.items() if count > 1)
    with pytest.raises(NotFound, match=f"No such image: {shared}:latest"):
        svc.resolve(shared)


def test_tag_list_inspect_history(tmp_path: Any) -> None:
    events = Recorder()
    svc = service(str(tmp_path), events)
    base = import_bytes(svc, simple_layer(("a", b"a" * 1000)), "base", None,
                        changes=["LABEL team=core tier=db"])
    time.sleep(0.01)
    svc.tag("base", "example.com/team/box", "v1")
    svc.tag("base", "box:v2")
    with pytest.raises(InvalidParameter, match="ambiguous tag"):
        svc.tag("base", "sha256")
    with pytest.raises(InvalidParameter):
        svc.tag("base", "Bad")
    with pytest.raises(NotFound):
        svc.tag("nothere", "x")
    config = json.loads(svc.content.read(base))
    config["created"] = "2030-01-01T00:00:00Z"
    config["history"] = config["history"] + [
        {"created": "2030-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]",
         "empty_layer": True},
        {"created": "2030-01-01T00:00:00Z", "created_by": "/bin/sh -c echo hi > /b"}]
    child = svc.create_image(config, [io.BytesIO(simple_layer(("b", b"hi\n")))], parent=base,
                             tags=["child:1"])
    dangling = import_bytes(svc, simple_layer(("c", b"c")))
    assert events.actions().count("tag") == 4
    listed = {i["Id"]: i for i in svc.list()}
    assert set(listed) == {base, child, dangling}
    assert [i["Id"] for i in svc.list()][0] == child          # newest first
    assert listed[base]["RepoTags"] == ["base:latest", "box:v2", "example.com/team/box:v1"]
    assert listed[base]["Labels"] == {"team": "core", "tier": "db"}
    assert listed[child]["ParentId"] == base and listed[dangling]["RepoTags"] == []
    assert listed[base]["Size"] == 1000 and listed[child]["Size"] == 1003

    def ids(**filters: list[str]) -> set[str]:
        return {i["Id"] for i in svc.list(filters=filters)}

    assert ids(dangling=["true"]) == {dangling}
    assert ids(dangling=["false"]) == {base, child}
    assert ids(label=["team"]) == ids(label=["team=core"]) == {base, child}
    assert ids(label=["team=other"]) == set()
    assert ids(label=["team", "tier=db"]) == {base, child}
    assert ids(reference=["box"]) == {base}
    assert ids(reference=["*:v*"]) == {base}
    by_ref = svc.list(filters={"reference": ["example.com/*/*"]})
    assert by_ref[0]["RepoTags"] == ["example.com/team/box:v1"]   # only matching tags
    assert ids(before=["child:1"]) == {base, dangling}
    assert ids(since=["base"]) == {child, dangling}
    assert ids(until=["2029-01-01T00:00:00Z"]) == {base, dangling}
    for bad in ({"foo": ["bar"]}, {"dangling": ["maybe"]}):
        with pytest.raises(InvalidParameter, match="invalid filter"):
            svc.list(filters=bad)
    with pytest.raises(NotFound):
        svc.list(filters={"before": ["nothere"]})

    info = svc.inspect("example.com/team/box:v1")
    assert list(info)[:6] == ["Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created"]
    assert info["Id"] == base and info["Comment"] == "Imported from -"
    assert info["Config"]["Labels"] == {"team": "core", "tier": "db"}
    assert info["Config"]["Cmd"] is None and "Hostname" in info["Config"]
    assert info["RootFS"] == {"Type": "layers", "Layers": [sha(simple_layer(("a", b"a" * 1000)))]}
    assert info["GraphDriver"]["Name"] == "overlay2"
    assert set(info["GraphDriver"]["Data"]) == {"MergedDir", "UpperDir", "WorkDir"}
    assert info["Metadata"]["LastTagTime"] != "0001-01-01T00:00:00Z"
    assert info["Architecture"] and info["Os"] == "linux" and info["Size"] == 1000
    child_info = svc.inspect("child:1")
    assert child_info["Parent"] == base and "LowerDir" in child_info["GraphDriver"]["Data"]
    assert child_info["GraphDriver"]["Data"]["UpperDir"].endswith("/diff")
    assert svc.inspect(dangling)["Metadata"]["LastTagTime"] == "0001-01-01T00:00:00Z"

    history = svc.history("child:1")
    assert [h["CreatedBy"] for h in history] == ["/bin/sh -c echo hi > /b",
                                                 "/bin/sh -c #(nop)  CMD [\"sh\"]", ""]
    assert [h["Size"] for h in history] == [3, 0, 1000]
    assert [h["Id"] for h in history] == [child, base, "<missing>"]
    assert history[0]["Tags"] == ["child:1"] and history[2]["Tags"] is None
    assert history[1]["Tags"] == ["base:latest", "box:v2", "example.com/team/box:v1"]
    assert history[0]["Created"] == 1893456000
    single = svc.history(dangling)
    assert len(single) == 1 and single[0]["Id"] == dangling and single[0]["Tags"] is None
    assert single[0]["Comment"] == "Imported from -"


def test_rmi_rules(tmp_path: Any) -> None:
    events = Recorder()
    svc = service(str(tmp_path), events)
    users: dict[str, list[tuple[str, bool]]] = {}
    svc.containers_using = lambda image_id: users.get(image_id, [])
    image_id = import_bytes(svc, simple_layer(("f", b"x" * 10)), "busybox")
    short = image_id[7:19]
    layer = svc.resolve(image_id).chain_ids[0]
    svc.tag("busybox", "mybox")
    # by ID with several names: must be forced
    with pytest.raises(Conflict) as info:
        svc.remove(short)
    assert info.value.message == (f"conflict: unable to delete {short} (must be forced) - "
                                  "image is referenced in multiple repositories")
    assert info.value.status == 409
    # a name of several just untags
    assert svc.remove("mybox") == [{"Untagged": "mybox:latest"}]
    # a stopped container pins the last name
    cid = "1234abcd" * 8
    users[image_id] = [(cid, False)]
    svc.layers.prepare(cid, image_id)
    with pytest.raises(Conflict) as info:
        svc.remove("busybox")
    assert info.value.message == ('conflict: unable to remove repository reference "busybox" '
                                  f"(must force) - container 1234abcd1234 is using its "
                                  f"referenced image {short}")
    with pytest.raises(Conflict) as info:
        svc.remove(short)
    assert info.value.message == (f"conflict: unable to delete {short} (must be forced) - "
                                  "image is being used by stopped container 1234abcd1234")
    # ... and a running one can't be forced
    users[image_id] = [(cid, True)]
    with pytest.raises(Conflict) as info:
        svc.remove(image_id, force=True)
    assert info.value.message == (f"conflict: unable to delete {short} (cannot be forced) - "
                                  "image is being used by running container 1234abcd1234")
    # forcing the last name away from a running container's image only untags it
    assert svc.remove("busybox", force=True) == [{"Untagged": "busybox:latest"}]
    assert svc.resolve(image_id).repo_tags == []
    assert [i["Id"] for i in svc.list(filters={"dangling": ["true"]})] == [image_id]
    # stopped: a forced rmi deletes the image; the container keeps its config and layers
    users[image_id] = [(cid, False)]
    assert svc.remove(short, force=True) == [{"Deleted": image_id}]
    assert svc.list() == [] and svc.count() == 0
    with pytest.raises(NotFound):
        svc.inspect(image_id)
    assert svc.resolve(image_id).id == image_id                 # for the container service
    assert svc.layers.prepare(cid, image_id).lowerdirs[1:] == [svc.snapshots.diff_dir(layer)]
    users.clear()
    svc.layers.remove(cid)
    with pytest.raises(NotFound):
        svc.resolve(image_id)
    assert svc.snapshots.list_layers() == [] and list(svc.content.list()) == []
    # deleting by name removes the image and its no longer shared layer
    first = import_bytes(svc, simple_layer(("g", b"1")), "one")
    shared = import_bytes(svc, simple_layer(("g", b"1")), "two", message="same layer")
    layer = svc.resolve(first).chain_ids[0]
    assert svc.remove("one") == [{"Untagged": "one:latest"}, {"Deleted": first}]
    assert svc.snapshots.has(layer)
    assert svc.remove("two") == [{"Untagged": "two:latest"}, {"Deleted": shared},
                                 {"Deleted": layer}]
    with pytest.raises(NotFound):
        svc.remove("two")
    assert {"untag", "delete"} <= set(events.actions())
    assert [e for e in events.events if e[1] == "delete"][-1][3]["name"] == shared


def test_rmi_parents_and_children(tmp_path: Any) -> None:
    svc = service(str(tmp_path))
    base = import_bytes(svc, simple_layer(("a", b"a")))
    config = json.loads(svc.content.read(base))
    config["history"].append({"created_by": "step"})
    child = svc.create_image(config, [io.BytesIO(simple_layer(("b", b"b")))], parent=base,
                             tags=["child"])
    assert [i["Id"] for i in svc.list()] == [child]                 # intermediate hidden
    assert {i["Id"] for i in svc.list(all=True)} == {base, child}
    with pytest.raises(Conflict, match=r"\(cannot be forced\) - image has dependent child "
                                       r"images"):
        svc.remove(base[7:19], force=True)
    removed = svc.remove("child")
    assert removed[:2] == [{"Untagged": "child:latest"}, {"Deleted": child}]
    assert {"Deleted": base} in removed                             # untagged parent pruned
    assert svc.count() == 0
    base = import_bytes(svc, simple_layer(("a", b"a")))
    child = svc.create_image(config, [io.BytesIO(simple_layer(("b", b"b")))], parent=base,
                             tags=["child"])
    svc.remove("child", noprune=True)
    assert svc.resolve(base).id == base


def test_prune(tmp_path: Any) -> None:
    events = Recorder()
    svc = service(str(tmp_path), events)
    users: dict[str, list[tuple[str, bool]]] = {}
    svc.containers_using = lambda image_id: users.get(image_id, [])
    tagged = import_bytes(svc, simple_layer(("t", b"t" * 100)), "tagged",
                          changes=["LABEL keep=yes"])
    dangling = import_bytes(svc, simple_layer(("d", b"d" * 200)))
    used = import_bytes(svc, simple_layer(("u", b"u" * 300)), "used", "1")
    svc.tag(used, "used", "2")
    users[used] = [("c" * 64, False)]
    report = svc.prune()
    assert report["ImagesDeleted"][0] == {"Deleted": dangling}
    assert report["SpaceReclaimed"] == 200
    assert {i["Id"] for i in svc.list(all=True)} == {tagged, used}
    assert events.events[-1][1:4] == ("prune", "", {"reclaimed": "200"})
    assert svc.prune(filters={"dangling": ["false"], "label!": ["keep=yes"]}) == \
        {"ImagesDeleted": None, "SpaceReclaimed": 0}
    report = svc.prune(filters={"dangling": ["false"], "label": ["keep"]})
    assert report["ImagesDeleted"][:2] == [{"Untagged": "tagged:latest"}, {"Deleted": tagged}]
    assert report["SpaceReclaimed"] == 100
    assert [i["Id"] for i in svc.list(all=True)] == [used]
    assert svc.resolve(used).repo_tags == ["used:1", "used:2"]    # in use: keeps its names
    with pytest.raises(InvalidParameter, match="invalid filter 'reference'"):
        svc.prune(filters={"reference": ["x"]})
    users.clear()
    assert svc.prune(False)["SpaceReclaimed"] == 300 and svc.count() == 0
    assert svc.snapshots.list_layers() == [] and list(svc.content.list()) == []


# --- archives -------------------------------------------------------------------------------

def _save(svc: Any, *refs: str) -> bytes:
    stream = svc.save(list(refs))
    try:
        return b"".join(stream)
    finally:
        stream.close()


def test_save_load_round_trip(tmp_path: Any) -> None:
    events = Recorder()
    first = service(str(tmp_path / "a"), events)
    base = import_bytes(first, simple_layer(("a", b"a" * 5000)), "busybox",
                        changes=['CMD ["sh"]'])
    config = json.loads(first.content.read(base))
    config["history"].append({"created_by": "add b"})
    two = first.create_image(config, [io.BytesIO(simple_layer(("b", b"b")))],
                             tags=["example.com/team/app:v2"])
    first.tag("busybox", "busybox", "other")
    with pytest.raises(NotFound, match="No such image: nothere:latest"):
        first.save(["busybox", "nothere"])
    data = _save(first, "busybox", "example.com/team/app:v2")
    assert events.actions().count("save") == 2
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("manifest.json"))
        index = json.load(tar.extractfile("index.json"))
        repositories = json.load(tar.extractfile("repositories"))
        assert json.load(tar.extractfile("oci-layout")) == {"imageLayoutVersion": "1.0.0"}
        for name in names:
            if name.startswith("blobs/sha256/") and len(name) == 77:
                member = tar.extractfile(name)
                assert sha(member.read()) == "sha256:" + name[13:]
    assert {"manifest.json", "index.json", "oci-layout", "repositories"} <= names
    assert manifest[0]["RepoTags"] == ["busybox:latest", "busybox:other"]
    assert manifest[0]["Config"] == f"blobs/sha256/{base[7:]}"
    assert manifest[1]["RepoTags"] == ["example.com/team/app:v2"] and \
        len(manifest[1]["Layers"]) == 2
    assert [m["annotations"]["io.containerd.image.name"] for m in index["manifests"]] == \
        ["docker.io/library/busybox:latest", "docker.io/library/busybox:other",
         "example.com/team/app:v2"]
    assert set(repositories["busybox"]) == {"latest", "other"}
    assert _save(first, "busybox", "example.com/team/app:v2") == data   # deterministic

    second = service(str(tmp_path / "b"), events)
    messages = second.load(io.BytesIO(data))
    assert messages == ["Loaded image: busybox:latest", "Loaded image: busybox:other",
                        "Loaded image: example.com/team/app:v2"]
    assert second.resolve("busybox").id == base and second.resolve("busybox:other").id == base
    assert second.resolve("example.com/team/app:v2").id == two
    assert second.inspect("busybox")["Config"]["Cmd"] == ["sh"]
    assert second.history(two)[0]["CreatedBy"] == "add b"
    assert second.load(io.BytesIO(data)) == messages                   # idempotent
    assert len(second.list()) == 2 and "load" in events.actions()
    mount = second.layers.prepare("c", two)
    assert [os.listdir(d) for d in mount.lowerdirs[1:]] == [["b"], ["a"]]
    # an image saved by ID carries no name
    by_id = _save(first, base[7:19])
    third = service(str(tmp_path / "c"))
    assert third.load(io.BytesIO(by_id)) == [f"Loaded image ID: {base}"]
    assert third.list()[0]["RepoTags"] == []
    # a tag that moves is reported like Docker does
    other = import_bytes(third, simple_layer(("z", b"z")), "busybox")
    assert third.load(io.BytesIO(_save(first, "busybox:latest"))) == [
        f"The image busybox:latest already exists, renaming the old one with ID {other} to "
        "empty string", "Loaded image: busybox:latest"]
    # compressed archives load too
    assert service(str(tmp_path / "d")).load(io.BytesIO(gzip.compress(data)))[0] == \
        "Loaded image: busybox:latest"


def _oci_layout(tmp_path: Any, layer: bytes, name: str | None, corrupt: bool = False,
                nested: bool = False) -> tuple[bytes, str]:
    blobs: dict[str, bytes] = {}

    def add(data: bytes) -> dict[str, Any]:
        blobs[sha(data)] = data
        return {"digest": sha(data), "size": len(data)}

    packed = gzip.compress(layer)
    config = {"architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine),
              "os": "linux", "created": "2024-01-02T03:04:05.123456789Z",
              "config": {"Env": ["PATH=/bin"], "Cmd": ["/hello"]},
              "rootfs": {"type": "layers", "diff_ids": [sha(layer)]},
              "history": [{"created": "2024-01-02T03:04:05Z", "created_by": "COPY hello /"}]}
    config_raw = json.dumps(config).encode()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           **add(config_raw)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            **add(packed)}]}
    descriptor = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                  **add(json.dumps(manifest).encode())}
    if nested:
        foreign = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   **add(b'{"schemaVersion":2,"config":{},"layers":[]}'),
                   "platform": {"architecture": "s390x", "os": "linux"}}
        mine = {**descriptor, "platform": {"architecture": config["architecture"],
                                           "os": "linux"}}
        inner = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [foreign, mine]}
        descriptor = {"mediaType": "application/vnd.oci.image.index.v1+json",
                      **add(json.dumps(inner).encode())}
    if name:
        descriptor["annotations"] = {"io.containerd.image.name": name,
                                     "org.opencontainers.image.ref.name": name.split(":")[-1]}
    index = {"schemaVersion": 2, "manifests": [descriptor]}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def put(path: str, data: bytes) -> None:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        put("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        put("index.json", json.dumps(index).encode())
        for digest, data in blobs.items():
            if corrupt and data == packed:
                data = gzip.compress(layer + b"\0" * 512)
            put(f"blobs/sha256/{digest[7:]}", data)
    return buf.getvalue(), sha(config_raw)


def test_load_oci_layout(tmp_path: Any) -> None:
    layer = make_tar([entry("hello", data=b"#!/bin/sh\necho hi\n", mode=0o755)])
    svc = service(str(tmp_path / "root"))
    archive, config_digest = _oci_layout(tmp_path, layer, "docker.io/library/hello:1")
    assert svc.load(io.BytesIO(archive)) == ["Loaded image: hello:1"]
    image = svc.resolve("hello:1")
    assert image.id == config_digest and image.config["config"]["Cmd"] == ["/hello"]
    assert svc.inspect("hello:1")["Created"] == "2024-01-02T03:04:05.123456789Z"
    assert svc.content.read(image.diff_ids[0]) == layer         # kept uncompressed
    nested, nested_digest = _oci_layout(tmp_path, layer, "example.com/nested:2", nested=True)
    assert svc.load(io.BytesIO(nested)) == ["Loaded image: example.com/nested:2"]
    assert svc.resolve("example.com/nested:2").id == nested_digest
    # a layer that does not match its descriptor is refused; nothing is recorded
    bad, _ = _oci_layout(tmp_path, layer + b"x", "bad:1", corrupt=True)
    fresh = service(str(tmp_path / "fresh"))
    with pytest.raises(InvalidParameter, match="digest mismatch"):
        fresh.load(io.BytesIO(bad))
    assert fresh.list() == [] and fresh.snapshots.list_layers() == []
    assert list(fresh.content.list()) == []
    assert not [n for n in os.listdir(fresh.meta.dir) if n.startswith(".load-")]
    for garbage in (b"", b"garbage" * 100, make_tar([entry("readme", data=b"hi")])):
        with pytest.raises(InvalidParameter):
            fresh.load(io.BytesIO(garbage))


def test_load_docker_legacy_layout(tmp_path: Any) -> None:
    """Docker < 25 archives: <id>.json configs and <v1id>/layer.tar, symlinked when shared."""
    layer = simple_layer(("legacy", b"old style"))
    config = {"architecture": "amd64", "os": "linux", "created": "2020-01-01T00:00:00Z",
              "config": {}, "rootfs": {"type": "layers", "diff_ids": [sha(layer)]},
              "history": [{"created": "2020-01-01T00:00:00Z"}]}
    raw = json.dumps(config).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def put(path: str, data: bytes) -> None:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        put("aaaa/layer.tar", layer)
        link = tarfile.TarInfo("bbbb/layer.tar")
        link.type, link.linkname = tarfile.SYMTYPE, "../aaaa/layer.tar"
        tar.addfile(link)
        escape = tarfile.TarInfo("cccc/layer.tar")
        escape.type, escape.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(escape)
        put(f"{sha(raw)[7:]}.json", raw)
        put("manifest.json", json.dumps([
            {"Config": f"{sha(raw)[7:]}.json", "RepoTags": ["legacy:1"],
             "Layers": ["bbbb/layer.tar"]}]).encode())
        put("repositories", b'{"legacy":{"1":"aaaa"}}')
    svc = service(str(tmp_path / "root"))
    assert svc.load(io.BytesIO(buf.getvalue())) == ["Loaded image: legacy:1"]
    assert svc.resolve("legacy:1").id == sha(raw)
    # a symlink pointing out of the archive resolves inside it: no such layer
    bad = buf.getvalue().replace(b'"bbbb/layer.tar"', b'"cccc/layer.tar"')
    with pytest.raises(InvalidParameter):
        service(str(tmp_path / "other")).load(io.BytesIO(bad))


def test_import_changes_url_and_errors(tmp_path: Any) -> None:
    import http.server

    svc = service(str(tmp_path / "root"))
    layer = simple_layer(("index.html", b"<h1>hi</h1>"))
    image_id = import_bytes(svc, layer, "web", "1", message="my message",
                            changes=['ENTRYPOINT ["/bin/httpd", "-f"]', "CMD -p 80",
                                     "EXPOSE 80 443/udp", "USER 1000:1000",
                                     "VOLUME /data", "STOPSIGNAL SIGQUIT",
                                     'LABEL "a b"=c d=e', "ENV PATH=/bin:/sbin HOME=/root"])
    cfg = svc.inspect("web:1")["Config"]
    assert cfg["Entrypoint"] == ["/bin/httpd", "-f"] and cfg["Cmd"] == ["/bin/sh", "-c", "-p 80"]
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "443/udp": {}} and cfg["User"] == "1000:1000"
    assert cfg["Volumes"] == {"/data": {}} and cfg["StopSignal"] == "SIGQUIT"
    assert cfg["Labels"] == {"a b": "c", "d": "e"}
    assert cfg["Env"] == ["PATH=/bin:/sbin", "HOME=/root"]
    assert svc.inspect(image_id)["Comment"] == "my message"
    for bad, message in ((["RUN make"], "run is not a valid change command"),
                         (["STOPSIGNAL SIGNOPE"], "Invalid signal: SIGNOPE")):
        with pytest.raises(InvalidParameter, match=message):
            import_bytes(svc, layer, "x", changes=bad)
    with pytest.raises(InvalidParameter, match="must be lowercase"):
        import_bytes(svc, layer, "Web")
    with pytest.raises(InvalidParameter):
        import_bytes(svc, b"definitely not a tarball" * 50, "x")
    assert svc.count() == 1 and os.listdir(svc.content.ingest) == []
    assert not [n for n in os.listdir(svc.snapshots.root) if n.startswith(".tmp")]

    directory = tmp_path / "www"
    directory.mkdir()
    (directory / "rootfs.tar.gz").write_bytes(gzip.compress(layer))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/rootfs.tar.gz"
        from_url = svc.import_image(url, "fromurl")
        assert svc.inspect("fromurl")["Comment"] == f"Imported from {url}"
        assert svc.resolve(from_url).diff_ids == [sha(layer)]
        bare = svc.import_image(f"127.0.0.1:{server.server_port}/rootfs.tar.gz")
        assert svc.inspect(bare)["Comment"].startswith("Imported from http://127.0.0.1")
        with pytest.raises(InvalidParameter, match="404"):
            svc.import_image(f"http://127.0.0.1:{server.server_port}/missing.tar")
    finally:
        server.shutdown()


# --- crash safety ---------------------------------------------------------------------------

def _check_consistent(root: str) -> Any:
    """Reopen a store and check every invariant the write order promises."""
    svc = service(root)
    for name in os.listdir(svc.content.ingest):
        raise AssertionError(f"ingest leftover {name}")
    for directory in (svc.meta.dir, svc.snapshots.root):
        leftovers = [n for n in os.listdir(directory) if n.startswith((".tmp", ".load-"))]
        assert leftovers == [], leftovers
    for image_id, record in svc.meta.images.items():
        assert svc.content.exists(image_id)
        for chain in record["chain_ids"]:
            assert svc.snapshots.has(chain)
            assert svc.content.exists(svc.snapshots.diff_id(chain))
    for text, image_id in svc.meta.refs.items():
        assert image_id in svc.meta.images, text
    for summary in svc.list(all=True):
        svc.inspect(summary["Id"])
        svc.history(summary["Id"])
    for name in os.listdir(svc.snapshots.root):      # a directory is there iff its row is
        if len(name) == 64:
            assert svc.snapshots.has(f"sha256:{name}"), f"layer directory {name} has no row"
    for chain in svc.snapshots.list_layers():
        assert os.path.isdir(svc.snapshots.diff_dir(chain)), f"row {chain} has no directory"
    blob_files = {f"sha256:{n}" for n in os.listdir(svc.content.root)}
    assert blob_files == set(svc.content.list()), "blob files and rows differ"
    assert svc.db.query("SELECT * FROM leases") == [], "the dead process's leases survived"
    live = set(svc.meta.images) | {svc.snapshots.diff_id(c) for c in svc.snapshots.list_layers()}
    assert set(svc.content.list()) <= live, "unreferenced blobs survived the start-up GC"
    return svc


def test_leftover_temp_files_are_ignored(tmp_path: Any) -> None:
    root = str(tmp_path / "root")
    svc = service(root)
    image_id = import_bytes(svc, simple_layer(("f", b"data")), "keep", "1")
    del svc
    image_dir = os.path.join(root, "image")
    with open(os.path.join(image_dir, ".tmp-repositories.json-999-1"), "w") as f:
        f.write('{"Repositories": {"evil": {"evil:latest": "sha256:')     # torn write
    os.makedirs(os.path.join(image_dir, "images"))      # the JSON layout's, cut short
    with open(os.path.join(image_dir, "images", ".tmp-" + "e" * 64 + ".json-9-9"), "w") as f:
        f.write("{")
    with open(os.path.join(image_dir, "images", "notes.txt"), "w") as f:
        f.write("not a record")
    os.makedirs(os.path.join(image_dir, ".load-abc", "blobs"))
    with open(os.path.join(root, "content", "ingest", "1-2"), "wb") as f:
        f.write(b"partial layer")
    orphan = os.path.join(root, "content", "blobs", "sha256", "0" * 64)
    with open(orphan, "wb") as f:
        f.write(b"a blob written before its record, then a crash")
    os.makedirs(os.path.join(root, "overlay", ".tmp-4242-x", "diff"))
    svc = _check_consistent(root)
    assert [i["Id"] for i in svc.list()] == [image_id]
    assert svc.resolve("keep:1").id == image_id
    assert not os.path.exists(orphan)
    # a record whose references were never written is a dangling image, and a reference
    # to an image whose record never got written is dropped
    with sqlite3.connect(os.path.join(root, "metadata.db")) as raw:   # no foreign keys
        raw.execute("INSERT INTO image_refs VALUES (?, ?)",
                    ("docker.io/library/ghost:latest", "sha256:" + "9" * 64))
    svc.meta.delete_ref(svc.meta.refs_for(image_id)[0])
    svc = _check_consistent(root)
    assert svc.list()[0]["RepoTags"] == [] and "ghost" not in json.dumps(svc.meta.refs)


def test_check_tells_writes_in_flight_from_leftovers(tmp_path: Any) -> None:
    """A temp entry named with the live daemon's pid is a write in flight, not a finding;
    one of any other process (a killed daemon) is."""
    from dockyard.linux import atomic
    from dockyard.store import check

    root = str(tmp_path / "root")
    svc = service(root)
    import_bytes(svc, simple_layer(("f", b"data")), "keep", "1")
    image_dir = os.path.join(root, "image")
    ours = os.path.join(image_dir, atomic.temp_name("repositories.json"))
    with open(ours, "w") as f:
        f.write("{")
    assert atomic.temp_owner(os.path.basename(ours)) == os.getpid()
    os.makedirs(os.path.join(root, "overlay", f".tmp-{os.getpid()}-abc-rm"))
    assert check.check(root, live_pid=os.getpid()) == []
    assert len(check.check(root)) == 2                      # offline: every temp entry counts
    os.makedirs(os.path.join(image_dir, ".load-1-xyz"))
    found = [f.message for f in check.check(root, live_pid=os.getpid())]
    assert found == ["image/.load-1-xyz: temporary entry left by an interrupted operation"]



def test_check_leaves_out_containers_in_flux(tmp_path: Any) -> None:
    """A container directory without a record, a writable layer of no container and a
    removal's trash are findings, unless their container was created or removed while the
    check ran: it is judged at the end, against every container in flux since it began."""
    from dockyard.engine.containers.inflight import InFlight
    from dockyard.store import check

    root = str(tmp_path / "root")
    import_bytes(service(root), simple_layer(("f", b"data")), "keep", "1")
    half, layer, trash = "a" * 64, "b" * 64, "c" * 64
    os.makedirs(os.path.join(root, "containers", half))
    os.makedirs(os.path.join(root, "overlay", "containers", layer))
    os.makedirs(os.path.join(root, "overlay", "containers", f".rm-{trash}-0123"))
    assert len(check.check(root)) == 3
    in_flight = InFlight()
    in_flight.add(half)
    in_flight.add(trash)             # an rm in flight throughout
    with in_flight.watch() as busy:
        in_flight.discard(half)      # a create or rm that ends during the check ...
        in_flight.add(layer)         # ... or starts during it
        in_flight.discard(layer)
        assert busy == {half, layer, trash}
        assert check.check(root, busy_containers=busy) == []
    with in_flight.watch() as busy:
        found = [f.message for f in check.check(root, busy_containers=busy)]
    assert busy == {trash} and len(found) == 2 and not in_flight._watches


_CHURN = textwrap.dedent("""
    import io, sys, tarfile
    from dockyard.engine.images import ImageService

    svc = ImageService(sys.argv[1], None)
    i = int(sys.argv[2])
    while True:
        i += 1
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for n in range(20):
                data = (f"{i}-{n}" * 500).encode()
                info = tarfile.TarInfo(f"dir{n % 3}/file{n}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        buf.seek(0)
        image_id = svc.import_image(buf, f"img{i % 4}", None, message=str(i))
        svc.tag(image_id, "alias", str(i % 3))
        if i % 3 == 0:
            try:
                svc.remove(f"img{(i + 1) % 4}", force=True)
            except Exception:
                pass
        if i % 5 == 0:
            saved = b"".join(svc.save([image_id]))
            svc.remove(image_id, force=True)
            svc.load(io.BytesIO(saved))
        if i % 7 == 0:
            svc.prune()
        print(i, flush=True)
""")


def test_kill_9_at_random_moments(tmp_path: Any) -> None:
    root = str(tmp_path / "root")
    script = tmp_path / "churn.py"
    script.write_text(_CHURN)
    env = {**os.environ, "PYTHONPATH": SRC}
    rng = random.Random(1234)
    done = 0
    for round_ in range(12):
        proc = subprocess.Popen([sys.executable, str(script), root, str(done + round_ * 1000)],
                                stdout=subprocess.PIPE, env=env)
        deadline = time.time() + 30
        first = proc.stdout.readline()           # wait for one full iteration
        assert first, "churn process died"
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        out = first + proc.stdout.read()
        proc.wait()
        assert time.time() < deadline
        done += len(out.split())
        svc = _check_consistent(root)
        assert svc.count() >= 1
    assert done >= 8


# --- the HTTP API ---------------------------------------------------------------------------

def _app(svc: Any) -> Any:
    from dockyard.api.server import make_app
    from dockyard.distribution.service import Distribution
    return make_app(types.SimpleNamespace(images=svc, db=svc.db,
                                          distribution=Distribution(svc, svc.content, svc.snapshots,
                                                                    svc.root, {})))


def _run(app: Any, scenario: Any) -> Any:
    from aiohttp.test_utils import TestClient, TestServer

    async def main() -> Any:
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)
    return asyncio.run(main())


def test_api_images(tmp_path: Any) -> None:
    from dockyard.engine.events import Events

    events = Events()
    svc = service(str(tmp_path / "a"), events)
    other = service(str(tmp_path / "b"))
    layer = simple_layer(("hello", b"hello"))

    async def scenario(client: Any) -> None:
        r = await client.post("/v1.45/images/create?fromSrc=-&repo=example.com/team/box"
                              "&tag=v1&changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3D1",
                              data=layer)
        assert r.status == 200
        lines = [json.loads(line) for line in (await r.text()).split("\r\n") if line]
        image_id = lines[-1]["status"]
        assert image_id.startswith("sha256:")
        r = await client.get("/v1.45/images/example.com/team/box:v1/json")
        info = await r.json()
        assert r.status == 200 and info["Id"] == image_id
        assert info["Config"]["Cmd"] == ["sh"] and info["Config"]["Env"] == ["A=1"]
        assert "VirtualSize" not in info and "ContainerConfig" not in info
        old = await (await client.get("/v1.41/images/example.com/team/box:v1/json")).json()
        assert old["VirtualSize"] == old["Size"] and "ContainerConfig" in old
        r = await client.get("/v1.45/images/nothere/json")
        assert r.status == 404 and (await r.json()) == {"message": "No such image: nothere:latest"}
        r = await client.get("/v1.45/images/Bad/json")
        assert r.status == 400
        r = await client.post(f"/v1.45/images/{image_id}/tag?repo=busybox&tag=latest")
        assert r.status == 201
        r = await client.post("/v1.45/images/busybox/tag?repo=x&tag=bad%20tag")
        assert r.status == 400
        r = await client.get("/v1.45/images/busybox/history")
        assert (await r.json())[0]["Id"] == image_id
        listed = await (await client.get("/v1.45/images/json")).json()
        assert listed[0]["RepoTags"] == ["busybox:latest", "example.com/team/box:v1"]
        assert "VirtualSize" not in listed[0]
        flt = json.dumps({"reference": ["busybox"]})
        listed = await (await client.get("/v1.45/images/json", params={"filters": flt})).json()
        assert listed[0]["RepoTags"] == ["busybox:latest"]
        r = await client.get("/v1.45/images/json", params={"filters": '{"bogus":["x"]}'})
        assert r.status == 400
        r = await client.get("/v1.45/images/get", params=[("names", "busybox"),
                                                          ("names", "example.com/team/box:v1")])
        assert r.status == 200 and r.headers["Content-Type"] == "application/x-tar"
        archive = await r.read()
        r = await client.get("/v1.45/images/busybox/get")
        assert await r.read() == _save(svc, "busybox")
        r = await client.get("/v1.45/images/get", params={"names": "nothere"})
        assert r.status == 404
        r = await client.delete("/v1.45/images/example.com/team/box:v1")
        assert await r.json() == [{"Untagged": "example.com/team/box:v1"}]
        r = await client.delete(f"/v1.45/images/{image_id[7:19]}")
        assert r.status == 200 and await r.json() == [
            {"Untagged": "busybox:latest"}, {"Deleted": image_id},
            {"Deleted": sha(layer)}]
        r = await client.delete("/v1.45/images/busybox")
        assert r.status == 404
        r = await client.post("/v1.45/images/prune")
        assert await r.json() == {"ImagesDeleted": None, "SpaceReclaimed": 0}
        r = await client.post("/v1.45/images/create?fromSrc=-&repo=bad", data=b"no tar here")
        assert r.status == 400
        r = await client.post("/v1.45/images/nothere/push")    # (pulls: test_distribution)
        assert r.status == 404 and (await r.json())["message"] == \
            "An image does not exist locally with the tag: nothere"
        # old API versions see placeholders for untagged images
        await client.post("/v1.45/images/create?fromSrc=-", data=layer)
        old_list = await (await client.get("/v1.41/images/json")).json()
        assert old_list[0]["RepoTags"] == ["<none>:<none>"] and "VirtualSize" in old_list[0]
        assert (await (await client.get("/v1.45/images/json")).json())[0]["RepoTags"] == []
        await asyncio.sleep(0.05)      # events from worker threads arrive via the loop
        actions = [e["Action"] for e in events.history()]
        assert actions[:2] == ["tag", "import"] and "save" in actions and "delete" in actions
        app2 = _app(other)
        from aiohttp.test_utils import TestClient, TestServer
        async with TestClient(TestServer(app2)) as client2:
            r = await client2.post("/v1.45/images/load?quiet=1", data=archive)
            body = [json.loads(line) for line in (await r.text()).split("\r\n") if line]
            assert body == [{"stream": "Loaded image: busybox:latest\n"},
                            {"stream": "Loaded image: example.com/team/box:v1\n"}]
            r = await client2.post("/v1.45/images/load", data=b"garbage")
            # as dockerd: a 200 whose stream carries the error (docker-py's ImageLoadError)
            [line] = [json.loads(x) for x in (await r.text()).split("\r\n") if x]
            assert r.status == 200 and line["error"] == line["errorDetail"]["message"]
            assert line["error"]

    _run(_app(svc), scenario)


# --- CLI formatting -------------------------------------------------------------------------

def test_cli_formatting() -> None:
    from dockyard.cli.format.lists import ellipsis, render_rows
    from dockyard.cli.format.tabwriter import render_table, tabwrite
    from dockyard.cli.format.template import TemplateError, render_template
    from dockyard.units import human_duration, human_size

    assert [human_size(n) for n in (0, 999, 1000, 4_260_000, 1_240_000, 123_456_789,
                                    5_610_000_000)] == \
        ["0B", "999B", "1kB", "4.26MB", "1.24MB", "123MB", "5.61GB"]
    assert human_size(1_984_501, 4) == "1.985MB"
    assert [human_duration(s) for s in (0.5, 1, 59, 60, 119, 3599, 3600, 5400, 47 * 3600,
                                        3 * 86400, 15 * 86400, 70 * 86400, 800 * 86400)] == \
        ["Less than a second", "1 second", "59 seconds", "About a minute", "About a minute",
         "59 minutes", "About an hour", "2 hours", "47 hours", "3 days", "2 weeks",
         "2 months", "2 years"]
    assert ellipsis("x" * 50, 45) == "x" * 44 + "…" and ellipsis("short", 45) == "short"
    table = render_table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
                         [["busybox", "latest", "0123456789ab", "2 weeks ago", "4.26MB"]])
    assert table == ("REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n"
                     "busybox      latest    0123456789ab   2 weeks ago   4.26MB\n")
    assert render_table(["A", "B"], [["x", ""]]) == "A         B\nx         \n"
    assert render_table(["UID", "PID"], [["root", "1"]], minwidth=20) == \
        "UID                 PID\nroot                1\n"
    # column blocks: lines with fewer cells end a block, as in Go's tabwriter
    assert tabwrite("a\tb\tc\nlonger\td\nx\n") == "a         b         c\nlonger    d\nx\n"
    row = {"Repository": "busybox", "Tag": "latest", "Labels": {"a": "1", "b": "2"},
           "List": ["x", "y"], "N": 3, "Nested": {"Inner": {"Deep": True}}}
    assert render_template("{{.Repository}}:{{.Tag}}", row) == "busybox:latest"
    assert render_template("{{json .Labels}}|{{json .List}}", row) == '{"a":"1","b":"2"}|["x","y"]'
    assert render_template('{{index .Labels "b"}} {{.Nested.Inner.Deep}}', row) == "2 true"
    assert render_template("{{.Missing}} {{.Labels}} {{.List}}", row) == \
        "<no value> map[a:1 b:2] [x y]"
    assert render_template("{{range $k, $v := .Labels}}{{$k}}={{$v}},{{end}}", row) == "a=1,b=2,"
    assert render_template("{{range .List}}<{{.}}>{{else}}none{{end}}", {"List": []}) == "none"
    assert render_template("{{if eq .N 3}}three{{else if gt .N 3}}more{{else}}less{{end}}",
                           row) == "three"
    assert render_template('{{.Tag | printf "%-8s|"}}{{printf "%d-%s" .N .Tag}}', row) == \
        "latest  |3-latest"
    assert render_template("{{upper .Tag}} {{join .List \", \"}} {{len .List}} "
                           "{{lower (upper .Tag)}}", row) == "LATEST x, y 2 latest"
    assert render_template("{{with .Nested.Inner}}{{.Deep}}{{end}}", row) == "true"
    assert render_template("a\\tb", {}) == "a\tb"
    assert render_template("{{- .N -}} x", row) == "3x"
    with pytest.raises(TemplateError):
        render_template("{{if .N}}unclosed", row)
    with pytest.raises(TemplateError):
        render_template("{{nosuchfunc .N}}", row)
    with pytest.raises(TemplateError, match="can't evaluate field Foo"):
        render_template("{{.Foo}}", row, "*formatter.imageContext")
    headers = {"Repository": "REPOSITORY", "Tag": "TAG"}
    rows = [{"Repository": "busybox", "Tag": "latest"}]
    assert render_rows("table {{.Repository}}\\t{{.Tag}}", rows, headers, "") == \
        "REPOSITORY   TAG\nbusybox      latest\n"
    assert render_rows("{{.Repository}}", rows, headers, "") == "busybox\n"
    assert render_rows("json", [{"Tag": "<none>", "A": 1}], headers, "") == \
        '{"A":1,"Tag":"\\u003cnone\\u003e"}\n'


def test_cli_image_rows() -> None:
    from dockyard.cli.history import history_rows
    from dockyard.cli.images import image_rows

    now = 1_700_000_000
    summaries = [
        {"Id": "sha256:" + "a" * 64, "Created": now - 3 * 86400, "Size": 4_260_000,
         "RepoTags": ["busybox:latest", "busybox:1", "example.com/x:v1"],
         "RepoDigests": ["busybox@sha256:" + "d" * 64]},
        {"Id": "sha256:" + "b" * 64, "Created": now - 30, "Size": 0, "RepoTags": [],
         "RepoDigests": []},
        {"Id": "sha256:" + "c" * 64, "Created": now - 30, "Size": 1,
         "RepoTags": ["<none>:<none>"], "RepoDigests": ["<none>@<none>"]},
        {"Id": "sha256:" + "e" * 64, "Created": now, "Size": 1, "RepoTags": [],
         "RepoDigests": ["only@sha256:" + "f" * 64]},
    ]
    rows = image_rows(summaries, now=now)
    assert [(r["Repository"], r["Tag"], r["ID"]) for r in rows] == [
        ("busybox", "latest", "a" * 12), ("busybox", "1", "a" * 12),
        ("example.com/x", "v1", "a" * 12), ("<none>", "<none>", "b" * 12),
        ("<none>", "<none>", "c" * 12), ("only", "<none>", "e" * 12)]
    assert rows[0]["CreatedSince"] == "3 days ago" and rows[0]["Size"] == "4.26MB"
    assert rows[3]["CreatedSince"] == "30 seconds ago" and rows[3]["Size"] == "0B"
    digests = image_rows(summaries, digests=True, now=now)
    assert digests[0]["Digest"] == "sha256:" + "d" * 64 and digests[2]["Digest"] == "<none>"
    assert digests[-1]["Digest"] == "sha256:" + "f" * 64
    assert image_rows(summaries, no_trunc=True, now=now)[0]["ID"] == "sha256:" + "a" * 64
    hist = history_rows([{"Id": "sha256:" + "a" * 64, "Created": now - 7200,
                          "CreatedBy": "/bin/sh -c #(nop) \tADD file:" + "0" * 60,
                          "Size": 5_610_000, "Comment": "", "Tags": ["x:1"]},
                         {"Id": "<missing>", "Created": now, "CreatedBy": "", "Size": 0,
                          "Comment": "Imported from -", "Tags": None}], now=now)
    assert hist[0]["ID"] == "a" * 12 and hist[0]["CreatedSince"] == "2 hours ago"
    assert hist[0]["CreatedBy"] == ("/bin/sh -c #(nop)  ADD file:" + "0" * 60)[:44] + "…"
    assert hist[0]["Size"] == "5.61MB" and hist[1]["ID"] == "<missing>"
    raw = history_rows([{"Id": "<missing>", "Created": 0, "Size": 12}], human=False)
    assert raw[0]["Size"] == "12" and raw[0]["CreatedSince"] == raw[0]["CreatedAt"]
