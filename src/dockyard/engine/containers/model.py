"""The container record: Docker's container JSON, persisted as a row of the metadata
database (store/container_records.py).

The record is the single source of truth for inspect and ps; runtime-only state (the monitor
connection, waiters, attached clients) lives on the Container object next to it.
"""
from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import Future
from typing import Any

from ...store.container_records import ContainerRecords
from ...units import human_duration
from ...timeutil import ZERO_TIME, parse_rfc3339, rfc3339nano
from ..networks.ports import ports_list
from .monitor import ShimLink

DEFAULT_HOST_CONFIG: dict[str, Any] = {
    "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "default", "PortBindings": {}, "RestartPolicy": {"Name": "no",
                                                                  "MaximumRetryCount": 0},
    "AutoRemove": False, "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0],
    "CapAdd": None, "CapDrop": None, "CgroupnsMode": "host", "Dns": [], "DnsOptions": [],
    "DnsSearch": [], "ExtraHosts": None, "GroupAdd": None, "IpcMode": "private", "Cgroup": "",
    "Links": None, "OomScoreAdj": 0, "PidMode": "", "Privileged": False,
    "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "",
    "UsernsMode": "", "ShmSize": 67108864, "Runtime": "dockyard", "Isolation": "",
    "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
    "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
    "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0,
    "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
    "Devices": [], "DeviceCgroupRules": None, "DeviceRequests": None,
    "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": None, "OomKillDisable": None,
    "PidsLimit": None, "Ulimits": None, "CpuCount": 0, "CpuPercent": 0,
    "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": None, "ReadonlyPaths": None,
    "Sysctls": None, "Tmpfs": None, "Mounts": None, "Init": None,
}


def fresh_state() -> dict[str, Any]:
    return {"Status": "created", "Running": False, "Paused": False, "Restarting": False,
            "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
            "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME}


class Container:
    """A container record plus the daemon's live bookkeeping for it."""

    def __init__(self, record: dict[str, Any], directory: str,
                 records: ContainerRecords) -> None:
        self.record = record
        self.dir = directory
        self.records = records
        self.control: Any = None                  # monitor connection task
        self.shim = ShimLink()                    # stdin, resizes, signals to the monitor
        self.subscribers: set[asyncio.Queue[tuple[int, bytes] | None]] = set()
        self.exit_event = asyncio.Event()          # set whenever the container is not running
        self.removed_event = asyncio.Event()
        self.exit_waiters: list[asyncio.Future[None]] = []   # wait?condition=next-exit
        self.starting = False
        self.lifecycle = asyncio.Lock()             # start and remove run one at a time
        self.restart_task: asyncio.Future[None] | None = None   # a policy restart pending
        self.restart_delay = 0.0
        self.health_task: asyncio.Future[None] | None = None
        self.dropped = False                       # record deleted: a removal is under way
        if not self.state["Running"]:
            self.exit_event.set()

    # --- identity -----------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.record["Id"]

    @property
    def name(self) -> str:
        return self.record["Name"].lstrip("/")

    @property
    def state(self) -> dict[str, Any]:
        return self.record["State"]

    @property
    def config(self) -> dict[str, Any]:
        return self.record["Config"]

    @property
    def host_config(self) -> dict[str, Any]:
        return self.record["HostConfig"]

    @property
    def running(self) -> bool:
        return bool(self.state["Running"])

    # --- paths ----------------------------------------------------------------------------------
    @property
    def bundle(self) -> str:
        return os.path.join(self.dir, "bundle")

    @property
    def rootfs(self) -> str:
        return os.path.join(self.dir, "bundle", "rootfs")

    @property
    def exit_file(self) -> str:
        return os.path.join(self.dir, "exit.json")

    def save(self) -> Future[None]:
        """Queue the record's write (never blocks the event loop); await the result with
        asyncio.wrap_future where the answer must wait until the row is durable."""
        if self.dropped:
            done: Future[None] = Future()
            done.set_result(None)
            return done
        return self.records.save(self.record)

    def drop_record(self) -> Future[None]:
        """The commit point of a removal: with the row gone, what is left of the container
        is named by nothing and goes at the next start; no later save brings the record
        back. Await the result before removing its files."""
        self.dropped = True
        return self.records.delete(self.id)

    # --- state transitions ------------------------------------------------------------------------
    def mark_running(self, pid: int) -> None:
        self.state.update(Status="running", Running=True, Paused=False, Restarting=False,
                          Pid=pid, ExitCode=0, Error="", StartedAt=rfc3339nano(),
                          FinishedAt=ZERO_TIME, OOMKilled=False, Dead=False)
        self.exit_event.clear()

    def mark_exited(self, code: int, finished_ns: int | None = None, error: str = "") -> None:
        self.state.update(Status="exited", Running=False, Paused=False, Restarting=False,
                          Pid=0, ExitCode=code, Error=error, FinishedAt=rfc3339nano(finished_ns))
        self.exit_event.set()

    def wake_exit_waiters(self) -> None:
        waiters, self.exit_waiters = self.exit_waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)

    # --- views ------------------------------------------------------------------------------------
    def command(self) -> str:
        return " ".join([self.record["Path"], *self.record["Args"]]).strip()

    def status_text(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        state = self.state
        if state["Running"]:
            up = f"Up {human_duration(now - parse_rfc3339(state['StartedAt']))}"
            if state["Paused"]:
                return f"{up} (Paused)"
            status = (state.get("Health") or {}).get("Status")
            if status == "starting":
                return f"{up} (health: starting)"
            return f"{up} ({status})" if status else up
        if state["Status"] == "removing":
            return "Removal In Progress"
        if state["Restarting"]:
            ago = human_duration(now - parse_rfc3339(state["FinishedAt"]))
            return f"Restarting ({state['ExitCode']}) {ago} ago"
        if state["Status"] == "dead":
            return "Dead"
        if state["StartedAt"] == ZERO_TIME or state["FinishedAt"] == ZERO_TIME:
            return "Created"
        ago = human_duration(now - parse_rfc3339(state["FinishedAt"]))
        return f"Exited ({state['ExitCode']}) {ago} ago"

    def summary(self) -> dict[str, Any]:
        """ContainerSummary, as GET /containers/json returns it."""
        network_mode = self.host_config.get("NetworkMode", "default")
        return {
            "Id": self.id, "Names": [self.record["Name"]], "Image": self.config.get("Image", ""),
            "ImageID": self.record["Image"], "Command": self.command(),
            "Created": int(parse_rfc3339(self.record["Created"])),
            "Ports": ports_list(self.record["NetworkSettings"].get("Ports") or {}),
            "Labels": self.config.get("Labels") or {}, "State": self.state["Status"],
            "Status": self.status_text(), "HostConfig": {"NetworkMode": network_mode},
            "NetworkSettings": {"Networks": self.record["NetworkSettings"]["Networks"]},
            "Mounts": self.record.get("Mounts") or [],
        }
