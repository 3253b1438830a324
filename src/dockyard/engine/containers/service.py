"""The container service: Docker's lifecycle rules. The lookup, signals, stop, wait, remove
and rename live here; the longer jobs have a module each and are methods of the service
too: creating.py (create), starting.py (start, the start pipeline), exits.py (exit and
restart policy), listing.py (ps and its filters), restore.py (daemon start-up, shutdown)."""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import signal
from typing import Any, Coroutine

from ...errors import Conflict, DockyardError, InvalidParameter, no_such_container
from ...filters import check_keys, match_kv
from ...store.container_records import ContainerRecords
from ...store.db import Database
from ...timeutil import parse_rfc3339, parse_timestamp
from . import creating, exits, listing, names, options, starting
from . import restore as restore_mod
from .execs import ExecManager
from .inflight import InFlight
from ..images.layers import WritableLayers
from ..networks.etc_files import DnsSettings
from ..networks.links import parse as parse_links
from .model import Container
from .table import ContainerTable

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT = 10
PRUNE_FILTERS = {"until", "label", "label!"}
KILL_WAIT = 10  # seconds a SIGKILL kill waits for the exit, as dockerd


class ContainerService:
    def __init__(self, data_root: str, images: Any, layers: WritableLayers, events: Any,
                 runtimes: dict[str, Any],
                 table: ContainerTable | None = None,
                 default_log_config: dict[str, Any] | None = None,
                 dns_settings: DnsSettings | None = None, *, db: Database,
                 volumes: Any = None, networks: Any = None):
        self.root = os.path.join(data_root, "containers")
        os.makedirs(self.root, mode=0o710, exist_ok=True)
        self.records = ContainerRecords(db, self.root)
        self.images = images
        self.layers = layers
        self.events = events
        self.runtimes = runtimes
        self.containers = ContainerTable() if table is None else table
        self.in_flight = InFlight()   # containers being created or removed
        self.name_index: dict[str, str] = {}
        self.execs = ExecManager(self)
        self.default_log_config = default_log_config or {"Type": "json-file", "Config": {}}
        self.dns_settings = dns_settings or DnsSettings()
        self.volumes = volumes          # engine/volumes/service.VolumeService
        self.networks = networks   # engine/networks' NetworkService

    create = creating.create
    on_exit = exits.on_exit
    start = starting.start
    list = listing.list_containers
    restore = restore_mod.restore
    shutdown = restore_mod.shutdown

    # --- lookup -----------------------------------------------------------------------------------
    def get(self, ref: str) -> Container:
        """By full ID, name (with or without '/'), or unique ID prefix — Docker's order."""
        if ref in self.containers:
            return self.containers[ref]
        cid = self.name_index.get(ref.lstrip("/"))
        if cid:
            return self.containers[cid]
        if ref:
            matches = [c for i, c in self.containers.items() if i.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        raise no_such_container(ref)

    def emit(self, container: Container, action: str, **extra: str) -> None:
        attributes = {"image": container.config.get("Image", ""), "name": container.name}
        attributes.update(container.config.get("Labels") or {})
        attributes.update(extra)
        self.events.emit("container", action, container.id, attributes)

    # --- stop / kill ------------------------------------------------------------------------------
    async def _settled(self, ref: str) -> Container:
        """The container once no start or rm of it is in flight: a signal sent while a
        start's init is still blocked before exec kills it under that start, whose
        runtime.start then fails (a 500); as dockerd, whose start holds the container."""
        container = self.get(ref)
        async with container.lifecycle:
            pass
        if container.id not in self.containers:
            raise no_such_container(ref)
        return container

    async def kill(self, ref: str, sig: str | int | None = None) -> None:
        container = await self._settled(ref)
        number = options.parse_signal(sig)
        if container.restart_task is not None:
            starting.cancel_restart(container)
            container.record["HasBeenManuallyStopped"] = True
            container.save()
        if not container.running:
            raise Conflict(f"Cannot kill container: {ref}: Container {container.id} is not "
                           "running")
        container.record["HasBeenManuallyStopped"] = True
        if not await self.send_signal(container, number):
            raise Conflict(f"Cannot kill container: {ref}: Container {container.id} is not "
                           "running")
        self.emit(container, "kill", signal=str(number))
        if number == signal.SIGKILL:  # dockerd: SIGKILL (the default) waits for the exit
            try:
                await asyncio.wait_for(container.exit_event.wait(), KILL_WAIT)
            except asyncio.TimeoutError:
                pass

    async def send_signal(self, container: Container, number: int) -> bool:
        """Signal the container's process through its monitor, which holds a pidfd of it: a
        signal can reach nothing else, even once the pid is reused. False when the monitor
        is gone: the container is gone with it (its exit is being recorded)."""
        answer = await container.shim.signal(number)
        if answer is None:
            return False
        if answer not in (0, errno.ESRCH):  # ESRCH: it has just exited, the exit follows
            raise DockyardError(f"Cannot kill container {container.id}: "
                                f"{os.strerror(answer)}")
        if container.state["Paused"]:  # frozen tasks act on signals only once thawed
            runtime = self.runtimes[container.host_config["Runtime"]]
            runtime.pause(container.id, starting.load_spec(container.bundle), False)
            container.state.update(Paused=False, Status="running")
        return True

    async def stop(self, ref: str, timeout: int | None = None,
                   sig: str | None = None) -> bool:
        """Docker's stop: StopSignal, then SIGKILL after the timeout. False if not running."""
        container = await self._settled(ref)
        container.record["HasBeenManuallyStopped"] = True
        if container.restart_task is not None:
            starting.cancel_restart(container)
            container.save()
            return True
        if not container.running:
            container.save()
            return False
        if timeout is None:
            timeout = container.config.get("StopTimeout")
            timeout = DEFAULT_STOP_TIMEOUT if timeout is None else timeout
        number = options.parse_signal(sig or container.config.get("StopSignal"),
                                      signal.SIGTERM)
        if await self.send_signal(container, number):
            self.emit(container, "kill", signal=str(number))
        if timeout < 0:
            await container.exit_event.wait()
        else:
            try:
                await asyncio.wait_for(container.exit_event.wait(), timeout)
            except asyncio.TimeoutError:
                if container.running and await self.send_signal(container, signal.SIGKILL):
                    self.emit(container, "kill", signal=str(int(signal.SIGKILL)))
                await container.exit_event.wait()
        self.emit(container, "stop")
        return True

    async def restart(self, ref: str, timeout: int | None = None) -> None:
        container = self.get(ref)
        await self.stop(container.id, timeout)
        await self.start(container.id)
        self.emit(container, "restart")

    # --- wait / remove / rename -------------------------------------------------------------------
    def wait(self, ref: str, condition: str = "not-running"
             ) -> Coroutine[Any, Any, dict[str, Any]]:
        """Finds the container now, so a 404 precedes the answer's headers and an rm racing
        the request cannot break the stream later; the coroutine ends when `condition`
        holds."""
        return self._wait(self.get(ref), condition)

    async def _wait(self, container: Container, condition: str) -> dict[str, Any]:
        if condition not in ("not-running", "next-exit", "removed", ""):
            raise InvalidParameter(f"invalid condition: {condition}")
        if condition == "removed":
            await container.removed_event.wait()
        elif condition == "next-exit" or container.running or container.starting:
            await self._next_exit(container)
        else:
            await container.exit_event.wait()
        return {"StatusCode": container.state["ExitCode"], "Error": None}

    async def _next_exit(self, container: Container) -> None:
        future = asyncio.get_running_loop().create_future()
        container.exit_waiters.append(future)
        await future

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """Waits for a start in progress (whose files and mounts it would pull away), then
        removes; a second remove that waited finds the container gone (404). `volumes`
        (rm -v, --rm) removes its anonymous volumes too."""
        container = self.get(ref)
        async with container.lifecycle:
            if container.id not in self.containers:
                raise no_such_container(ref)
            await self.remove_locked(container, force, volumes)

    async def remove_link(self, ref: str) -> None:
        """`rm --link <parent>/<alias>`: drop the parent's legacy link; as in dockerd, its
        environment and /etc/hosts line stay until the parent's next start."""
        parent_ref, _, alias = ref.strip("/").rpartition("/")
        if not parent_ref:
            self.get(ref)   # Docker's "No such container" first
            raise Conflict("Conflict, cannot remove the default link name of the container")
        try:
            parent = self.get(parent_ref)
        except DockyardError:
            raise no_such_container(ref) from None
        async with parent.lifecycle:
            kept = [link for link in parent.host_config.get("Links") or []
                    if parse_links([link])[0][1] != alias]
            if len(kept) == len(parent.host_config.get("Links") or []):
                raise no_such_container(ref)
            parent.host_config["Links"] = kept or None
            parent.save()

    async def remove_locked(self, container: Container, force: bool,
                            volumes: bool = False) -> None:
        if container.restart_task is not None:
            if not force:
                raise Conflict(f"cannot remove container \"/{container.name}\": container is "
                               "restarting: stop the container before removing or force "
                               "remove")
            starting.cancel_restart(container)
        if container.running:
            container.record["HasBeenManuallyStopped"] = True
            if not force:
                raise Conflict(f"cannot remove container \"/{container.name}\": container is "
                               "running: stop the container before removing or force remove")
            await self.send_signal(container, signal.SIGKILL)
            await container.exit_event.wait()
        container.state["Status"] = "removing"
        await self.destroy(container, volumes)

    async def destroy(self, container: Container, volumes: bool = False) -> None:
        """Unmount, delete the record (the commit point), then the volume references, the
        writable layer and the directory: a crash after the record is gone leaves only
        unnamed files and references of no container, which restore() removes; a crash
        before it leaves the container as it was."""
        self.in_flight.add(container.id)
        try:
            starting.unmount(container)
            await asyncio.wrap_future(container.drop_record())
            if self.volumes is not None:
                await asyncio.to_thread(self.volumes.release, container.id, volumes)
            self.layers.remove(container.id)
            await asyncio.to_thread(shutil.rmtree, container.dir, True)
        finally:
            self.in_flight.discard(container.id)
        self.containers.pop(container.id, None)
        self.name_index.pop(container.name, None)
        self.execs.drop_container(container.id)
        container.removed_event.set()
        container.wake_exit_waiters()
        self.emit(container, "destroy")

    async def rename(self, ref: str, new_name: str) -> None:
        container = self.get(ref)
        new_name = names.validate(new_name)
        if new_name == container.name:
            raise InvalidParameter("Renaming a container with the same name as its current "
                                   "name")
        if new_name in self.name_index:
            raise Conflict(f'Conflict. The container name "/{new_name}" is already in use by '
                           f'container "{self.name_index[new_name]}". You have to remove (or '
                           "rename) that container to be able to reuse that name.")
        old = container.name
        self.name_index.pop(old, None)
        self.name_index[new_name] = container.id
        container.record["Name"] = "/" + new_name
        container.save()
        await self.networks.renamed(container)
        self.emit(container, "rename", oldName="/" + old)

    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        filters = check_keys(filters, PRUNE_FILTERS)
        until = filters.get("until")
        deleted = []
        reclaimed = 0
        for container in list(self.containers.values()):
            labels = container.config.get("Labels") or {}
            if container.running or not match_kv(filters.get("label", []), labels):
                continue
            if filters.get("label!") and match_kv(filters["label!"], labels):
                continue
            if until and parse_rfc3339(container.record["Created"]) >= parse_timestamp(until[0]):
                continue
            reclaimed += await asyncio.to_thread(self.layers.usage, container.id,
                                                 container.record["Image"])
            await self.remove(container.id)
            deleted.append(container.id)
        self.events.emit("container", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ContainersDeleted": deleted, "SpaceReclaimed": reclaimed}

    def inspect(self, ref: str) -> dict[str, Any]:
        return self.get(ref).record

    # --- attach support ---------------------------------------------------------------------------
    def resize(self, ref: str, rows: int, cols: int) -> None:
        container = self.get(ref)
        if not container.running:
            raise Conflict(f"Container {container.id} is not running")
        if container.config.get("Tty"):
            container.shim.resize(rows, cols)

    def subscribe(self, container: Container) -> asyncio.Queue[tuple[int, bytes] | None]:
        queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        container.subscribers.add(queue)
        return queue


