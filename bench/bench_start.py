#!/usr/bin/env python3
"""Container start latency (`run --rm busybox true`, median of BENCH_RUNS, default 20),
exec latency, daemon RSS and per-container monitor PSS, for dockyard and, when docker.io's
dockerd is installed, Docker on the same machine. Both sides run `--network none` (the
private dockerd has no bridge)."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (PrivateDaemon, busybox_tar, dockerd, dockyardd, median_run,  # noqa: E402
                     our_cli, pss_kb, rss_kb, runs)

RUNS = runs(20)
RUN = ["run", "--rm", "--network", "none", "busybox", "true"]


def children_named(name: str) -> list[int]:
    out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def monitor_of(daemon: PrivateDaemon, cid: str) -> int:
    """The container's monitor: the parent of its init process."""
    pid = daemon.run("inspect", "-f", "{{.State.Pid}}", cid)
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def measure(daemon: PrivateDaemon, tar: str, clients: dict[str, list[str]],
            extra_rss: tuple[str, ...] = ()) -> dict[str, float]:
    """run and exec medians through each client, then the daemon's and a monitor's memory."""
    daemon.run("import", tar, "busybox:latest")
    result = {f"run_{name}": median_run(cli + RUN, daemon.env, RUNS)
              for name, cli in clients.items()}
    cid = daemon.run("run", "-d", "--network", "none", "busybox", "sleep", "60")
    try:
        for name, cli in clients.items():
            result[f"exec_{name}"] = median_run(cli + ["exec", cid, "true"], daemon.env, RUNS)
        rss = rss_kb(daemon.proc.pid) + sum(rss_kb(p) for n in extra_rss
                                            for p in children_named(n))
        result["daemon_rss_mb"] = rss / 1024
        monitor = monitor_of(daemon, cid)
        result["monitor_pss_mb"] = pss_kb(monitor) / 1024
        result["monitor_rss_mb"] = rss_kb(monitor) / 1024
    finally:
        daemon.run("rm", "-f", cid)
    return result


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bbx-") as work:
        tar = busybox_tar(work)
        with dockyardd(bridge="dybstart0", cli=our_cli()) as ours_daemon:
            ours = measure(ours_daemon, tar, {"ours": ours_daemon.cli, "docker": ["docker"]})
        theirs = None
        docker_daemon = dockerd()
        if docker_daemon is not None:
            with docker_daemon:
                theirs = measure(docker_daemon, tar, {"docker": ["docker"]}, ("containerd",))
    print(f"{'figure':40} {'dockyard':>10} {'docker':>10} {'ratio':>8}")

    def row(label: str, a: float, b: float | None, unit: str) -> None:
        ratio = f"{b / a:.2f}x" if b else "-"
        print(f"{label:40} {a:>9.3f}{unit} {(f'{b:.3f}' if b else '-'):>9}{unit} {ratio:>8}")

    for verb in ("run", "exec"):
        label = "run --rm busybox true" if verb == "run" else "exec CTR true"
        docker_figure = theirs[f"{verb}_docker"] if theirs else None
        row(f"{label} (our CLI)", ours[f"{verb}_ours"], docker_figure, "s")
        row(f"{label} (docker CLI)", ours[f"{verb}_docker"], docker_figure, "s")
    for key, label in (("daemon_rss_mb", "daemon RSS"),
                       ("monitor_pss_mb", "per-container monitor PSS"),
                       ("monitor_rss_mb", "per-container monitor RSS")):
        row(label, ours[key], theirs[key] if theirs else None, "M")
    if theirs is None:
        print("(Docker is not installed: apt-get install docker.io for the comparison)")


if __name__ == "__main__":
    main()
