#!/usr/bin/env python3
"""Cold pull of a ~200 MB (uncompressed) Debian image from a local registry: dockyard's
time against Docker's on this machine: BENCH_RUNS (default 3) alternating cold pulls each,
each into a new, empty daemon; the best and the median are reported (the machine is shared,
so single pulls vary a lot), with the CPU time each daemon spent on the pull.

The image is made once (debootstrap --variant=minbase bookworm, cached as a tar under
/tmp), imported into a dockyard daemon and pushed to a local registry (Debian's
docker-registry on 127.0.0.1). Then an empty dockyardd and an empty private dockerd
(--bridge=none --iptables=false, its own data root, exec root and socket) each pull it.
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
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from bench_start import unmount_under, wait_socket  # noqa: E402
from registry import Registry  # noqa: E402

ROOTFS_TAR = "/tmp/dockyard-bench-bookworm-minbase.tar"
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def rootfs_tar() -> str:
    if os.path.exists(ROOTFS_TAR):
        return ROOTFS_TAR
    work = tempfile.mkdtemp(prefix="dyboot-", dir="/tmp")
    try:
        target = os.path.join(work, "root")
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", target, MIRROR],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", target, "-cf",
                        ROOTFS_TAR + ".part", "."], check=True)
        os.rename(ROOTFS_TAR + ".part", ROOTFS_TAR)
    finally:
        unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
    return ROOTFS_TAR


class Dockyard:
    def __init__(self) -> None:
        self.base = tempfile.mkdtemp(prefix="dyb-", dir="/tmp")
        sock = f"{self.base}/d.sock"
        self.env = {**os.environ, "DOCKYARD_HOST": f"unix://{sock}",
                    "DOCKER_HOST": f"unix://{sock}"}
        with open(f"{self.base}/daemon.json", "w") as f:
            f.write("{}")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dockyard.daemon", "-H", f"unix://{sock}", "--data-root",
             f"{self.base}/root", "--pidfile", f"{self.base}/pid", "--config-file",
             f"{self.base}/daemon.json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cli = os.path.join(os.path.dirname(sys.executable), "dockyard")
        self.cli = [cli] if os.access(cli, os.X_OK) else [sys.executable, "-m", "dockyard.cli"]
        wait_socket(sock, self.proc, self.cli + ["version"], self.env)

    def run(self, *args: str) -> None:
        subprocess.run(self.cli + list(args), env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        unmount_under(self.base)
        shutil.rmtree(self.base, ignore_errors=True)


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system, reaped children included) of a process and its live
    descendants: on a shared machine a steadier figure than the wall clock."""
    def stat(p: int) -> list[str]:
        with open(f"/proc/{p}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            fields = stat(current)
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if int(stat(int(entry))[1]) == current:
                        todo.append(int(entry))
                except OSError:
                    pass
    return total


def timed_cpu(cmd: list[str], env: dict[str, str], daemon: int) -> tuple[float, float]:
    """(wall seconds of the command, CPU seconds the daemon spent meanwhile)."""
    before = tree_cpu(daemon)
    wall = timed(cmd, env)
    return wall, tree_cpu(daemon) - before


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def docker_pull(name: str) -> tuple[float, float] | None:
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
        time.sleep(1)                    # let its start-up work settle
        return timed_cpu(["docker", "pull", name], env, daemon.pid)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        unmount_under(base)
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    tar = rootfs_tar()
    size = os.path.getsize(tar)
    registry = Registry().start()
    source = Dockyard()
    try:
        name = f"{registry.host}/bench/debian:bookworm"
        source.run("import", tar, name)
        source.run("push", name)
        source.stop()
        source = None
        ours: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        for _ in range(RUNS):
            target = Dockyard()
            try:
                ours.append(timed_cpu(target.cli + ["pull", name], target.env,
                                      target.proc.pid))
            finally:
                target.stop()
            docker = docker_pull(name)
            if docker is not None:
                theirs.append(docker)
    finally:
        if source is not None:
            source.stop()
        registry.stop()
    print(f"image: debootstrap minbase bookworm, {size / 1e6:.0f} MB uncompressed, one layer")
    print(f"{'cold pull':34} {'dockyard':>10} {'docker':>10} {'ratio':>8}")
    for what, index in (("wall s", 0), ("daemon CPU s", 1)):
        for label, pick in (("best", min), ("median", statistics.median)):
            a = pick(r[index] for r in ours)
            b = pick(r[index] for r in theirs) if theirs else None
            ratio = f"{a / b:.2f}x" if b else "-"
            print(f"{f'{what}, {label} of {RUNS}':34} {a:>10.2f} "
                  f"{(f'{b:.2f}' if b else '-'):>10} {ratio:>8}")
    print("(ratio = dockyard / Docker: below 1 means dockyard is faster)")
    if not theirs:
        print("(Docker is not installed: apt-get install docker.io for the comparison)")


if __name__ == "__main__":
    main()
