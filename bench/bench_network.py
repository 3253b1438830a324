#!/usr/bin/env python3
"""What joining a network costs a container start: `run --rm --network NET busybox true`
on a user bridge, on the default bridge and with `--network none` (median of BENCH_RUNS,
default 20, interleaved), driven by the stock docker CLI against a private dockyardd with
its own bridge and nftables table. Aim: a bridge adds at most 15 ms over none.

With BENCH_BEFORE=<git revision> a second private dockyardd runs that revision's tree and
the rounds alternate between the two (same load for both), printing both."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
RUNS = int(os.environ.get("BENCH_RUNS", "20"))
BEFORE = os.environ.get("BENCH_BEFORE", "")
MODES = ["none", "bridge", "benchnet"]

from bench_records import tree  # noqa: E402  (a revision's src with our shim binaries)
from conftest import Daemon  # noqa: E402  (the tests' daemon: own socket, bridge, table)


def started(src: str, n: int) -> Daemon:
    os.environ["PYTHONPATH"] = src
    daemon = Daemon(tempfile.mkdtemp(prefix="dy-bench-", dir="/tmp"))
    daemon.start()
    tar = os.path.join(daemon.base, "busybox.tar")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "busybox-rootfs.py"),
                    tar], check=True)
    daemon.ok("import", "-c", 'CMD ["sh"]', tar, "busybox:latest")
    daemon.ok("network", "create", "--subnet", f"10.231.{50 + n}.0/24", "benchnet")
    return daemon


def main() -> None:
    daemons: dict[str, Daemon] = {}
    try:
        if BEFORE:
            daemons[f"before {BEFORE}"] = started(tree(BEFORE, tempfile.mkdtemp(
                prefix="dy-bench-src-", dir="/tmp")), 1)
        daemons["this tree"] = started(os.path.join(ROOT, "src"), 0)
        times = {(label, m): [] for label in daemons for m in MODES}
        for n in range(RUNS + 1):
            for mode in MODES:
                for label, daemon in daemons.items():
                    t0 = time.perf_counter()
                    result = daemon.docker("run", "--rm", "--network", mode, "busybox", "true")
                    elapsed = time.perf_counter() - t0
                    if result.returncode != 0:
                        raise SystemExit(f"run --network {mode} failed: {result.stderr}")
                    if n:   # the first round warms caches
                        times[(label, mode)].append(elapsed)
        print(f"run --rm busybox true, median of {RUNS} (docker CLI -> dockyardd):")
        for label in daemons:
            none = statistics.median(times[(label, "none")])
            print(f" {label}:")
            for mode in MODES:
                median = statistics.median(times[(label, mode)])
                print(f"  --network {mode:9s} {median * 1000:7.1f} ms   "
                      f"(+{(median - none) * 1000:5.1f} ms over none)")
    finally:
        for daemon in daemons.values():
            daemon.cleanup()


if __name__ == "__main__":
    main()
