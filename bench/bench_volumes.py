#!/usr/bin/env python3
"""Start latency with one named volume against none: the time of `POST /containers/{id}/
start` for a created `busybox true` with `-v benchvol:/data` and without, interleaved,
BENCH_RUNS (default 30) pairs, for dockyard and, when installed, a private dockerd
(the same API calls through dockyard's client). The figure that matters is the difference
(aim: at most 5 ms) and, with Docker, the ratio of the differences and of the starts."""
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
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, HERE)
RUNS = int(os.environ.get("BENCH_RUNS", "30"))

from bench_start import unmount_under, wait_socket  # noqa: E402
from dockyard.client.transport import APIClient  # noqa: E402


def _start_once(api: APIClient, binds: list[str]) -> float:
    cid = api.post("/containers/create", json={
        "Image": "busybox:latest", "Cmd": ["true"],
        "HostConfig": {"Binds": binds, "NetworkMode": "none"}})["Id"]
    try:
        t0 = time.perf_counter()
        api.post(f"/containers/{cid}/start")
        elapsed = time.perf_counter() - t0
        api.post(f"/containers/{cid}/wait")
        return elapsed
    finally:
        api.delete(f"/containers/{cid}", {"force": True, "v": True})


def measure(host: str) -> dict[str, float]:
    api = APIClient(host)
    api.post("/volumes/create", json={"Name": "benchvol"})
    plain, with_volume = [], []
    _start_once(api, [])
    _start_once(api, ["benchvol:/data"])       # warm: the volume exists, the image cached
    for _ in range(RUNS):
        plain.append(_start_once(api, []))
        with_volume.append(_start_once(api, ["benchvol:/data"]))
    api.delete("/volumes/benchvol")
    none, one = statistics.median(plain), statistics.median(with_volume)
    # the cost: the median of each interleaved pair's difference (load on a shared machine
    # moves both starts of a pair alike); the best runs are shown too
    paired = statistics.median(b - a for a, b in zip(plain, with_volume))
    return {"start_none_ms": none * 1000, "start_volume_ms": one * 1000,
            "volume_cost_ms": paired * 1000,
            "best_none_ms": min(plain) * 1000, "best_volume_ms": min(with_volume) * 1000}


def _daemon(cmd: list[str], sock: str, check: list[str], base: str,
            tar_import: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKYARD_HOST": f"unix://{sock}"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_socket(sock, proc, check, env)
    subprocess.run(tar_import, env=env, check=True, stdout=subprocess.DEVNULL)
    return proc


def bench_dockyard(tar: str) -> dict[str, float]:
    base = tempfile.mkdtemp(prefix="dyv-", dir="/tmp")
    sock = f"{base}/d.sock"
    with open(f"{base}/daemon.json", "w") as f:
        f.write("{}")
    cli = [sys.executable, "-m", "dockyard.cli"]
    proc = _daemon([sys.executable, "-m", "dockyard.daemon", "-H", f"unix://{sock}",
                    "--data-root", f"{base}/root", "--pidfile", f"{base}/pid",
                    "--config-file", f"{base}/daemon.json"], sock, cli + ["version"], base,
                   cli + ["import", tar, "busybox:latest"])
    try:
        return measure(f"unix://{sock}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        unmount_under(base)
        shutil.rmtree(base, ignore_errors=True)


def bench_docker(tar: str) -> dict[str, float] | None:
    if not shutil.which("dockerd") or not shutil.which("docker"):
        return None
    base = tempfile.mkdtemp(prefix="dkv-", dir="/tmp")
    sock = f"{base}/docker.sock"
    proc = _daemon(["dockerd", "--bridge=none", "--iptables=false", "-H", f"unix://{sock}",
                    "--data-root", f"{base}/root", "--exec-root", f"{base}/exec",
                    "--pidfile", f"{base}/pid"], sock, ["docker", "version"], base,
                   ["docker", "import", tar, "busybox:latest"])
    try:
        return measure(f"unix://{sock}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        unmount_under(base)
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    tar = os.path.join(tempfile.mkdtemp(prefix="bbx-"), "busybox.tar")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "busybox-rootfs.py"), tar],
                   check=True)
    ours = bench_dockyard(tar)
    theirs = bench_docker(tar)
    print(f"{'':24}{'dockyard':>12}{'docker':>12}")
    for key in ("start_none_ms", "start_volume_ms", "volume_cost_ms", "best_none_ms",
                "best_volume_ms"):
        other = f"{theirs[key]:12.2f}" if theirs else f"{'-':>12}"
        print(f"{key:24}{ours[key]:12.2f}{other}")
    if theirs:
        print(f"ratio start with a volume (docker / dockyard): "
              f"{theirs['start_volume_ms'] / ours['start_volume_ms']:.2f}")
    else:
        print("dockerd not installed: Docker's figures and the ratio are not measured")
    cost = ours["volume_cost_ms"]
    verdict = "within" if cost <= 5 else "OVER"
    print(f"one named volume costs {cost:.2f} ms at start (median of paired differences): "
          f"{verdict} the 5 ms aim")


if __name__ == "__main__":
    main()
