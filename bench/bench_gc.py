#!/usr/bin/env python3
"""Garbage collection before vs after leases and layer rows: `rmi -f` of an image with 20
tags and `image prune` of 10 dangling images (median wall time, ms, over the Engine API),
and whether an rmi frees its layer while an unrelated import is in flight (how long after
the rmi answered the layer directory was gone, or "deferred" when it was still there when
the import ended).

"before" is the source tree at BENCH_BEFORE (a git revision, default 58d7ae3: layer marker
files, GC waits for every ingest), "after" this worktree's; each runs its own private
dockyardd (harness.py). Runs (BENCH_RUNS, default 10, after one warm-up)
alternate between the two."""
from __future__ import annotations

import io
import json
import os
import shutil
import socket
import statistics
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_records import _Unix, call, rmi_tagged, start  # noqa: E402
from harness import SRC, PrivateDaemon, busybox_tar, runs, source_tree  # noqa: E402

RUNS = runs(10)
BEFORE = os.environ.get("BENCH_BEFORE", "58d7ae3")
DANGLING = 10


def _tar(name: str, size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return buf.getvalue()


def _import(sock: str, body: bytes, repo: str = "") -> str:
    conn = _Unix(sock)
    query = f"&repo={repo}" if repo else ""
    conn.request("POST", f"/images/create?fromSrc=-{query}", body,
                 {"Content-Type": "application/x-tar"})
    image_id = json.loads(conn.getresponse().read().splitlines()[-1])["status"]
    conn.close()
    return image_id


def prune(sock: str, n: int) -> float:
    for k in range(DANGLING):
        _import(sock, _tar(f"p{n}-{k}", 4096))
    t0 = time.perf_counter()
    call(sock, "POST", '/images/prune?filters={"dangling":["true"]}')
    return time.perf_counter() - t0


def gc_during_import(sock: str, root: str, n: int) -> float | None:
    """Seconds from the rmi's answer until the victim's layer directory is gone, while a
    second import's body is held half sent; None if it was still there when that ended."""
    victim = _import(sock, _tar(f"victim{n}", 1 << 16), f"victim{n}")
    diff_id = call(sock, "GET", f"/images/{victim}/json")["RootFS"]["Layers"][0]  # type: ignore
    layer_dir = os.path.join(root, "overlay", diff_id[7:])
    body = _tar(f"slow{n}", 8 << 20)
    held = socket.socket(socket.AF_UNIX)
    held.connect(os.path.join(os.path.dirname(root), "d.sock"))
    held.sendall((f"POST /images/create?fromSrc=- HTTP/1.1\r\nHost: x\r\nContent-Type: "
                  f"application/x-tar\r\nContent-Length: {len(body)}\r\n\r\n").encode()
                 + body[:len(body) // 2])
    time.sleep(0.5)                 # the daemon is reading the held import's body
    call(sock, "DELETE", f"/images/{victim}?force=1")
    answered = time.perf_counter()
    freed = None
    deadline = answered + 2
    while time.perf_counter() < deadline:
        if not os.path.exists(layer_dir):
            freed = time.perf_counter() - answered
            break
        time.sleep(0.005)
    held.sendall(body[len(body) // 2:])
    held.recv(1 << 16)
    held.close()
    return freed


def main() -> None:
    base = tempfile.mkdtemp(prefix="bench-gc-", dir="/tmp")
    daemons: dict[str, PrivateDaemon] = {}
    try:
        rootfs = busybox_tar(base)
        daemons["before"] = start(source_tree(BEFORE, base), rootfs)
        daemons["after"] = start(SRC, rootfs)
        figures: dict[str, dict[str, list[float]]] = {k: {"rmi": [], "prune": []}
                                                      for k in daemons}
        freed: dict[str, list[float | None]] = {k: [] for k in daemons}
        for n in range(RUNS + 1):
            for key, daemon in daemons.items():
                figures[key]["rmi"].append(rmi_tagged(daemon.sock, rootfs, n))
                figures[key]["prune"].append(prune(daemon.sock, n))
                root = os.path.join(daemon.base, "root")
                freed[key].append(gc_during_import(daemon.sock, root, n))
        print(f"{'median ms':28} {'before ' + BEFORE:>16} {'after':>10} {'after/before':>13}")
        for name, label in (("rmi", "rmi -f (20 tags)"), ("prune", f"prune ({DANGLING} images)")):
            before, after = (statistics.median(figures[k][name][1:]) * 1000
                             for k in ("before", "after"))
            print(f"{label:28} {before:16.1f} {after:10.1f} {after / before:13.2f}")
        for key in daemons:
            done = [f for f in freed[key][1:] if f is not None]
            said = f"freed in {statistics.median(done) * 1000:.1f} ms" if done else "deferred"
            print(f"rmi during an import ({key}): {len(done)}/{RUNS} {said}")
    finally:
        for daemon in daemons.values():
            daemon.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
