#!/usr/bin/env python3
"""What joining a network costs a container start: `run --rm --network NET busybox true`
on a user bridge, on the default bridge and with `--network none` (median of BENCH_RUNS,
default 20, interleaved), driven by the stock docker CLI against a private dockyardd with
its own bridge and nftables table. Aim: a bridge adds at most 15 ms over none."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
RUNS = int(os.environ.get("BENCH_RUNS", "20"))

from conftest import Daemon  # noqa: E402  (the tests' daemon: own socket, bridge, table)


def main() -> None:
    os.environ["PYTHONPATH"] = os.path.join(ROOT, "src")
    daemon = Daemon(tempfile.mkdtemp(prefix="dy-bench-", dir="/tmp"))
    try:
        daemon.start()
        tar = os.path.join(daemon.base, "busybox.tar")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "busybox-rootfs.py"),
                        tar], check=True)
        daemon.ok("import", "-c", 'CMD ["sh"]', tar, "busybox:latest")
        daemon.ok("network", "create", "--subnet", "10.231.50.0/24", "benchnet")
        modes = ["none", "bridge", "benchnet"]
        times: dict[str, list[float]] = {m: [] for m in modes}
        for n in range(RUNS + 1):
            for mode in modes:
                t0 = time.perf_counter()
                result = daemon.docker("run", "--rm", "--network", mode, "busybox", "true")
                elapsed = time.perf_counter() - t0
                if result.returncode != 0:
                    raise SystemExit(f"run --network {mode} failed: {result.stderr}")
                if n:   # the first round warms caches
                    times[mode].append(elapsed)
        none = statistics.median(times["none"])
        print(f"run --rm busybox true, median of {RUNS} (docker CLI -> dockyardd):")
        for mode in modes:
            median = statistics.median(times[mode])
            print(f"  --network {mode:9s} {median * 1000:7.1f} ms   "
                  f"(+{(median - none) * 1000:5.1f} ms over none)")
    finally:
        daemon.cleanup()


if __name__ == "__main__":
    main()
