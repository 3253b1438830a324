#!/usr/bin/env python3
"""Build: a cold 6-step build, the fully cached rebuild, and a build with a 100 MB context,
through the docker CLI's classic builder (DOCKER_BUILDKIT=0) when it is installed, else our
CLI, against a private dockyardd from this checkout and, when docker.io's dockerd is
installed, a private dockerd (`--bridge=none --iptables=false`, its own data root) beside
it; runs interleave between the two, BENCH_RUNS rounds (default 5); medians in wall
seconds and the ratio dockyard / Docker (below 1 means dockyard is faster). Builds run
with `--network none` on both sides (that dockerd has no bridge).

    python3 bench/bench_build.py
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import busybox_tar, dockerd, dockyardd, runs, timed  # noqa: E402

RUNS = runs(5)
DOCKERFILE = """FROM busybox
ENV APP=/app
WORKDIR /app
COPY small.txt .
RUN echo built > /app/built && cat small.txt
CMD ["cat", "/app/built"]
"""


def contexts(base: str) -> tuple[str, str]:
    small = f"{base}/small"
    os.makedirs(small)
    with open(f"{small}/Dockerfile", "w") as f:
        f.write(DOCKERFILE)
    with open(f"{small}/small.txt", "w") as f:
        f.write("small\n")
    big = f"{base}/big"
    os.makedirs(big)
    with open(f"{big}/Dockerfile", "w") as f:
        f.write("FROM busybox\nCOPY blob /blob\nRUN wc -c < /blob\n")
    with open(f"{big}/blob", "wb") as f:
        for _ in range(100):
            f.write(os.urandom(1 << 20))
    return small, big


def main() -> None:
    work = tempfile.mkdtemp(prefix="dybuild-", dir="/tmp")
    # the docker CLI's classic builder drives both daemons when it is installed
    client = ["docker"] if shutil.which("docker") else [sys.executable, "-m", "dockyard.cli"]
    sides = {"dockyard": dockyardd(bridge="dybench0", cli=client)}
    docker = dockerd()
    if docker is not None:
        sides["docker"] = docker
    try:
        tar = busybox_tar(work)
        for side in sides.values():
            side.env["DOCKER_BUILDKIT"] = "0"
            side.run("import", "-c", 'CMD ["sh"]', tar, "busybox:latest")
        small, big = contexts(work)
        build = ["build", "--network", "none"]
        cases = {"cold 6-step build (--no-cache)": build + ["--no-cache", "-t", "b:c", small],
                 "fully cached rebuild": build + ["-t", "b:c", small],
                 "100 MB context, COPY + RUN": build + ["--no-cache", "-t", "b:big", big]}
        times: dict[tuple[str, str], list[float]] = {(s, c): [] for s in sides for c in cases}
        for n in range(RUNS):
            order = list(sides) if n % 2 == 0 else list(reversed(sides))
            for case, args in cases.items():
                for name in order:
                    times[name, case].append(timed(client + args, sides[name].env))
        print(f"client: {client[0]}; {RUNS} interleaved rounds; median wall seconds")
        print(f"{'case':34} {'dockyard':>9} {'docker':>9} {'ratio':>7}")
        for case in cases:
            ours_s = statistics.median(times["dockyard", case])
            if "docker" in sides:
                theirs = statistics.median(times["docker", case])
                print(f"{case:34} {ours_s:8.3f}s {theirs:8.3f}s {ours_s / theirs:6.2f}x")
            else:
                print(f"{case:34} {ours_s:8.3f}s {'-':>9}")
        if "docker" not in sides:
            print("(docker.io's dockerd is not installed here: no Docker figures to compare)")
    finally:
        for side in sides.values():
            side.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
