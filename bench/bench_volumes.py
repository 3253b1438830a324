#!/usr/bin/env python3
"""Start latency with one named volume against none: the time of `POST /containers/{id}/
start` for a created `busybox true` with `-v benchvol:/data` and without, interleaved,
BENCH_RUNS (default 30) pairs, for dockyard and, when installed, a private dockerd
(the same API calls through dockyard's client). The figure that matters is the difference
(aim: at most 5 ms) and, with Docker, the ratio of the differences and of the starts."""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from harness import SRC, PrivateDaemon, busybox_tar, dockerd, dockyardd, runs  # noqa: E402

sys.path.insert(0, SRC)
from dockyard.client.transport import APIClient  # noqa: E402

RUNS = runs(30)


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


def bench(daemon: PrivateDaemon | None, tar: str) -> dict[str, float] | None:
    if daemon is None:
        return None
    with daemon:
        daemon.run("import", tar, "busybox:latest")
        return measure(daemon.host)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bbx-") as work:
        tar = busybox_tar(work)
        ours = bench(dockyardd(), tar)
        assert ours is not None
        theirs = bench(dockerd(), tar)
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
