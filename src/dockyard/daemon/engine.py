"""Wires the engine services together for one daemon instance."""
from __future__ import annotations

import asyncio
import os
import platform
import shutil
from typing import Any

from .. import __version__
from ..distribution.service import Distribution
from ..engine.build.service import BuildService
from ..engine.containers import ContainerService
from ..engine.containers.logconfig import validate as validate_log_config
from ..engine.containers.table import ContainerTable
from ..engine.events import Events
from ..engine.images import ImageService
from ..engine.volumes import plugins
from ..engine.volumes.service import VolumeService
from ..engine.networks.dns import Resolver
from ..engine.networks.dnshook import DnsHook
from ..engine.networks.etc_files import DnsSettings
from ..engine.networks.service import NetworkService
from ..errors import InvalidParameter
from ..linux import cgroupfs
from ..runtime import get_runtime
from ..store import container_records as container_rows, metadata as image_rows
from ..store.db import FILENAME as DB_FILENAME, Database
from ..timeutil import rfc3339nano
from .config import DaemonConfig


class Engine:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        root = config.data_root
        os.makedirs(root, mode=0o711, exist_ok=True)
        self.db = Database(os.path.join(root, DB_FILENAME))
        with self.db.transaction():     # a JSON-layout data root is imported all at once
            image_rows.migrate(self.db, root)
            container_rows.migrate(self.db, os.path.join(root, "containers"))
        self.events = Events()
        try:
            log_config = validate_log_config(
                {"Type": config.raw.get("log-driver") or "json-file",
                 "Config": config.raw.get("log-opts") or {}})
        except InvalidParameter as exc:
            raise SystemExit(f"failed to set log opts: {exc.message}") from None
        table = ContainerTable()
        self.images = ImageService(root, self.events, containers_using=table.using_image,
                                   db=self.db)
        state_root = os.path.join(root, "runtimes")
        runtimes = {"dockyard": get_runtime("dockyard", state_root)}
        if shutil.which("runc"):
            runtimes["runc"] = get_runtime("runc", state_root)
        plugin_dirs = config.raw.get("plugin-dirs")       # dockyard's own key, for tests
        self.volumes = VolumeService(self.db, root, self.events, plugins.Registry(
            plugin_dirs if isinstance(plugin_dirs, list) else plugins.DEFAULT_DIRS))
        dns_settings = DnsSettings(tuple(config.dns), tuple(config.dns_search),
                                   tuple(config.dns_opts), tuple(config.host_gateway_ips))
        self.networks = NetworkService(self.db, self.events, config.raw)
        self.containers = ContainerService(root, self.images, self.images.layers,
                                           self.events, runtimes, table, log_config,
                                           dns_settings, db=self.db, volumes=self.volumes,
                                           networks=self.networks)
        self.networks.container_lookup = self.containers.get
        self.networks.dns_settings = dns_settings
        self.dns_resolver = Resolver()   # attach/detach per container: engine/networks/dns.py
        self.networks.endpoint_hooks.append(DnsHook(self.dns_resolver, self.networks))
        self.distribution = Distribution(self.images, self.images.content,
                                         self.images.snapshots, root, config.raw)
        self.build = BuildService(root, self.db, self.images, self.containers,
                                  self.distribution)

    async def start(self) -> None:
        self.events.bind(asyncio.get_running_loop())
        await self.networks.start()
        await self.containers.restore()
        containers = self.containers.containers
        await asyncio.to_thread(self.volumes.reconcile, set(containers),
                                {cid for cid, c in containers.items() if c.running})
        await self.networks.restored(self._running())

    async def stop(self) -> None:
        await self.containers.shutdown()
        await self.networks.shutdown(self._running())
        await self.dns_resolver.close()
        self.db.close()

    def _running(self) -> list[Any]:
        return [c for c in self.containers.containers.values() if c.running]

    async def check(self) -> list[dict[str, str]]:
        """The store's consistency findings (GET /dockyard/check); containers created or
        removed while the check runs are left out."""
        with self.containers.in_flight.watch() as busy:
            mounts = {cid: list(c.record.get("Mounts") or [])
                      for cid, c in self.containers.containers.items()}
            findings = await asyncio.to_thread(self.images.check, busy)
            findings += await asyncio.to_thread(self.volumes.check, mounts, busy)
        return [finding.to_json() for finding in findings]

    def disk_usage(self) -> dict[str, Any]:
        """GET /system/df: images with how many containers use each, containers with the
        size of their writable layer. Blocks (walks the upper dirs)."""
        images = self.images.list(all=True)
        used_by: dict[str, int] = {}
        containers = []
        for summary in self.containers.list(all_=True):
            used_by[summary["ImageID"]] = used_by.get(summary["ImageID"], 0) + 1
            size_rw = self.images.layers.usage(summary["Id"], summary["ImageID"])
            image_size = next((i["Size"] for i in images if i["Id"] == summary["ImageID"]), 0)
            containers.append({**summary, "SizeRw": size_rw, "SizeRootFs": size_rw + image_size})
        for image in images:
            image["Containers"] = used_by.get(image["Id"], 0)
            image["SharedSize"] = 0
        return {"LayersSize": sum(i["Size"] for i in images), "Images": images,
                "Containers": containers, "Volumes": self.volumes.usage(), "BuildCache": []}

    def info(self) -> dict[str, Any]:
        containers = self.containers.containers.values()
        paused = sum(1 for c in containers if c.running and c.state.get("Paused"))
        running = sum(1 for c in containers if c.running) - paused
        uname = os.uname()
        mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        cgroup_version = "2" if cgroupfs.unified() else "1"
        return {
            "ID": self._engine_id(), "Containers": len(self.containers.containers),
            "ContainersRunning": running, "ContainersPaused": paused,
            "ContainersStopped": len(self.containers.containers) - running - paused,
            "Images": len(self.images.list(all=True)), "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", _backing_fs(self.config.data_root)],
                             ["Supports d_type", "true"], ["Using metacopy", "false"],
                             ["Native Overlay Diff", "true"], ["userxattr", "false"]],
            "Plugins": {"Volume": ["local", *self.volumes.plugins.active()],
                        "Network": ["bridge", "host", "null"],
                        "Log": ["json-file", "local", "none"]},
            "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
            "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
            "Debug": self.config.debug, "NFd": len(os.listdir("/proc/self/fd")),
            "NGoroutines": 0, "SystemTime": rfc3339nano(),
            "LoggingDriver": self.containers.default_log_config["Type"],
            "CgroupDriver": "cgroupfs", "CgroupVersion": cgroup_version,
            "NEventsListener": 0, "KernelVersion": uname.release,
            "OperatingSystem": _os_name(), "OSVersion": "", "OSType": "linux",
            "Architecture": uname.machine, "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": self.distribution.registry_config(),
            "NCPU": os.cpu_count() or 1, "MemTotal": mem_total, "DockerRootDir": self.config.data_root,
            "HttpProxy": "", "HttpsProxy": "", "NoProxy": "", "Name": uname.nodename,
            "Labels": [], "ExperimentalBuild": False, "ServerVersion": __version__,
            "Runtimes": {name: {"path": name} for name in self.containers.runtimes},
            "DefaultRuntime": self.config.default_runtime, "Swarm": {
                "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                "ControlAvailable": False, "Error": "", "RemoteManagers": None},
            "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "",
            "SecurityOptions": ["name=seccomp,profile=builtin",
                                *(["name=cgroupns"] if cgroup_version == "2" else [])],
            "Warnings": [], "ProductLicense": f"dockyard (python {platform.python_version()})",
        }


    def _engine_id(self) -> str:
        """A stable ID for this daemon (dockerd keeps one in <data-root>/engine-id)."""
        path = os.path.join(self.config.data_root, "engine-id")
        try:
            with open(path) as f:
                return f.read().strip()
        except FileNotFoundError:
            import uuid
            from ..linux import atomic
            engine_id = str(uuid.uuid4())
            atomic.write_bytes(path, engine_id.encode())
            return engine_id


# statfs magic names as dockerd reports them, keyed by /proc/mounts types
_FS_NAMES = {"ext2": "extfs", "ext3": "extfs", "ext4": "extfs", "xfs": "xfs",
             "btrfs": "btrfs", "tmpfs": "tmpfs", "overlay": "overlayfs", "zfs": "zfs"}


def _backing_fs(path: str) -> str:
    """The filesystem type of the mount holding `path` (longest matching mount point)."""
    best, kind = "", "<unknown>"
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                fields = line.split()
                point = fields[1].replace("\\040", " ")
                if (path == point or path.startswith(point.rstrip("/") + "/")) and \
                        len(point) >= len(best):
                    best, kind = point, fields[2]
    except OSError:
        pass
    return _FS_NAMES.get(kind, kind)


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"
