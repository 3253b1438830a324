#!/usr/bin/env python3
"""Container start latency (`run --rm busybox true`, median of N), daemon RSS and
per-container monitor PSS, for dockyard and, when installed, Docker on the same machine."""
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
RUNS = int(os.environ.get("BENCH_RUNS", "20"))


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def median_run(cmd: list[str], env: dict[str, str]) -> float:
    _timed(cmd, env)  # warm caches
    return statistics.median(_timed(cmd, env) for _ in range(RUNS))


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def unmount_under(base: str) -> None:
    with open("/proc/self/mounts") as f:
        targets = [line.split()[1] for line in f if line.split()[1].startswith(base)]
    for target in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


def wait_socket(path: str, proc: subprocess.Popen[bytes], check: list[str],
                env: dict[str, str]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"daemon exited early: {check}")
        if os.path.exists(path) and subprocess.run(check, env=env,
                                                   capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    raise SystemExit("daemon did not start")


def children_named(name: str) -> list[int]:
    out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def monitor_of(cli: list[str], cid: str, env: dict[str, str]) -> int:
    """The container's monitor: the parent of its init process."""
    pid = subprocess.run(cli + ["inspect", "-f", "{{.State.Pid}}", cid], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def bench_dockyard(tar: str) -> dict[str, float]:
    base = tempfile.mkdtemp(prefix="dyb-", dir="/tmp")
    sock = f"{base}/d.sock"
    env = {**os.environ, "DOCKYARD_HOST": f"unix://{sock}", "DOCKER_HOST": f"unix://{sock}"}
    with open(f"{base}/daemon.json", "w") as f:   # its own bridge and table, if one is made
        f.write('{"bridge": "dybstart0", "nftables-table": "dybstart"}')
    daemon = subprocess.Popen([sys.executable, "-m", "dockyard.daemon", "-H", f"unix://{sock}",
                               "--data-root", f"{base}/root", "--pidfile", f"{base}/pid",
                               "--config-file", f"{base}/daemon.json"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The console script next to this interpreter (a pyenv shim on PATH would add a bash
    # wrapper's start-up to every run).
    cli = os.path.join(os.path.dirname(sys.executable), "dockyard")
    ours = [cli] if os.access(cli, os.X_OK) else [sys.executable, "-m", "dockyard.cli"]
    try:
        wait_socket(sock, daemon, ours + ["version"], env)
        subprocess.run(ours + ["import", tar, "busybox:latest"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        # --network none on both sides: the private dockerd runs without a bridge
        run = ["run", "--rm", "--network", "none", "busybox", "true"]
        result = {"cli": median_run(ours + run, env)}
        if shutil.which("docker"):
            result["docker_cli"] = median_run(["docker", *run], env)
        cid = subprocess.run(ours + ["run", "-d", "--network", "none", "busybox", "sleep", "60"],
                             env=env, check=True, capture_output=True, text=True).stdout.strip()
        try:
            time.sleep(0.5)
            result["exec_cli"] = median_run(ours + ["exec", cid, "true"], env)
            if shutil.which("docker"):
                result["exec_docker_cli"] = median_run(["docker", "exec", cid, "true"], env)
            result["daemon_rss_mb"] = rss_kb(daemon.pid) / 1024
            shim = monitor_of(ours, cid, env)
            result["monitor_pss_mb"] = pss_kb(shim) / 1024
            result["monitor_rss_mb"] = rss_kb(shim) / 1024
        finally:
            subprocess.run(ours + ["rm", "-f", cid], env=env, stdout=subprocess.DEVNULL)
        return result
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        subprocess.run(["ip", "link", "del", "dybstart0"], capture_output=True)  # kept at stop
        unmount_under(base)
        shutil.rmtree(base, ignore_errors=True)


def bench_docker(tar: str) -> dict[str, float] | None:
    if not shutil.which("dockerd"):
        return None
    base = tempfile.mkdtemp(prefix="dkb-", dir="/tmp")
    sock = f"{base}/docker.sock"
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}"}
    daemon = subprocess.Popen(["dockerd", "--bridge=none", "--iptables=false", "-H",
                               f"unix://{sock}", "--data-root", f"{base}/root", "--exec-root",
                               f"{base}/exec", "--pidfile", f"{base}/pid"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_socket(sock, daemon, ["docker", "version"], env)
        subprocess.run(["docker", "import", tar, "busybox:latest"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        result = {"docker_cli": median_run(["docker", "run", "--rm", "--network", "none",
                                            "busybox", "true"], env)}
        cid = subprocess.run(["docker", "run", "-d", "--network", "none", "busybox", "sleep",
                              "60"], env=env, check=True, capture_output=True,
                             text=True).stdout.strip()
        try:
            time.sleep(0.5)
            result["exec_docker_cli"] = median_run(["docker", "exec", cid, "true"], env)
            rss = rss_kb(daemon.pid)
            for name in ("containerd",):
                rss += sum(rss_kb(p) for p in children_named(name))
            result["daemon_rss_mb"] = rss / 1024
            shim = monitor_of(["docker"], cid, env)
            result["monitor_pss_mb"] = pss_kb(shim) / 1024
            result["monitor_rss_mb"] = rss_kb(shim) / 1024
        finally:
            subprocess.run(["docker", "rm", "-f", cid], env=env, stdout=subprocess.DEVNULL)
        return result
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        unmount_under(base)
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    tar = os.path.join(tempfile.mkdtemp(prefix="bbx-"), "busybox.tar")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "busybox-rootfs.py"), tar],
                   check=True)
    ours = bench_dockyard(tar)
    theirs = bench_docker(tar)
    print(f"{'figure':40} {'dockyard':>10} {'docker':>10} {'ratio':>8}")

    def row(label: str, a: float, b: float | None, unit: str) -> None:
        ratio = f"{b / a:.2f}x" if b else "-"
        print(f"{label:40} {a:>9.3f}{unit} {(f'{b:.3f}' if b else '-'):>9}{unit} {ratio:>8}")

    docker_run = theirs["docker_cli"] if theirs else None
    row("run --rm busybox true (our CLI)", ours["cli"], docker_run, "s")
    if "docker_cli" in ours:
        row("run --rm busybox true (docker CLI)", ours["docker_cli"], docker_run, "s")
    docker_exec = theirs["exec_docker_cli"] if theirs else None
    row("exec CTR true (our CLI)", ours["exec_cli"], docker_exec, "s")
    if "exec_docker_cli" in ours:
        row("exec CTR true (docker CLI)", ours["exec_docker_cli"], docker_exec, "s")
    row("daemon RSS", ours["daemon_rss_mb"], theirs and theirs["daemon_rss_mb"], "M")
    row("per-container monitor PSS", ours["monitor_pss_mb"],
        theirs and theirs["monitor_pss_mb"], "M")
    row("per-container monitor RSS", ours["monitor_rss_mb"],
        theirs and theirs["monitor_rss_mb"], "M")
    if theirs is None:
        print("(Docker is not installed: apt-get install docker.io for the comparison)")


if __name__ == "__main__":
    main()
