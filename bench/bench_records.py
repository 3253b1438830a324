#!/usr/bin/env python3
"""Metadata writes, before vs after the metadata database: `create` + `rm` of a container
and `rmi -f` of an image with 20 tags, median wall time (ms) over the Engine API.

"before" is the source tree at BENCH_BEFORE (a git revision, default a5d7593: JSON files,
one fsynced rewrite of repositories.json per untag), "after" this worktree's. Each runs its
own private dockyardd on a fresh data root; the runs (BENCH_RUNS, default 20, after one
warm-up) alternate between the two, so load from elsewhere on the machine hits both."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import SRC, PrivateDaemon, busybox_tar, dockyardd, runs, source_tree  # noqa: E402

RUNS = runs(20)
BEFORE = os.environ.get("BENCH_BEFORE", "a5d7593")
TAGS = 20


class _Unix(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)


def call(sock: str, method: str, url: str, body: object = None) -> object:
    conn = _Unix(sock)
    conn.request(method, url, json.dumps(body) if body is not None else None,
                 {"Content-Type": "application/json"})
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    if answer.status >= 400:
        raise SystemExit(f"{method} {url}: {answer.status} {data[:200]!r}")
    json_answer = "json" in (answer.getheader("Content-Type") or "")
    return json.loads(data) if data and json_answer else data


def start(src: str, rootfs: str) -> PrivateDaemon:
    """A private dockyardd running `src`, with busybox imported."""
    daemon = dockyardd(src=src)
    daemon.run("import", rootfs, "busybox:latest")
    return daemon


def create_rm(sock: str) -> float:
    t0 = time.perf_counter()
    cid = call(sock, "POST", "/containers/create",
               {"Image": "busybox", "Cmd": ["true"]})["Id"]  # type: ignore[index]
    call(sock, "DELETE", f"/containers/{cid}")
    return time.perf_counter() - t0


def rmi_tagged(sock: str, rootfs: str, n: int) -> float:
    """Import an image of its own, tag it TAGS times, time `rmi -f` of it."""
    layer = subprocess.run(["tar", "-c", "-C", os.path.dirname(rootfs), "--transform",
                            f"s,^,r{n}/,", os.path.basename(rootfs)],
                           capture_output=True, check=True).stdout
    conn = _Unix(sock)
    conn.request("POST", "/images/create?fromSrc=-", layer, {"Content-Type": "application/x-tar"})
    image_id = json.loads(conn.getresponse().read().splitlines()[-1])["status"]
    conn.close()
    for t in range(TAGS):
        call(sock, "POST", f"/images/{image_id}/tag?repo=bench&tag={n}-{t}")
    t0 = time.perf_counter()
    call(sock, "DELETE", f"/images/{image_id}?force=1")
    return time.perf_counter() - t0


def main() -> None:
    base = tempfile.mkdtemp(prefix="bench-records-", dir="/tmp")
    daemons: dict[str, PrivateDaemon] = {}
    try:
        rootfs = busybox_tar(base)
        daemons["before"] = start(source_tree(BEFORE, base), rootfs)
        daemons["after"] = start(SRC, rootfs)
        figures: dict[str, dict[str, list[float]]] = {k: {"create+rm": [], "rmi": []}
                                                      for k in daemons}
        for n in range(RUNS + 1):          # interleaved: load on the machine hits both alike
            for key, daemon in daemons.items():
                figures[key]["create+rm"].append(create_rm(daemon.sock))
                figures[key]["rmi"].append(rmi_tagged(daemon.sock, rootfs, n))
        print(f"{'median ms':24} {'before ' + BEFORE:>16} {'after':>10} {'after/before':>13}")
        for name, label in (("create+rm", "create+rm"), ("rmi", f"rmi -f ({TAGS} tags)")):
            before, after = (statistics.median(figures[k][name][1:]) * 1000
                             for k in ("before", "after"))
            print(f"{label:24} {before:16.1f} {after:10.1f} {after / before:13.2f}")
    finally:
        for daemon in daemons.values():
            daemon.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
