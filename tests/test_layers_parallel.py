"""The layer applier writes small files and symlinks from worker threads: the result must be
what applying the entries one by one gives, whatever their order."""
from __future__ import annotations

import io
import os
import stat
import tarfile
from typing import Any

from test_store import entry, make_tar


def test_order_dependent_entries(tmp_path: Any) -> None:
    from dockyard.store.layers import apply_layer

    entries = []
    for d in range(40):                                   # enough to keep the writers busy
        entries.append(entry(f"d{d}", tarfile.DIRTYPE, mode=0o755))
        entries += [entry(f"d{d}/f{i}", data=f"{d}/{i}".encode()) for i in range(20)]
    entries += [
        entry("dup", data=b"first"), entry("dup", data=b"second"),      # later one wins
        entry("becomes-dir", data=b"file"), entry("becomes-dir", tarfile.DIRTYPE),
        entry("becomes-dir/inside", data=b"inside"),
        entry("target", data=b"linked", mode=0o600, uid=1000, gid=1000),
        entry("hard", tarfile.LNKTYPE, link="target"),                 # link to a fresh file
        entry("d0/.wh.f1"),                                           # whiteout of one
        entry("lnk", tarfile.SYMTYPE, link="d1"),
        entry("lnk/through", data=b"via the symlink"),                # lands in d1
        entry("lnk2", tarfile.SYMTYPE, link="gone"),
        entry("lnk2", data=b"file over a symlink"),
        entry("setuid", data=b"#!/bin/sh\n", mode=0o4755, uid=0, gid=0),
        entry("owned", data=b"x", mode=0o640, uid=1234, gid=4321),
    ]
    target = tmp_path / "layer"
    target.mkdir()
    apply_layer(io.BytesIO(make_tar(entries)), str(target))
    assert (target / "d39/f19").read_bytes() == b"39/19"
    assert (target / "dup").read_bytes() == b"second"
    assert (target / "becomes-dir").is_dir()
    assert (target / "becomes-dir/inside").read_bytes() == b"inside"
    assert os.stat(target / "hard").st_ino == os.stat(target / "target").st_ino
    st = os.stat(target / "target")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1000, 0o600)
    whiteout = os.lstat(target / "d0/f1")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert (target / "d1/through").read_bytes() == b"via the symlink"
    assert not os.path.islink(target / "lnk2")
    assert (target / "lnk2").read_bytes() == b"file over a symlink"
    assert stat.S_IMODE(os.stat(target / "setuid").st_mode) == 0o4755
    owned = os.stat(target / "owned")
    assert (owned.st_uid, owned.st_gid, stat.S_IMODE(owned.st_mode)) == (1234, 4321, 0o640)
    assert int(os.stat(target / "d5/f5").st_mtime) == 1_600_000_000
