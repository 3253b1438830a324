#!/usr/bin/env python3
"""Build: a cold 6-step build, the fully cached rebuild, and a build with a 100 MB context,
through the docker CLI's classic builder (DOCKER_BUILDKIT=0) when it is installed, else our
CLI, against a private dockyardd from this checkout; median wall seconds of BENCH_RUNS
runs (default 5). When docker.io's dockerd is on the machine it would be measured the same
way beside ours; without it only our figures are printed.

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


def main() -> None:
    base = tempfile.mkdtemp(prefix="dybuild-", dir="/tmp")
    sock = f"{base}/d.sock"
    env = {**os.environ, "DOCKYARD_HOST": f"unix://{sock}", "DOCKER_HOST": f"unix://{sock}",
           "DOCKER_CONFIG": f"{base}/dockercfg", "DOCKER_BUILDKIT": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [os.path.join(ROOT, "src"),
                                                       os.environ.get("PYTHONPATH")]))}
    with open(f"{base}/daemon.json", "w") as f:
        f.write("{}")
    daemon = subprocess.Popen([sys.executable, "-m", "dockyard.daemon", "-H", f"unix://{sock}",
                               "--data-root", f"{base}/root", "--pidfile", f"{base}/pid",
                               "--config-file", f"{base}/daemon.json"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    ours = [sys.executable, "-m", "dockyard.cli"]
    client = ["docker"] if shutil.which("docker") else ours
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(ours + ["version"], env=env, capture_output=True).returncode:
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise SystemExit("dockyardd did not start")
            time.sleep(0.1)
        tar = f"{base}/busybox.tar"
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "busybox-rootfs.py"),
                        tar], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(ours + ["import", tar, "busybox:latest"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
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
        cold, cached, large = [], [], []
        for _ in range(RUNS):
            cold.append(timed(client + ["build", "--no-cache", "-t", "bench:cold", small], env))
            cached.append(timed(client + ["build", "-t", "bench:cold", small], env))
            large.append(timed(client + ["build", "--no-cache", "-t", "bench:big", big], env))
        print(f"client: {' '.join(client[:1])}; {RUNS} runs; median wall seconds")
        print(f"{'case':34} {'dockyard':>9}")
        for label, values in (("cold 6-step build (--no-cache)", cold),
                              ("fully cached rebuild", cached),
                              ("100 MB context, COPY + RUN", large)):
            print(f"{label:34} {statistics.median(values):8.3f}s")
        if shutil.which("dockerd") is None:
            print("(docker.io's dockerd is not installed here: no Docker figures to compare)")
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        unmount_under(base)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
