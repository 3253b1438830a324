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
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
DOCKERFILE = """FROM busybox
ENV APP=/app
WORKDIR /app
COPY small.txt .
RUN echo built > /app/built && cat small.txt
CMD ["cat", "/app/built"]
"""


def unmount_under(base: str) -> None:
    with open("/proc/self/mounts") as f:
        targets = [line.split()[1] for line in f if line.split()[1].startswith(base)]
    for target in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{cmd} failed: {result.stderr[-500:]}")
    return time.perf_counter() - t0


def start_dockyard(base: str) -> tuple[dict[str, str], Callable[[], None]]:
    sock = f"{base}/d.sock"
    env = {**os.environ, "DOCKYARD_HOST": f"unix://{sock}", "DOCKER_HOST": f"unix://{sock}",
           "DOCKER_CONFIG": f"{base}/dockercfg", "DOCKER_BUILDKIT": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [os.path.join(ROOT, "src"),
                                                       os.environ.get("PYTHONPATH")]))}
    with open(f"{base}/daemon.json", "w") as f:
        f.write('{"bridge": "dybench0", "nftables-table": "dybench"}')
    daemon = subprocess.Popen([sys.executable, "-m", "dockyard.daemon", "-H", f"unix://{sock}",
                               "--data-root", f"{base}/root", "--pidfile", f"{base}/pid",
                               "--config-file", f"{base}/daemon.json"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    def stop_and_remove_bridge() -> None:
        stop(daemon, base)
        subprocess.run(["ip", "link", "del", "dybench0"], capture_output=True)  # kept at stop
    return env, stop_and_remove_bridge


def start_docker(base: str) -> tuple[dict[str, str], Callable[[], None]]:
    sock = f"{base}/docker.sock"
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": f"{base}/dockercfg",
           "DOCKER_BUILDKIT": "0"}
    daemon = subprocess.Popen(["dockerd", "--bridge=none", "--iptables=false", "-H",
                               f"unix://{sock}", "--data-root", f"{base}/root", "--exec-root",
                               f"{base}/exec", "--pidfile", f"{base}/pid"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return env, lambda: stop(daemon, base)


def stop(daemon: subprocess.Popen[bytes], base: str) -> None:
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(60)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
    unmount_under(base)
    shutil.rmtree(base, ignore_errors=True)


def wait_up(client: list[str], env: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    while subprocess.run(client + ["version"], env=env, capture_output=True).returncode:
        if time.monotonic() > deadline:
            raise SystemExit(f"the daemon at {env['DOCKER_HOST']} did not start")
        time.sleep(0.1)


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
    ours = [sys.executable, "-m", "dockyard.cli"]
    client = ["docker"] if shutil.which("docker") else ours
    sides = {"dockyard": start_dockyard(tempfile.mkdtemp(prefix="dyb-", dir="/tmp"))}
    if shutil.which("dockerd") and shutil.which("docker"):
        sides["docker"] = start_docker(tempfile.mkdtemp(prefix="dkb-", dir="/tmp"))
    try:
        tar = f"{work}/busybox.tar"
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "busybox-rootfs.py"),
                        tar], check=True, stdout=subprocess.DEVNULL)
        for env, _ in sides.values():
            wait_up(client, env)
            subprocess.run(client + ["import", "-c", 'CMD ["sh"]', tar, "busybox:latest"],
                           env=env, check=True, stdout=subprocess.DEVNULL)
        small, big = contexts(work)
        build = ["build", "--network", "none"]
        cases = {"cold 6-step build (--no-cache)": build + ["--no-cache", "-t", "b:c", small],
                 "fully cached rebuild": build + ["-t", "b:c", small],
                 "100 MB context, COPY + RUN": build + ["--no-cache", "-t", "b:big", big]}
        times = {(side, case): [] for side in sides for case in cases}
        for n in range(RUNS):
            order = list(sides) if n % 2 == 0 else list(reversed(sides))
            for case, args in cases.items():
                for side in order:
                    times[side, case].append(timed(client + args, sides[side][0]))
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
        for _, stop_side in sides.values():
            stop_side()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
