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
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from harness import dockerd, dockyardd, our_cli, runs, timed, unmount_under  # noqa: E402
from registry import Registry  # noqa: E402

ROOTFS_TAR = "/tmp/dockyard-bench-bookworm-minbase.tar"
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
RUNS = runs(3)


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


def docker_pull(name: str) -> tuple[float, float] | None:
    docker = dockerd()
    if docker is None:
        return None
    with docker:
        time.sleep(1)                    # let its start-up work settle
        return timed_cpu(docker.cli + ["pull", name], docker.env, docker.proc.pid)


def main() -> None:
    tar = rootfs_tar()
    size = os.path.getsize(tar)
    registry = Registry().start()
    try:
        name = f"{registry.host}/bench/debian:bookworm"
        with dockyardd(cli=our_cli()) as source:
            source.run("import", tar, name)
            source.run("push", name)
        ours: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        for _ in range(RUNS):
            with dockyardd(cli=our_cli()) as target:
                ours.append(timed_cpu(target.cli + ["pull", name], target.env,
                                      target.proc.pid))
            docker = docker_pull(name)
            if docker is not None:
                theirs.append(docker)
    finally:
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
