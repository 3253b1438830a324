"""cgroup managers against the kernel: v1 hierarchies here, and the v2 code on the unified
mount this hybrid host has (it carries no controllers, so only the tree logic is checked)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from dockyard.runtime.cgroups import v1, v2
from dockyard.runtime.cgroups.cpu import shares_to_weight

UNIFIED = "/sys/fs/cgroup/unified"


def _run_in(manager) -> subprocess.Popen[bytes]:
    """A process that joins the group itself, like a container init does."""
    code = ("import sys; sys.path[:0] = sys.argv[1:2]\n"
            "from dockyard.runtime.cgroups import v1, v2\n"
            "import pickle, os, time\n"
            "m = pickle.loads(bytes.fromhex(sys.argv[2])); m.join_self(); time.sleep(30)")
    import pickle
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    return subprocess.Popen([sys.executable, "-c", code, src, pickle.dumps(manager).hex()])


def _wait_member(path: str, pid: int) -> None:
    import time
    for _ in range(100):
        with open(os.path.join(path, "cgroup.procs")) as f:
            if str(pid) in f.read().split():
                return
        time.sleep(0.05)
    raise AssertionError(f"{pid} never joined {path}")


@pytest.mark.skipif(not v1.hierarchies(), reason="SKIPPED LOUDLY: no cgroup v1 hierarchies")
def test_v1_limits_join_and_destroy() -> None:
    manager = v1.V1Manager(f"/dockyard-test/v1-{os.getpid()}")
    manager.create({"memory": {"limit": 32 << 20}, "pids": {"limit": 7},
                    "cpu": {"shares": 512, "quota": 50000, "period": 100000}})
    dirs = manager.directories()
    proc = _run_in(manager)
    try:
        _wait_member(dirs["memory"], proc.pid)
        with open(os.path.join(dirs["memory"], "memory.limit_in_bytes")) as f:
            assert int(f.read()) == 32 << 20
        with open(os.path.join(dirs["pids"], "pids.max")) as f:
            assert f.read().strip() == "7"
        with open(os.path.join(dirs["cpu"], "cpu.cfs_quota_us")) as f:
            assert f.read().strip() == "50000"
    finally:
        proc.kill()
        proc.wait()
    manager.destroy()
    assert not any(os.path.exists(d) for d in dirs.values())
    for d in set(dirs.values()):
        try:
            os.rmdir(os.path.dirname(d))
        except OSError:
            pass


@pytest.mark.skipif(not os.path.exists(os.path.join(UNIFIED, "cgroup.controllers")),
                    reason="SKIPPED LOUDLY: no cgroup2 mount at /sys/fs/cgroup/unified")
def test_v2_tree_join_and_destroy() -> None:
    manager = v2.V2Manager(f"/dockyard-test/v2-{os.getpid()}", root=UNIFIED)
    manager.create({})   # no controllers on this mount: only the tree and membership
    directory = manager.directories()["unified"]
    assert os.path.isdir(directory)
    proc = _run_in(manager)
    try:
        _wait_member(directory, proc.pid)
    finally:
        proc.kill()
        proc.wait()
    manager.destroy()
    assert not os.path.exists(directory)
    os.rmdir(os.path.dirname(directory))


def test_shares_to_weight_matches_runc() -> None:
    assert shares_to_weight(2) == 1
    assert shares_to_weight(1024) == 39
    assert shares_to_weight(262144) == 10000


@pytest.mark.skipif(not v1.hierarchies(), reason="SKIPPED LOUDLY: no cgroup v1 hierarchies")
def test_v1_create_survives_the_parent_being_removed_meanwhile() -> None:
    """Another daemon's clean-up removes the shared parent group whenever it finds it empty;
    a create that races it makes the parent again instead of failing the start."""
    parent = f"/dockyard-race-{os.getpid()}"
    stop = threading.Event()

    def remover() -> None:
        while not stop.is_set():
            for d in v1.V1Manager(parent).directories().values():
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            time.sleep(0.0002)

    thread = threading.Thread(target=remover)
    thread.start()
    try:
        for n in range(150):
            manager = v1.V1Manager(f"{parent}/c{n}")
            manager.create({})
            manager.destroy()
    finally:
        stop.set()
        thread.join()
        for d in v1.V1Manager(parent).directories().values():
            # a failed create leaves its child group, which would keep the parent
            children = [e.path for e in os.scandir(d) if e.is_dir()] if os.path.isdir(d) else []
            for child in [*children, d]:
                try:
                    os.rmdir(child)
                except OSError:
                    pass
