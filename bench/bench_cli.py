#!/usr/bin/env python3
"""CLI overhead: our `dockyard` CLI against the stock docker CLI, both talking to the same
private dockyardd, so the difference is the client alone (start-up, imports, requests).

Runs are interleaved (ours, docker, docker, ours, ...) so that load changes on a shared
machine hit both sides alike; it reports the median wall time, the median CPU time of the
CLI process (user + system, from wait4) and the ratio ours / docker (1.00x = as fast).
`python3 -c pass` is the floor: no Python program started the usual way (site-packages and
their .pth files processed) can start faster here; `python3 -S -c pass` shows what that
processing costs on this machine. The last column is our wall time above the floor.

    python3 bench/bench_cli.py            # BENCH_RUNS=20 by default

The daemon and the CLI are imported from this checkout (its src/ goes first on PYTHONPATH),
byte-compiled first as an installed package is (with PYTHONDONTWRITEBYTECODE set, every run
would otherwise compile every module it imports).
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ROOT, busybox_tar, dockyardd, our_cli, runs  # noqa: E402

RUNS = runs(20)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process) for one run; it must succeed."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read() if proc.stderr else b""
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed ({proc.returncode}): {err.decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime


def compare(ours: list[str], theirs: list[str] | None, env: dict[str, str]
            ) -> dict[str, float]:
    """Medians of interleaved runs (two warm-up runs each are not counted)."""
    sides = {"ours": ours, **({"docker": theirs} if theirs else {})}
    for cmd in sides.values():
        timed(cmd, env)
        timed(cmd, env)
    walls: dict[str, list[float]] = {name: [] for name in sides}
    cpus: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(RUNS):
        order = list(sides) if i % 2 == 0 else list(reversed(sides))
        for name in order:
            wall, cpu = timed(sides[name], env)
            walls[name].append(wall)
            cpus[name].append(cpu)
    result = {}
    for name in sides:
        result[f"{name}_wall"] = statistics.median(walls[name])
        result[f"{name}_cpu"] = statistics.median(cpus[name])
    return result


def main() -> None:
    import compileall

    compileall.compile_dir(os.path.join(ROOT, "src"), quiet=1)
    ours = our_cli()
    docker = ["docker"] if shutil.which("docker") else None
    daemon = dockyardd(bridge="dybcli0", cli=ours)
    env = daemon.env
    try:
        daemon.run("import", busybox_tar(daemon.base), "busybox:latest")
        cid = daemon.run("run", "-d", "busybox", "sleep", "3600")
        cases = [("python3 -c pass (floor)", [sys.executable, "-c", "pass"], None),
                 ("python3 -S -c pass", [sys.executable, "-S", "-c", "pass"], None),
                 ("--version", ["--version"], ["--version"]),
                 ("ps", ["ps"], ["ps"]),
                 ("run --rm busybox true", ["run", "--rm", "busybox", "true"],
                  ["run", "--rm", "busybox", "true"]),
                 ("exec CTR true", ["exec", cid, "true"], ["exec", cid, "true"])]
        print(f"{RUNS} interleaved runs each; medians; ratio = ours / docker CLI")
        print(f"{'command':26} {'ours wall':>10} {'docker wall':>12} {'ratio':>7} "
              f"{'ours CPU':>9} {'docker CPU':>11} {'ours-floor':>11}")
        floor = 0.0
        for label, args, docker_args in cases:
            mine = args if docker_args is None else ours + args
            theirs = docker + docker_args if docker and docker_args else None
            try:
                r = compare(mine, theirs, env)
            except SystemExit as exc:
                print(f"{label:26} failed: {str(exc).splitlines()[0][-60:]}")
                continue
            floor = floor or r["ours_wall"]
            if theirs:
                ms = {k: v * 1000 for k, v in r.items()}
                print(f"{label:26} {ms['ours_wall']:8.1f}ms {ms['docker_wall']:10.1f}ms"
                      f" {r['ours_wall'] / r['docker_wall']:6.2f}x {ms['ours_cpu']:7.1f}ms"
                      f" {ms['docker_cpu']:9.1f}ms {ms['ours_wall'] - floor * 1000:9.1f}ms")
            else:
                print(f"{label:26} {r['ours_wall'] * 1000:8.1f}ms {'-':>12} {'-':>7} "
                      f"{r['ours_cpu'] * 1000:7.1f}ms {'-':>11}")
        if docker is None:
            print("(the docker CLI is not installed: apt-get install docker.io to compare)")
    finally:
        daemon.stop()


if __name__ == "__main__":
    main()
