"""Wires the engine services together for one daemon instance."""
from __future__ import annotations

import os
import platform
import shutil
from typing import Any

from .. import __version__
from ..distribution.service import Distribution
from ..engine.containers import ContainerService
from ..engine.events import Events
from ..engine.images import ImageService
from ..engine.timeutil import rfc3339nano
from ..runtime import get_runtime
from .config import DaemonConfig


class Engine:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        root = config.data_root
        os.makedirs(root, mode=0o711, exist_ok=True)
        self.events = Events()
        self.images = ImageService(root, self.events)
        state_root = os.path.join(root, "runtimes")
        runtimes = {"dockyard": get_runtime("dockyard", state_root)}
        if shutil.which("runc"):
            runtimes["runc"] = get_runtime("runc", state_root)
        self.containers = ContainerService(root, self.images, self.events, runtimes)
        self.images.containers_using = self.containers.using_image
        self.distribution = Distribution(self.images, root, config.raw)

    async def start(self) -> None:
        await self.containers.restore()

    async def stop(self) -> None:
        await self.containers.shutdown()

    def info(self) -> dict[str, Any]:
        containers = self.containers.containers.values()
        running = sum(1 for c in containers if c.running)
        paused = sum(1 for c in containers if c.state.get("Paused"))
        uname = os.uname()
        mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        cgroup_version = "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"
        return {
            "ID": "", "Containers": len(self.containers.containers),
            "ContainersRunning": running, "ContainersPaused": paused,
            "ContainersStopped": len(self.containers.containers) - running - paused,
            "Images": len(self.images.list(all=False)), "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"]],
            "Plugins": {"Volume": ["local"], "Network": ["host", "null"],
                        "Log": ["json-file", "local", "none"]},
            "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
            "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
            "Debug": self.config.debug, "NFd": len(os.listdir("/proc/self/fd")),
            "NGoroutines": 0, "SystemTime": rfc3339nano(), "LoggingDriver": "json-file",
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
            "SecurityOptions": ["name=cgroupns"] if cgroup_version == "2" else [],
            "Warnings": [], "ProductLicense": f"dockyard (python {platform.python_version()})",
        }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"
