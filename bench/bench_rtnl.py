#!/usr/bin/env python3
"""What plumbing a container into a bridge costs in the daemon's Python: plumbing.attach
(veth with its peer made in the namespace, sysctls, addresses, links up, default routes)
and plumbing.delete_link, median of BENCH_RUNS (default 200) on a bridge and a network
namespace this script makes and removes; IPv4 only, or dual-stack with BENCH_IPV6=1 (two
more addresses' and routes' messages). Needs root.

With BENCH_BEFORE=<git revision> that revision's linux/rtnl.py runs too, the rounds
alternating between the two (same load for both), so the netlink encoder's cost shows."""
from __future__ import annotations

import importlib.util
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from types import ModuleType

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))
RUNS = int(os.environ.get("BENCH_RUNS", "200"))
BEFORE = os.environ.get("BENCH_BEFORE", "")
IPV6 = os.environ.get("BENCH_IPV6", "") == "1"

from dockyard.engine.networks import plumbing  # noqa: E402
from dockyard.linux import rtnl  # noqa: E402


def revision_rtnl(rev: str) -> ModuleType:
    """linux/rtnl.py as it was at `rev`, loaded as a module of its own."""
    text = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:src/dockyard/linux/rtnl.py"],
                          check=True, capture_output=True, text=True).stdout
    path = os.path.join(tempfile.mkdtemp(prefix="dy-bench-rtnl-"), "rtnl_before.py")
    with open(path, "w") as f:
        f.write(text)
    spec = importlib.util.spec_from_file_location("rtnl_before", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_join(bridge: str, netns: str, n: int) -> tuple[float, float]:
    host = f"dyb{secrets.token_hex(4)}"
    t0 = time.perf_counter()
    plumbing.attach(netns, bridge, host, "eth0", "10.233.7.2", 24, "10.233.7.1",
                    f"02:42:0a:e9:07:{n % 250 + 2:02x}", 1500, True,
                    **({"address6": "fd00:233:7::2", "prefixlen6": 64,
                        "gateway6": "fd00:233:7::1"} if IPV6 else {}))
    t1 = time.perf_counter()
    plumbing.delete_link(host)
    return t1 - t0, time.perf_counter() - t1


def main() -> None:
    tag = secrets.token_hex(3)
    bridge, ns = f"dybr{tag}", f"dybench{tag}"
    modules = {"this tree": rtnl}
    if BEFORE:
        modules[f"before {BEFORE}"] = revision_rtnl(BEFORE)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        plumbing.ensure_bridge(bridge, "10.233.7.1", 24, 1500, "fd00:233:7::1", 64)
        times: dict[str, list[tuple[float, float]]] = {label: [] for label in modules}
        for n in range(RUNS + 5):
            for label, module in modules.items():
                plumbing.rtnl = module
                sample = one_join(bridge, f"/run/netns/{ns}", n)
                if n >= 5:   # the first rounds warm caches
                    times[label].append(sample)
        print(f"plumbing.attach ({'dual-stack' if IPV6 else 'IPv4'}) + delete_link, "
              f"median of {RUNS}:")
        for label, samples in times.items():
            attach = statistics.median(s[0] for s in samples) * 1000
            delete = statistics.median(s[1] for s in samples) * 1000
            print(f"  {label:18s} attach {attach:6.3f} ms   delete_link {delete:6.3f} ms")
    finally:
        plumbing.rtnl = rtnl
        plumbing.delete_link(bridge)
        subprocess.run(["ip", "netns", "delete", ns], check=True)


if __name__ == "__main__":
    main()
