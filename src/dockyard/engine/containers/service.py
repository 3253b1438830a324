"""The container service: create, start, stop, remove, wait, list — Docker's lifecycle rules."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
from typing import Any

from ...errors import Conflict, DockyardError, InvalidParameter, NotFound, no_such_container
from ...linux import syscalls
from ...linux.fsutil import disk_usage
from ...shim import launcher
from ..timeutil import ZERO_TIME, parse_rfc3339, parse_timestamp, rfc3339nano
from . import health, leftovers, monitor, mounts, names, options, restart
from .execs import ExecManager
from .model import RECORD_FILE, Container, fresh_state

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT = 10
KILL_WAIT = 10  # seconds a SIGKILL kill waits for the exit, as dockerd


class ContainerService:
    def __init__(self, data_root: str, images: Any, events: Any, runtimes: dict[str, Any]):
        self.root = os.path.join(data_root, "containers")
        os.makedirs(self.root, mode=0o710, exist_ok=True)
        self.images = images
        self.events = events
        self.runtimes = runtimes
        self.containers: dict[str, Container] = {}
        # containers being created or removed: their files are in flux (store check skips them)
        self.in_flight: set[str] = set()
        self._names: dict[str, str] = {}
        self.execs = ExecManager(self)
        self.default_log_config: dict[str, Any] = {"Type": "json-file", "Config": {}}

    # --- lookup -----------------------------------------------------------------------------------
    def get(self, ref: str) -> Container:
        """By full ID, name (with or without '/'), or unique ID prefix — Docker's order."""
        if ref in self.containers:
            return self.containers[ref]
        cid = self._names.get(ref.lstrip("/"))
        if cid:
            return self.containers[cid]
        if ref:
            matches = [c for i, c in self.containers.items() if i.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        raise no_such_container(ref)

    def using_image(self, image_id: str) -> list[tuple[str, bool]]:
        return [(c.id, c.running) for c in self.containers.values()
                if c.record["Image"] == image_id]

    def _emit(self, container: Container, action: str, **extra: str) -> None:
        attributes = {"image": container.config.get("Image", ""), "name": container.name}
        attributes.update(container.config.get("Labels") or {})
        attributes.update(extra)
        self.events.emit("container", action, container.id, attributes)

    # --- create -----------------------------------------------------------------------------------
    async def create(self, body: dict[str, Any], name: str | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidParameter("config cannot be empty in order to create a container")
        image_ref = body.get("Image") or ""
        if not image_ref:
            raise InvalidParameter("config cannot be empty in order to create a container")
        if name:
            name = names.validate(name)
            if name in self._names:
                raise Conflict(f'Conflict. The container name "/{name}" is already in use by '
                               f'container "{self._names[name]}". You have to remove (or '
                               "rename) that container to be able to reuse that name.")
        image = self.images.resolve(image_ref)
        host_config = options.normalise_host_config(body.get("HostConfig"),
                                                    set(self.runtimes),
                                                    self.default_log_config)
        from ...oci.spec import validate
        validate(host_config)
        mount_points = mounts.mount_points(host_config)
        host_config["RestartPolicy"] = restart.validate(host_config.get("RestartPolicy"))
        config = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
        config = options.merge_config(config, image.config)
        options.parse_signal(config.get("StopSignal"), signal.SIGTERM)   # Docker's check
        path, args = options.command_of(config)
        cid = secrets.token_hex(32)
        while cid in self.containers or cid[:12].isdigit():
            cid = secrets.token_hex(32)
        name = name or names.generate(set(self._names))
        if not config.get("Hostname"):
            config["Hostname"] = cid[:12] if host_config["NetworkMode"] != "host" \
                else os.uname().nodename
        directory = os.path.join(self.root, cid)
        network = "none" if host_config["NetworkMode"] == "none" else (
            "host" if host_config["NetworkMode"] == "host" else None)
        record: dict[str, Any] = {
            "Id": cid, "Created": rfc3339nano(), "Path": path, "Args": args,
            "State": fresh_state(), "Image": image.id,
            "ResolvConfPath": os.path.join(directory, "resolv.conf"),
            "HostnamePath": os.path.join(directory, "hostname"),
            "HostsPath": os.path.join(directory, "hosts"),
            "LogPath": os.path.join(directory, f"{cid}-json.log")
            if host_config["LogConfig"]["Type"] == "json-file" else "",
            "Name": "/" + name, "RestartCount": 0, "Driver": "overlay2", "Platform": "linux",
            "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "", "ExecIDs": None,
            "HostConfig": host_config, "GraphDriver": {"Name": "overlay2", "Data": {}},
            "Mounts": mount_points, "Config": config,
            "NetworkSettings": {
                "Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {},
                "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
                "Networks": {network: _endpoint(network)} if network else {},
            },
        }
        # The record is written last: a crash before it leaves a directory and a writable
        # layer no record names, which restore() removes.
        self.in_flight.add(cid)
        try:
            os.makedirs(os.path.join(directory, "bundle", "rootfs"), mode=0o710)
            container = Container(record, directory)
            overlay = self.images.prepare_rw(cid, image.id)
            record["GraphDriver"]["Data"] = {
                "LowerDir": ":".join(overlay.lowerdirs), "UpperDir": overlay.upperdir,
                "WorkDir": overlay.workdir, "MergedDir": container.rootfs}
            container.save()
        except BaseException:
            self.images.remove_rw(cid)
            shutil.rmtree(directory, ignore_errors=True)
            raise
        finally:
            self.in_flight.discard(cid)
        self.containers[cid] = container
        self._names[name] = cid
        self._emit(container, "create")
        return {"Id": cid, "Warnings": []}

    # --- start ------------------------------------------------------------------------------------
    async def start(self, ref: str) -> bool:
        """Start; returns False when it was already running (HTTP 304)."""
        container = self.get(ref)
        if container.running or container.starting:
            return False
        if container.state["Status"] == "removing":
            raise Conflict(f"container {container.id} is marked for removal and cannot be "
                           "started")
        self._cancel_restart(container)
        container.record["HasBeenManuallyStopped"] = False
        container.record["RestartCount"] = 0
        container.starting = True
        try:
            await self._start(container)
        finally:
            container.starting = False
        return True

    def _cancel_restart(self, container: Container) -> None:
        if container.restart_task is not None:
            container.restart_task.cancel()
            container.restart_task = None
            container.state.update(Restarting=False, Status="exited")

    async def _start(self, container: Container) -> None:
        from ...oci.spec import build_spec

        hc = container.host_config
        runtime = self.runtimes[hc["Runtime"]]
        mounted = False
        spec: dict[str, Any] = {}
        try:
            overlay = self.images.prepare_rw(container.id, container.record["Image"])
            await asyncio.to_thread(syscalls.mount, "overlay", container.rootfs, "overlay", 0,
                                    overlay.options())
            mounted = True
            self._write_etc_files(container)
            user_mounts = mounts.parse_all(hc)
            await asyncio.to_thread(mounts.prepare_sources, user_mounts)
            await asyncio.to_thread(mounts.make_directories, container.rootfs,
                                    mounts.anonymous_volumes(hc, container.config,
                                                             user_mounts))
            image = self.images.resolve(container.record["Image"])
            spec = build_spec({**container.record, "Id": container.id}, image.config,
                              rootfs=container.rootfs, cgroups_path=f"/dockyard/{container.id}",
                              files={"/etc/hostname": container.record["HostnamePath"],
                                     "/etc/hosts": container.record["HostsPath"],
                                     "/etc/resolv.conf": container.record["ResolvConfPath"]},
                              init_binary=launcher.INIT_BINARY,
                              mounts=[m.oci() for m in user_mounts])
            rows, cols = (list(hc.get("ConsoleSize") or []) + [0, 0])[:2]
            if container.config.get("Tty") and rows and cols:
                spec["process"]["consoleSize"] = {"height": int(rows), "width": int(cols)}
            _write_plain(os.path.join(container.bundle, "config.json"),
                         json.dumps(spec).encode())
            monitor.remove_exit_file(container.exit_file)
            await asyncio.to_thread(runtime.prepare, container.id, container.bundle, spec)
            def create(stdin: int, stdout: int, stderr: int, console: Any) -> int:
                return runtime.create_in_child(container.id, container.bundle, spec, stdin,
                                               stdout, stderr, console)

            launched = await asyncio.to_thread(
                launcher.launch, create, container.id, log=self._log_settings(container),
                exit_file=container.exit_file, stdin=bool(container.config.get("OpenStdin")),
                tty=bool(container.config.get("Tty")))
        except BaseException as exc:
            if mounted:
                self._unmount(container)
            try:
                runtime.delete(container.id, container.bundle, spec)
            except Exception:  # noqa: BLE001 - best effort clean-up of a failed start
                log.exception("runtime clean-up failed")
            if isinstance(exc, launcher.LaunchError):
                container.state.update(ExitCode=exc.exit_code, Error=exc.message)
                container.save()
                await self._after_failed_start(container)
                raise DockyardError(f"failed to create task for container: {exc.message}") \
                    from None
            await self._after_failed_start(container)
            raise
        container.mark_running(launched.pid)
        container.save()
        container.control = asyncio.ensure_future(
            monitor.follow(container.subscribers, container.exit_file, launched.control,
                           lambda code, ns: self._on_exit(container, code, ns),
                           container.shim))
        try:
            await asyncio.to_thread(runtime.start, container.id, container.bundle)
        except Exception as exc:
            # The init never ran the user's command: kill it; the monitor records the exit.
            runtime.kill(container.id, launched.pid, signal.SIGKILL)
            await container.exit_event.wait()
            raise DockyardError(f"failed to start container: {exc}") from None
        container.health_task = health.start(self, container)
        self._emit(container, "start")

    async def _after_failed_start(self, container: Container) -> None:
        """Waiters learn the start failed; an auto-remove container goes away (as in
        Docker, whose CLI waits for that removal)."""
        container.wake_exit_waiters()
        if container.host_config.get("AutoRemove"):
            await self.remove(container.id, force=True)

    def _log_settings(self, container: Container) -> launcher.LogSettings:
        from .logconfig import settings
        return settings(container.record, container.dir)

    def _write_etc_files(self, container: Container) -> None:
        hostname = container.config["Hostname"]
        host_mode = container.host_config["NetworkMode"] == "host"
        _write_plain(container.record["HostnamePath"], f"{hostname}\n".encode())
        if host_mode:
            with open("/etc/hosts", "rb") as f:
                hosts = f.read()
        else:
            hosts = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                     "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                     "ff02::2\tip6-allrouters\n").encode()
        _write_plain(container.record["HostsPath"], hosts)
        try:
            with open("/etc/resolv.conf", "rb") as f:
                resolv = f.read()
        except OSError:
            resolv = b""
        _write_plain(container.record["ResolvConfPath"], resolv)

    def _unmount(self, container: Container) -> None:
        try:
            syscalls.umount(container.rootfs, syscalls.MNT_DETACH)
        except OSError as exc:
            if exc.errno not in (22,):  # EINVAL: not mounted
                log.warning("unmount %s: %s", container.rootfs, exc)

    async def _on_exit(self, container: Container, code: int, finished_ns: int | None) -> None:
        for queue in list(container.subscribers):  # all output is in: end attach streams now
            queue.put_nowait(None)
        if container.health_task is not None:
            container.health_task.cancel()
            container.health_task = None
        runtime = self.runtimes.get(container.host_config["Runtime"])
        self._unmount(container)
        if runtime is not None:
            try:
                await asyncio.to_thread(runtime.delete, container.id, container.bundle,
                                        _load_spec(container.bundle))
            except Exception:  # noqa: BLE001
                log.exception("runtime delete failed for %s", container.id[:12])
        container.mark_exited(code, finished_ns)
        container.control = None
        container.save()
        container.wake_exit_waiters()
        self._emit(container, "die", exitCode=str(code))
        if self._wants_restart(container, code):
            return
        if container.host_config.get("AutoRemove") and container.id in self.containers:
            try:
                await self.remove(container.id, force=True)
            except DockyardError:
                log.exception("auto-remove of %s failed", container.id[:12])

    def _wants_restart(self, container: Container, code: int) -> bool:
        """Schedule a policy restart after back-off; True if one was scheduled."""
        policy = container.host_config.get("RestartPolicy") or {}
        if container.id not in self.containers or not restart.should_restart(
                policy, code, container.record.get("RestartCount", 0),
                container.record.get("HasBeenManuallyStopped", False)):
            return False
        ran_for = parse_rfc3339(container.state["FinishedAt"]) - \
            parse_rfc3339(container.state["StartedAt"])
        container.restart_delay = restart.next_delay(container.restart_delay, ran_for)
        container.state.update(Restarting=True, Status="restarting")
        container.save()
        container.restart_task = asyncio.ensure_future(self._restart_later(container))
        return True

    async def _restart_later(self, container: Container) -> None:
        await asyncio.sleep(container.restart_delay)
        container.restart_task = None
        container.record["RestartCount"] = container.record.get("RestartCount", 0) + 1
        container.state["Restarting"] = False
        try:
            await self._start(container)
        except DockyardError as exc:
            log.warning("restart of %s failed: %s", container.id[:12], exc.message)
            container.state.update(Status="exited")
            container.save()

    # --- stop / kill ------------------------------------------------------------------------------
    async def kill(self, ref: str, sig: str | int | None = None) -> None:
        container = self.get(ref)
        number = options.parse_signal(sig)
        if container.restart_task is not None:
            self._cancel_restart(container)
            container.record["HasBeenManuallyStopped"] = True
            container.save()
        if not container.running:
            raise Conflict(f"Cannot kill container: {ref}: Container {container.id} is not "
                           "running")
        container.record["HasBeenManuallyStopped"] = True
        self._signal(container, number)
        self._emit(container, "kill", signal=str(number))
        if number == signal.SIGKILL:  # dockerd: SIGKILL (the default) waits for the exit
            try:
                await asyncio.wait_for(container.exit_event.wait(), KILL_WAIT)
            except asyncio.TimeoutError:
                pass

    def _signal(self, container: Container, number: int) -> None:
        runtime = self.runtimes[container.host_config["Runtime"]]
        runtime.kill(container.id, container.state["Pid"], number)
        if container.state["Paused"]:  # frozen tasks act on signals only once thawed
            runtime.pause(container.id, _load_spec(container.bundle), False)
            container.state.update(Paused=False, Status="running")

    async def stop(self, ref: str, timeout: int | None = None,
                   sig: str | None = None) -> bool:
        """Docker's stop: StopSignal, then SIGKILL after the timeout. False if not running."""
        container = self.get(ref)
        container.record["HasBeenManuallyStopped"] = True
        if container.restart_task is not None:
            self._cancel_restart(container)
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
        self._signal(container, number)
        self._emit(container, "kill", signal=str(number))
        if timeout < 0:
            await container.exit_event.wait()
        else:
            try:
                await asyncio.wait_for(container.exit_event.wait(), timeout)
            except asyncio.TimeoutError:
                if container.running:
                    self._signal(container, signal.SIGKILL)
                    self._emit(container, "kill", signal=str(int(signal.SIGKILL)))
                await container.exit_event.wait()
        self._emit(container, "stop")
        return True

    async def restart(self, ref: str, timeout: int | None = None) -> None:
        container = self.get(ref)
        await self.stop(container.id, timeout)
        await self.start(container.id)
        self._emit(container, "restart")

    # --- wait / remove / rename -------------------------------------------------------------------
    async def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]:
        container = self.get(ref)
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

    async def remove(self, ref: str, force: bool = False) -> None:
        container = self.get(ref)
        if container.restart_task is not None:
            if not force:
                raise Conflict(f"cannot remove container \"/{container.name}\": container is "
                               "restarting: stop the container before removing or force "
                               "remove")
            self._cancel_restart(container)
        if container.running:
            container.record["HasBeenManuallyStopped"] = True
            if not force:
                raise Conflict(f"cannot remove container \"/{container.name}\": container is "
                               "running: stop the container before removing or force remove")
            self._signal(container, signal.SIGKILL)
            await container.exit_event.wait()
            if container.id not in self.containers:  # auto-removed meanwhile
                return
        if container.state["Status"] == "removing":
            return
        container.state["Status"] = "removing"
        await self._destroy(container)

    async def _destroy(self, container: Container) -> None:
        """Unmount, delete the record (the commit point), then the writable layer and the
        directory: a crash after the record is gone leaves only unnamed files, which
        restore() removes; a crash before it leaves the container as it was."""
        self.in_flight.add(container.id)
        try:
            self._unmount(container)
            container.drop_record()
            self.images.remove_rw(container.id)
            await asyncio.to_thread(shutil.rmtree, container.dir, True)
        finally:
            self.in_flight.discard(container.id)
        self.containers.pop(container.id, None)
        self._names.pop(container.name, None)
        container.removed_event.set()
        container.wake_exit_waiters()
        self._emit(container, "destroy")

    async def rename(self, ref: str, new_name: str) -> None:
        container = self.get(ref)
        new_name = names.validate(new_name)
        if new_name == container.name:
            raise InvalidParameter("Renaming a container with the same name as its current "
                                   "name")
        if new_name in self._names:
            raise Conflict(f'Conflict. The container name "/{new_name}" is already in use by '
                           f'container "{self._names[new_name]}". You have to remove (or '
                           "rename) that container to be able to reuse that name.")
        old = container.name
        self._names.pop(old, None)
        self._names[new_name] = container.id
        container.record["Name"] = "/" + new_name
        container.save()
        self._emit(container, "rename", oldName="/" + old)

    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        until = filters.get("until")
        deleted = []
        reclaimed = 0
        for container in list(self.containers.values()):
            if container.running or not _labels_match(container, filters):
                continue
            if until and parse_rfc3339(container.record["Created"]) >= parse_timestamp(until[0]):
                continue
            overlay = self.images.prepare_rw(container.id, container.record["Image"])
            reclaimed += await asyncio.to_thread(disk_usage, overlay.upperdir)
            await self.remove(container.id)
            deleted.append(container.id)
        self.events.emit("container", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ContainersDeleted": deleted, "SpaceReclaimed": reclaimed}

    # --- list / inspect ---------------------------------------------------------------------------
    def list(self, all_: bool = False, limit: int | None = None,
             filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        filters = filters or {}
        ordered = sorted(self.containers.values(),
                         key=lambda c: c.record["Created"], reverse=True)
        if limit is not None and limit > 0:
            all_ = True
        result = []
        for c in ordered:
            if not all_ and not c.running and "status" not in filters \
                    and "exited" not in filters:
                continue
            if not self._matches(c, filters):
                continue
            result.append(c.summary())
            if limit is not None and 0 < limit <= len(result):
                break
        return result

    def _matches(self, c: Container, filters: dict[str, list[str]]) -> bool:
        for key, values in filters.items():
            if key == "id" and not any(c.id.startswith(v) for v in values):
                return False
            if key == "name" and not any(v.lstrip("/") in c.name for v in values):
                return False
            if key == "status" and c.state["Status"] not in values:
                return False
            if key == "exited" and (c.running or c.state["StartedAt"] == ZERO_TIME or
                                    str(c.state["ExitCode"]) not in values):
                return False
            if key == "label" and not _labels_match(c, {"label": values}):
                return False
            if key == "ancestor" and not any(self._ancestor(c, v) for v in values):
                return False
            if key == "volume" and not _mount_names(c) & set(values):
                return False
            if key in ("before", "since") and values:    # {"since": []} filters nothing
                other = self.get(values[0])
                if key == "before" and not c.record["Created"] < other.record["Created"]:
                    return False
                if key == "since" and not c.record["Created"] > other.record["Created"]:
                    return False
        return True

    def _ancestor(self, c: Container, ref: str) -> bool:
        try:
            return self.images.resolve(ref).id == c.record["Image"]
        except NotFound:
            return False

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

    # --- daemon start-up: live restore ------------------------------------------------------------
    async def restore(self) -> None:
        """Reload records; reconnect to monitors of running containers (live restore).
        What a crash left of a create or rm (a directory or writable layer without a
        record) is removed first."""
        leftovers.remove_unrecorded(self.root, self.images)
        for cid in sorted(os.listdir(self.root)):
            path = os.path.join(self.root, cid, RECORD_FILE)
            try:
                with open(path, "rb") as f:
                    record = json.load(f)
            except (OSError, ValueError):
                log.warning("skipping container %s: no readable record", cid[:12])
                continue
            container = Container(record, os.path.join(self.root, cid))
            self.containers[cid] = container
            self._names[container.name] = cid
            if container.state["Status"] == "removing":
                await self._destroy(container)
                continue
            if not container.running:
                if restart.start_on_boot(container.host_config.get("RestartPolicy") or {},
                                         container.record.get("HasBeenManuallyStopped", False)):
                    await self._boot_start(container)
                continue
            sock = launcher.connect(cid)
            if sock is not None:
                container.exit_event.clear()
                container.control = asyncio.ensure_future(
                    monitor.follow(container.subscribers, container.exit_file, sock,
                                   lambda code, ns, c=container: self._on_exit(c, code, ns),
                                   container.shim))
                container.health_task = health.start(self, container)
                continue
            info = monitor.read_exit_file(container.exit_file)
            code, finished = info if info else (255, None)
            await self._on_exit(container, code, finished)

    async def _boot_start(self, container: Container) -> None:
        try:
            await self._start(container)
        except DockyardError as exc:
            log.warning("could not restart %s at boot: %s", container.id[:12], exc.message)

    async def shutdown(self) -> None:
        """Leave containers running (live restore); just stop following their monitors."""
        for container in self.containers.values():
            if container.control is not None:
                container.control.cancel()


def _endpoint(network: str) -> dict[str, Any]:
    return {"IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "",
            "NetworkID": network, "EndpointID": "", "Gateway": "", "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "DriverOpts": None, "DNSNames": None}


def _mount_names(c: Container) -> set[str]:
    """What ps's `volume` filter matches: each mount's name (or source) and destination."""
    mounts = c.record.get("Mounts") or []
    return {m.get("Name") or m["Source"] for m in mounts} | {m["Destination"] for m in mounts}


def _labels_match(c: Container, filters: dict[str, list[str]]) -> bool:
    labels = c.config.get("Labels") or {}
    for cond in filters.get("label", []):
        key, sep, value = cond.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def _write_plain(path: str, data: bytes) -> None:
    """Files regenerated at every start need no fsync: a crash just rewrites them."""
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)


def _load_spec(bundle: str) -> dict[str, Any]:
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
