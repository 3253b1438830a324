"""The start pipeline: the writable layer mounted, /etc files, mounts, the OCI spec, the
monitor launched, then the user's process let go; and what a failed start undoes."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from typing import Any

from ...errors import Conflict, DockyardError, no_such_container
from ...linux import syscalls
from ...shim import launcher
from ..networks import etc_files
from . import health, monitor, mounts, volumemounts
from .context import Service
from .model import Container

log = logging.getLogger(__name__)


async def start(service: Service, ref: str) -> bool:
    """Start; returns False when it was already running (HTTP 304)."""
    container = service.get(ref)
    if container.running or container.starting:
        return False
    async with container.lifecycle:
        if container.id not in service.containers:  # removed while this start waited
            raise no_such_container(ref)
        if container.running:
            return False
        if container.state["Status"] == "removing":
            raise Conflict(f"container {container.id} is marked for removal and cannot be "
                           "started")
        cancel_restart(container)
        container.record["HasBeenManuallyStopped"] = False
        container.record["RestartCount"] = 0
        container.starting = True
        try:
            await run(service, container)
        finally:
            container.starting = False
    return True


def cancel_restart(container: Container) -> None:
    if container.restart_task is not None:
        container.restart_task.cancel()
        container.restart_task = None
        container.state.update(Restarting=False, Status="exited")


async def run(service: Service, container: Container) -> None:
    from ...oci.spec import build_spec

    hc = container.host_config
    runtime = service.runtimes[hc["Runtime"]]
    mounted = volumes_mounted = False
    spec: dict[str, Any] = {}
    try:
        overlay = service.layers.prepare(container.id, container.record["Image"])
        await asyncio.to_thread(syscalls.mount, "overlay", container.rootfs, "overlay", 0,
                                overlay.options())
        mounted = True
        write_etc_files(service, container)
        user_mounts = mounts.parse_all(hc)
        await asyncio.to_thread(mounts.prepare_sources, user_mounts)
        volumes_mounted = True
        user_mounts = await asyncio.to_thread(volumemounts.start_mounts, service, container,
                                              user_mounts)
        shared_netns = service.networks.shared_netns(container)
        link_env, link_hosts = service.networks.links_for_start(container)
        image = service.images.resolve(container.record["Image"])
        spec = build_spec({**container.record, "Id": container.id}, image.config,
                          rootfs=container.rootfs, cgroups_path=f"/dockyard/{container.id}",
                          files={"/etc/hostname": container.record["HostnamePath"],
                                 "/etc/hosts": container.record["HostsPath"],
                                 "/etc/resolv.conf": container.record["ResolvConfPath"]},
                          init_binary=launcher.INIT_BINARY,
                          mounts=[m.oci() for m in user_mounts])
        # --link: the targets' variables first, so the container's own override them
        spec["process"]["env"] = link_env + spec["process"]["env"]
        if shared_netns:   # --network container:<x>: x's namespace, joined by path
            for ns in spec["linux"]["namespaces"]:
                if ns["type"] == "network":
                    ns["path"] = shared_netns
        rows, cols = (list(hc.get("ConsoleSize") or []) + [0, 0])[:2]
        if container.config.get("Tty") and rows and cols:
            spec["process"]["consoleSize"] = {"height": int(rows), "width": int(cols)}
        write_plain(os.path.join(container.bundle, "config.json"),
                     json.dumps(spec).encode())
        monitor.remove_exit_file(container.exit_file)
        await asyncio.to_thread(runtime.prepare, container.id, container.bundle, spec)
        def create(stdin: int, stdout: int, stderr: int, console: Any) -> int:
            return runtime.create_in_child(container.id, container.bundle, spec, stdin,
                                           stdout, stderr, console)

        launched = await asyncio.to_thread(
            launcher.launch, create, container.id, log=log_settings(container),
            exit_file=container.exit_file, stdin=bool(container.config.get("OpenStdin")),
            tty=bool(container.config.get("Tty")))
    except BaseException as exc:
        if mounted:
            unmount(container)
        if volumes_mounted:
            await asyncio.to_thread(volumemounts.stop_mounts, service, container)
        try:
            runtime.delete(container.id, container.bundle, spec)
        except Exception:  # noqa: BLE001 - best effort clean-up of a failed start
            log.exception("runtime clean-up failed")
        if isinstance(exc, launcher.LaunchError):
            container.state.update(ExitCode=exc.exit_code, Error=exc.message)
            container.save()
            await after_failed_start(service, container)
            raise DockyardError(f"failed to create task for container: {exc.message}") \
                from None
        await after_failed_start(service, container)
        raise
    container.mark_running(launched.pid)
    container.save()
    container.control = monitor.follow(
        container.subscribers, container.exit_file, launched.control,
        lambda code, ns: service.on_exit(container, code, ns), container.shim)
    try:
        await service.networks.join(container, launched.pid)
        write_etc_files(service, container, link_hosts)
        container.save()
    except BaseException as exc:
        # No network, no start: the init never ran the user's command.
        await service.send_signal(container, signal.SIGKILL)
        await container.exit_event.wait()
        if isinstance(exc, DockyardError):
            raise
        raise DockyardError(f"failed to set up container networking: {exc}") from None
    try:
        await asyncio.to_thread(runtime.start, container.id, container.bundle)
    except Exception as exc:
        # The init never ran the user's command: kill it; the monitor records the exit.
        await service.send_signal(container, signal.SIGKILL)
        await container.exit_event.wait()
        raise DockyardError(f"failed to start container: {exc}") from None
    container.health_task = health.start(service, container)
    service.emit(container, "start")


async def after_failed_start(service: Service, container: Container) -> None:
    """Waiters learn the start failed; an auto-remove container goes away (as in
    Docker, whose CLI waits for that removal). The caller holds the lifecycle lock."""
    container.wake_exit_waiters()
    if container.host_config.get("AutoRemove"):
        await service.remove_locked(container, force=True, volumes=True)


def log_settings(container: Container) -> launcher.LogSettings:
    from .logconfig import settings
    return settings(container.record, container.dir)


def write_etc_files(service: Service, container: Container,
                    link_hosts: tuple[str, ...] | list[str] = ()) -> list[etc_files.ExtServer]:
    """hostname, hosts and resolv.conf; returns the embedded resolver's upstreams. Written
    before the launch (resolv.conf as the embedded DNS needs it) and again once the
    endpoints have their addresses (the hosts file's own lines)."""
    upstreams = etc_files.write(container.record, service.dns_settings,
                                service.networks.etc_endpoints(container))
    if link_hosts:   # --link targets, after what etc_files wrote (same inode: appended)
        with open(container.record["HostsPath"], "a") as f:
            f.write("".join(f"{line}\n" for line in link_hosts))
    return upstreams


def unmount(container: Container) -> None:
    try:
        syscalls.umount(container.rootfs, syscalls.MNT_DETACH)
    except OSError as exc:
        if exc.errno not in (22,):  # EINVAL: not mounted
            log.warning("unmount %s: %s", container.rootfs, exc)


def write_plain(path: str, data: bytes) -> None:
    """Files regenerated at every start need no fsync: a crash just rewrites them."""
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)


def load_spec(bundle: str) -> dict[str, Any]:
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
