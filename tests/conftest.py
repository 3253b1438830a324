"""Fixtures: real dockyardd daemons on private sockets and data roots, a busybox image made
from Debian's busybox-static, and clean-up of everything the tests leave in the kernel."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterator

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUSYBOX = "/bin/busybox"


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: dockyard tests need root (namespaces, mounts, cgroups)")


class Daemon:
    """One dockyardd with its own socket, data root, pid file and config file."""

    def __init__(self, base: str, sock: str | None = None) -> None:
        self.base = base
        self.root = os.path.join(base, "root")
        self.sock = sock or os.path.join(base, "d.sock")
        self.host = f"unix://{self.sock}"
        self.config_file = os.path.join(base, "daemon.json")
        self.log_file = os.path.join(base, "daemon.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.program = [sys.executable, "-m", "dockyard.daemon"]   # a test may wrap it
        if not os.path.exists(self.config_file):
            self.write_config({})

    @property
    def suffix(self) -> str:
        """Names this daemon's kernel objects (its bridge, its nftables table) so that
        concurrent test daemons never share one."""
        return "".join(c for c in os.path.basename(self.base) if c.isalnum())[-8:].lower()

    def write_config(self, config: dict[str, Any]) -> None:
        """daemon.json: the test's settings over this daemon's own bridge and table."""
        with open(self.config_file, "w") as f:
            json.dump({"bridge": f"dyb{self.suffix}", "nftables-table": f"dy_{self.suffix}",
                       **config}, f)

    def start(self) -> None:
        log = open(self.log_file, "ab")
        self.proc = subprocess.Popen(
            [*self.program, "-H", self.host, "--data-root",
             self.root, "--pidfile", os.path.join(self.base, "d.pid"), "--config-file",
             self.config_file], stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockyardd exited:\n{self.logs()}")
            if os.path.exists(self.sock) and self.cli("version").returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"dockyardd did not come up:\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def logs(self) -> str:
        try:
            with open(self.log_file) as f:
                return f.read()[-5000:]
        except OSError:
            return ""

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKYARD_HOST": self.host}

    def cli(self, *args: str, input: bytes | None = None, timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dockyard.cli", *args], env=self.env(),
                              capture_output=True, text=True, timeout=timeout,
                              input=input.decode() if input else None)

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], env={**self.env(), "DOCKER_CONFIG":
                                                      os.path.join(self.base, "dockercfg")},
                              capture_output=True, text=True, timeout=timeout)

    def ok(self, *args: str, timeout: float = 60) -> str:
        result = self.cli(*args, timeout=timeout)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def container_ids(self) -> list[str]:
        out = self.cli("ps", "-aq", "--no-trunc")
        return out.stdout.split() if out.returncode == 0 else []

    def cleanup(self) -> None:
        """Remove every container, stop the daemon, and undo whatever is left in the kernel."""
        ids = []
        if self.proc and self.proc.poll() is None:
            ids = self.container_ids()
            for cid in ids:
                self.cli("rm", "-f", cid)
        self.stop()
        containers_dir = os.path.join(self.root, "containers")
        if os.path.isdir(containers_dir):
            ids += os.listdir(containers_dir)
        for cid in set(ids):
            _kill_container_processes(cid)
        _unmount_under(self.base)
        for cid in set(ids):
            _remove_cgroups(cid)
        _remove_empty_parent_cgroups()
        self.remove_network_objects()
        shutil.rmtree(self.base, ignore_errors=True)

    def bridges(self) -> list[str]:
        """The Linux bridges this daemon's networks own (from its records)."""
        import sqlite3
        path = os.path.join(self.root, "metadata.db")
        if not os.path.exists(path):
            return []
        conn = sqlite3.connect(path)
        try:
            return [r[0] for r in conn.execute("SELECT bridge FROM networks WHERE bridge != ''")]
        except sqlite3.Error:
            return []
        finally:
            conn.close()

    def remove_network_objects(self) -> None:
        """Bridges and nftables tables of this daemon only (a daemon keeps its bridges when
        it stops, and a killed one its table)."""
        for bridge in {*self.bridges(), f"dyb{self.suffix}"}:
            subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        for family in ("ip", "bridge"):
            subprocess.run(["nft", "delete", "table", family, f"dy_{self.suffix}"],
                           capture_output=True)


def _unmount_under(path: str) -> None:
    with open("/proc/self/mounts") as f:
        targets = [line.split()[1] for line in f if line.split()[1].startswith(path)]
    for target in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


def _cgroup_dirs(cid: str) -> list[str]:
    found = []
    for base in ("/sys/fs/cgroup", *(f"/sys/fs/cgroup/{c}" for c in os.listdir("/sys/fs/cgroup"))):
        path = os.path.join(base, "dockyard", cid)
        if os.path.isdir(path):
            found.append(path)
    return found


def _kill_container_processes(cid: str) -> None:
    for path in _cgroup_dirs(cid):
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                for pid in f.read().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        except OSError:
            pass


def _remove_cgroups(cid: str) -> None:
    for _ in range(50):
        remaining = _cgroup_dirs(cid)
        if not remaining:
            return
        for path in remaining:
            try:
                os.rmdir(path)
            except OSError:
                pass
        time.sleep(0.05)


def _remove_empty_parent_cgroups() -> None:
    """The shared `dockyard` parent groups go once no container (of any daemon) uses them."""
    for base in ("/sys/fs/cgroup", *(f"/sys/fs/cgroup/{c}" for c in os.listdir("/sys/fs/cgroup"))):
        try:
            os.rmdir(os.path.join(base, "dockyard"))
        except OSError:
            pass


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> str:
    _require_root()
    if not os.path.exists(BUSYBOX):
        pytest.skip("SKIPPED LOUDLY: /bin/busybox missing: apt-get install busybox-static")
    path = str(tmp_path_factory.mktemp("rootfs") / "busybox.tar")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "busybox-rootfs.py"), path],
                   check=True)
    return path


def new_daemon(busybox_tar: str | None) -> Daemon:
    daemon = Daemon(tempfile.mkdtemp(prefix="dy-", dir="/tmp"))
    try:
        daemon.start()
    except BaseException:   # a daemon that died starting may have made its bridge already
        daemon.cleanup()
        raise
    if busybox_tar:
        daemon.ok("import", "-c", 'CMD ["sh"]', busybox_tar, "busybox:latest")
    return daemon


@pytest.fixture(scope="session")
def daemon(busybox_tar: str) -> Iterator[Daemon]:
    """A daemon shared by the tests that don't restart or kill it."""
    d = new_daemon(busybox_tar)
    try:
        yield d
    finally:
        d.cleanup()


@pytest.fixture(scope="module")
def module_daemon(busybox_tar: str) -> Iterator[Daemon]:
    """A daemon for one test module: its state (networks, bridges, rules) stays apart from
    the shared daemon's and goes with the module."""
    d = new_daemon(busybox_tar)
    try:
        yield d
    finally:
        d.cleanup()


@pytest.fixture
def own_daemon(busybox_tar: str) -> Iterator[Daemon]:
    """A daemon of the test's own, for tests that kill or restart it."""
    d = new_daemon(busybox_tar)
    try:
        yield d
    finally:
        d.cleanup()


@pytest.fixture
def docker_client(daemon: Daemon) -> Iterator[Any]:
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=daemon.host, version="1.45", timeout=60)
    try:
        yield client
    finally:
        client.close()


def remove_new_images(daemon: Daemon) -> Iterator[None]:
    """Body of a module fixture for modules that build: the images they make are children
    of the shared daemon's busybox; left behind they would change what later modules' rmi
    rules see ("has dependent child images")."""
    before = set(daemon.ok("images", "-aq", "--no-trunc").split())
    yield
    for _ in range(5):      # newest first: children go before their parents
        left = [i for i in daemon.ok("images", "-aq", "--no-trunc").split() if i not in before]
        if not left:
            break
        for image in left:
            daemon.cli("rmi", "-f", image)
    daemon.cli("builder", "prune", "-af")


def inspect(daemon: Daemon, ref: str) -> dict[str, Any]:
    return json.loads(daemon.ok("inspect", ref))[0]


def wait_for(predicate: Any, timeout: float = 15.0, what: str = "condition") -> None:
    """Poll until `predicate()` is true: tests wait for a state, never for a fixed time."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.05)


# A shell that has installed its traps and says so: run it with TRAPPED.format(code=, sig=)
# and wait_trapped() before signalling, so the signal never beats the `trap` builtin.
TRAPPED = "trap 'exit {code}' {sig}; touch /trapped; while true; do sleep 0.1; done"


def wait_trapped(daemon: Daemon, name: str) -> None:
    wait_for(lambda: daemon.cli("exec", name, "test", "-e", "/trapped").returncode == 0,
             what=f"{name}'s trap")


@pytest.fixture(scope="session")
def registry() -> Iterator[Any]:
    """An anonymous registry on 127.0.0.1 shared by the tests (see tests/registry.py)."""
    from registry import Registry
    reg = Registry().start()
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A registry behind the tests' token server (tests/tokenserver.py), per test module:
    (TokenServer, Registry)."""
    from registry import Registry
    from tokenserver import TokenServer
    server = TokenServer(str(tmp_path_factory.mktemp("tokens"))).start()
    reg = Registry(auth=server.registry_auth())
    try:
        reg.start()
        yield server, reg
    finally:
        reg.stop()
        server.stop()


@pytest.fixture(scope="module")
def basic_registry() -> Iterator[Any]:
    """A registry with htpasswd basic auth (alice / s3cret), per test module."""
    from registry import Registry
    reg = Registry(users={"alice": "s3cret"}).start()
    try:
        yield reg
    finally:
        reg.stop()
