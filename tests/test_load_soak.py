"""Load and soak: 16 docker-py clients drive one private daemon with a bounded, random mix of
create/start/exec/logs/stop/kill/wait/rm/inspect/ps on shared busybox containers, so their
calls race. No call may be a 5xx (404/409 that a race explains are counted, not failures),
every container created is accounted for, and once all are removed the daemon is back to its
warm-up baseline: no mounts, cgroups or monitors left, no extra fds, RSS within a few MB."""
from __future__ import annotations

import collections
import os
import random
import threading
import time
from typing import Any, Callable

import pytest

from conftest import Daemon

docker = pytest.importorskip("docker")

CLIENTS = 16
WARMUP_OPS = 10 * CLIENTS    # grows the daemon's pools and caches before the baseline
MAIN_OPS = 75 * CLIENTS      # 1,200 operations in the measured run
MAX_POOL = 40                # live containers; above it, creates give way to removals
FD_SLACK = 4
RSS_SLACK_KB = 8 * 1024
SETTLE = 20.0                # seconds for asynchronous clean-up to finish

# kind -> (command, auto-remove, share of creates). "trap" stops at once on SIGTERM and runs
# until stopped (exec's target); "sleep" (pid 1 ignores SIGTERM) needs the stop timeout's
# SIGKILL; "short" and "auto" exit by themselves.
KINDS: dict[str, tuple[list[str], bool, int]] = {
    "short": (["sh", "-c", "echo out; echo err >&2"], False, 25),
    "sleep": (["sleep", "2"], False, 20),
    "trap": (["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"], False, 40),
    "auto": (["sh", "-c", "echo bye"], True, 15),
}
WAITABLE = ("short", "sleep", "auto")   # kinds whose wait ends on its own


class Pool:
    """What the clients share: the containers they made, and what happened to them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kind: dict[str, str] = {}        # every container created -> its kind
        self.live: list[str] = []             # not yet removed by a client
        self.removed: set[str] = set()        # removed by an rm that answered 204
        self.started_auto: set[str] = set()   # auto-remove containers that were started
        self.started: set[str] = set()        # started and not stopped since, as far as known
        self.exec_ids: list[str] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []
        self.checks = 0                       # store checks run while the clients ran

    def pick(self, rng: random.Random, kinds: tuple[str, ...] = tuple(KINDS),
             started: bool = False) -> str | None:
        with self.lock:
            candidates = [c for c in self.live if self.kind[c] in kinds and
                          (not started or c in self.started)]
        return rng.choice(candidates) if candidates else None

    def count(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1


class Worker:
    """One client thread: `ops` random operations with its own docker-py APIClient."""

    def __init__(self, daemon: Daemon, pool: Pool, seed: int, ops: int) -> None:
        self.api = docker.APIClient(base_url=daemon.host, version="1.45", timeout=60)
        self.pool = pool
        self.rng = random.Random(seed)
        self.ops = ops
        self.table: list[tuple[int, Callable[[], None]]] = [
            (12, self.create), (16, self.start), (12, self.exec), (8, self.logs),
            (10, self.inspect), (6, self.ps), (7, self.stop), (6, self.kill),
            (6, self.wait), (11, self.rm)]

    def run(self) -> None:
        try:
            for _ in range(self.ops):
                weights = [w for w, _ in self.table]
                op = self.rng.choices([f for _, f in self.table], weights)[0]
                with self.pool.lock:
                    full = len(self.pool.live) >= MAX_POOL
                self.call(self.rm if op == self.create and full else op)
        finally:
            self.api.close()

    def call(self, op: Callable[[], None]) -> None:
        name = op.__name__
        try:
            op()
            self.pool.count(f"{name}:ok")
        except docker.errors.APIError as exc:
            status = exc.status_code or 0
            self.pool.count(f"{name}:{status}")
            if status not in (404, 409):   # what a racing client legitimately causes
                with self.pool.lock:
                    self.pool.failures.append(f"{name}: {status} {exc.explanation}")
        except Exception as exc:  # noqa: BLE001 - a broken stream or connection is a failure
            self.pool.count(f"{name}:error")
            with self.pool.lock:
                self.pool.failures.append(f"{name}: {exc.__class__.__name__}: {exc}")

    def _target(self, kinds: tuple[str, ...] = tuple(KINDS)) -> str:
        """A container of one of `kinds` that some client made (a new one if none is left)."""
        return self.pool.pick(self.rng, kinds) or self._new(self.rng.choice(kinds))

    def _new(self, kind: str | None = None) -> str:
        kind = kind or self.rng.choices(list(KINDS), [s for _, _, s in KINDS.values()])[0]
        cmd, auto, _ = KINDS[kind]
        cid = self.api.create_container(
            "busybox", cmd, host_config=self.api.create_host_config(auto_remove=auto))["Id"]
        with self.pool.lock:
            self.pool.kind[cid] = kind
            self.pool.live.append(cid)
        return cid

    def create(self) -> None:
        self._new()

    def start(self) -> None:
        cid = self._target()
        self.api.start(cid)
        with self.pool.lock:
            self.pool.started.add(cid)
            if self.pool.kind[cid] == "auto":
                self.pool.started_auto.add(cid)

    def exec(self) -> None:
        cid = self.pool.pick(self.rng, ("trap",), started=True) or self._target(("trap",))
        exec_id = self.api.exec_create(cid, ["sh", "-c", "echo exec-$$"])["Id"]
        with self.pool.lock:
            self.pool.exec_ids.append(exec_id)
        output = self.api.exec_start(exec_id)
        info = self.api.exec_inspect(exec_id)
        if info["ExitCode"] == 0:
            assert output.startswith(b"exec-"), output

    def logs(self) -> None:
        cid = self._target()
        self.api.logs(cid, stdout=True, stderr=True)

    def inspect(self) -> None:
        info = self.api.inspect_container(self._target())
        assert info["State"]["Status"] in ("created", "running", "exited", "removing"), info

    def ps(self) -> None:
        self.api.containers(all=self.rng.random() < 0.7)

    def stop(self) -> None:
        cid = self._target()
        self.api.stop(cid, timeout=self.rng.choice([0, 1]))
        with self.pool.lock:
            self.pool.started.discard(cid)

    def kill(self) -> None:
        cid = self._target()
        self.api.kill(cid)
        with self.pool.lock:
            self.pool.started.discard(cid)

    def wait(self) -> None:
        self.api.wait(self._target(WAITABLE), timeout=30)

    def rm(self) -> None:
        cid = self.pool.pick(self.rng)
        if cid is None:
            return
        self.api.remove_container(cid, force=self.rng.random() < 0.6)
        with self.pool.lock:
            self.pool.removed.add(cid)
            if cid in self.pool.live:
                self.pool.live.remove(cid)


def drive(daemon: Daemon, pool: Pool, ops_per_client: int, seed: int) -> float:
    """Run the clients, and alongside them the store check (check_while); the time taken."""
    workers = [Worker(daemon, pool, seed + i, ops_per_client) for i in range(CLIENTS)]
    threads = [threading.Thread(target=w.run, name=f"soak-{i}") for i, w in enumerate(workers)]
    checker = threading.Thread(target=check_while, name="soak-check",
                               args=(daemon, pool, lambda: any(t.is_alive() for t in threads)))
    started = time.monotonic()
    for t in threads:
        t.start()
    checker.start()
    for t in [*threads, checker]:
        t.join(300)
        assert not t.is_alive(), f"{t.name} hung"
    return time.monotonic() - started


def check_while(daemon: Daemon, pool: Pool, running: Callable[[], bool]) -> None:
    """`dockyard system check` over and over while the clients run: a container being created
    or removed is no finding, so every check must come back empty."""
    api = docker.APIClient(base_url=daemon.host, version="1.45", timeout=60)
    try:
        while running():
            findings = api.get(api._url("/dockyard/check")).json()
            with pool.lock:
                pool.checks += 1
                pool.failures.extend(f"check: {f['Kind']}: {f['Message']}" for f in findings)
    except Exception as exc:  # noqa: BLE001 - reported like a client's failure
        with pool.lock:
            pool.failures.append(f"check: {exc.__class__.__name__}: {exc}")
    finally:
        api.close()


def listed(api: Any) -> dict[str, str]:
    return {c["Id"]: c["State"] for c in api.containers(all=True)}


def account(api: Any, pool: Pool) -> dict[str, str]:
    """Every container created is listed, or gone as expected (removed by a client, or an
    auto-remove one that ran); nothing else is listed."""
    def gone_as_expected(cid: str) -> bool:
        return cid in pool.removed or cid in pool.started_auto

    deadline = time.monotonic() + SETTLE
    while True:
        now = listed(api)
        unknown = set(now) - set(pool.kind)
        missing = {c for c in pool.kind if c not in now and not gone_as_expected(c)}
        lingering = {c for c in now if c in pool.removed or
                     (c in pool.started_auto and now[c] != "running")}
        if not (unknown or missing or lingering) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not unknown, f"containers nobody created: {unknown}"
    assert not missing, f"containers lost: {missing}"
    assert not lingering, f"containers still listed after their removal: {lingering}"
    return now


def remove_all(api: Any) -> None:
    for cid in listed(api):
        try:
            api.remove_container(cid, force=True)
        except docker.errors.NotFound:
            pass
    assert listed(api) == {}


# --- what a daemon holds ---------------------------------------------------------------------

def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def mounts_under(root: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p.startswith(root.rstrip("/") + "/")]


def cgroups_of(cids: set[str]) -> list[str]:
    bases = ["/sys/fs/cgroup", *(f"/sys/fs/cgroup/{c}" for c in os.listdir("/sys/fs/cgroup"))]
    return [os.path.join(b, "dockyard", cid) for b in bases for cid in cids
            if os.path.isdir(os.path.join(b, "dockyard", cid))]


def monitors_of(root: str) -> list[int]:
    """dockyard-shim processes whose arguments point into this daemon's data root."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if argv and argv[0].endswith("dockyard-shim") and any(a.startswith(root) for a in argv):
            found.append(int(entry))
    return found


def settle(check: Callable[[], Any]) -> Any:
    """Poll until `check()` is falsy (clean-up is partly asynchronous); return its last value."""
    deadline = time.monotonic() + SETTLE
    while (value := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def test_load_and_soak(own_daemon: Daemon) -> None:
    daemon = own_daemon
    assert daemon.proc is not None
    pid = daemon.proc.pid
    api = docker.APIClient(base_url=daemon.host, version="1.45", timeout=60)
    try:
        warm = Pool()
        drive(daemon, warm, WARMUP_OPS // CLIENTS, seed=1000)
        assert not warm.failures, "\n".join(sorted(set(warm.failures))) + daemon.logs()
        account(api, warm)
        remove_all(api)
        api.close()
        settle(lambda: monitors_of(daemon.root) or mounts_under(daemon.root))
        time.sleep(1)
        base_fds, base_rss = fd_count(pid), rss_kb(pid)

        pool = Pool()
        took = drive(daemon, pool, MAIN_OPS // CLIENTS, seed=2000)
        ops = sum(pool.counts.values())
        print(f"\nsoak: {ops} ops from {CLIENTS} clients in {took:.1f}s; "
              f"{len(pool.kind)} containers, {len(pool.exec_ids)} execs, {pool.checks} store "
              f"checks; "
              f"{dict(sorted(pool.counts.items()))}")
        assert ops >= 1000 and pool.checks >= 5
        assert not pool.failures, "\n".join(sorted(set(pool.failures))) + daemon.logs()
        assert daemon.proc.poll() is None, "the daemon died"
        account(api, pool)
        remove_all(api)

        every = set(warm.kind) | set(pool.kind)
        assert settle(lambda: mounts_under(daemon.root)) == []
        assert settle(lambda: cgroups_of(every)) == []
        assert settle(lambda: monitors_of(daemon.root)) == []
        for directory in ("containers", "overlay/containers"):   # records and writable layers
            assert os.listdir(os.path.join(daemon.root, directory)) == [], directory
        for exec_id in (warm.exec_ids + pool.exec_ids)[::7]:   # exec records went with them
            with pytest.raises(docker.errors.NotFound):
                api.exec_inspect(exec_id)
        api.close()
        settle(lambda: fd_count(pid) > base_fds + FD_SLACK)   # clients' connections close
        fds, rss = fd_count(pid), rss_kb(pid)
        print(f"soak: fds {base_fds} -> {fds}, RSS {base_rss} kB -> {rss} kB")
        assert fds <= base_fds + FD_SLACK, (base_fds, fds, os.listdir(f"/proc/{pid}/fd"))
        assert rss <= base_rss + RSS_SLACK_KB, (base_rss, rss)
        with open(daemon.log_file) as f:
            problems = [line for line in f if " ERROR " in line or " WARNING " in line]
        assert problems == [], problems[:10]
    finally:
        api.close()
