#!/usr/bin/env python3
"""What joining a network costs a container start: `run --rm --network NET busybox true`
on a user bridge, on the default bridge and with `--network none` (median of BENCH_RUNS,
default 20, interleaved), driven by the stock docker CLI against a private dockyardd with
its own bridge and nftables table. Aim: a bridge adds at most 15 ms over none.

With BENCH_BEFORE=<git revision> a second private dockyardd runs that revision's tree and
the rounds alternate between the two (same load for both), printing both. When docker.io's
dockerd is installed, a private dockerd (`--bridge=none --iptables=false`, so it has no
default bridge and touches no host firewall; its own data root) takes part in the same
rounds on a user network of its own, and the ratio Docker / dockyard is printed (the issue's
aim: dockyard at least 3x faster)."""
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
from conftest import Daemon  # noqa: E402  (the tests' daemon: own socket, bridge, table)
from harness import PrivateDaemon, dockerd, runs, source_tree  # noqa: E402

RUNS = runs(20)
BEFORE = os.environ.get("BENCH_BEFORE", "")
MODES = ["none", "bridge", "benchnet"]


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


class DockerSide:
    """A private dockerd with busybox and a user network, run like the tests' Daemon."""

    def __init__(self, daemon: PrivateDaemon, tar: str) -> None:
        self.daemon = daemon
        daemon.run("import", "-c", 'CMD ["sh"]', tar, "busybox:latest")
        daemon.run("network", "create", "--subnet", "10.231.60.0/24", "benchnet")

    def docker(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], env=self.daemon.env, capture_output=True,
                              text=True)

    def cleanup(self) -> None:
        self.docker("network", "rm", "benchnet")
        self.daemon.stop()


def main() -> None:
    daemons: dict[str, Daemon | DockerSide] = {}
    try:
        if BEFORE:
            daemons[f"before {BEFORE}"] = started(source_tree(BEFORE, tempfile.mkdtemp(
                prefix="dy-bench-src-", dir="/tmp")), 1)
        ours = started(os.path.join(ROOT, "src"), 0)
        daemons["this tree"] = ours
        docker = dockerd()
        if docker is not None:
            daemons["docker"] = DockerSide(docker, os.path.join(ours.base, "busybox.tar"))
        times = {(label, m): [] for label in daemons for m in MODES}
        for n in range(RUNS + 1):
            for mode in MODES:
                for label, daemon in daemons.items():
                    if label == "docker" and mode == "bridge":
                        continue     # that dockerd has no default bridge
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
                if times[(label, mode)]:
                    median = statistics.median(times[(label, mode)])
                    print(f"  --network {mode:9s} {median * 1000:7.1f} ms   "
                          f"(+{(median - none) * 1000:5.1f} ms over none)")
        if "docker" in daemons:
            for mode in ("none", "benchnet"):
                ratio = (statistics.median(times[("docker", mode)])
                         / statistics.median(times[("this tree", mode)]))
                print(f" Docker / dockyard, --network {mode}: {ratio:.2f}x")
    finally:
        for daemon in daemons.values():
            daemon.cleanup()


if __name__ == "__main__":
    main()
