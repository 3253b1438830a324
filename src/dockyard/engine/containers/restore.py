"""Daemon start-up and shutdown: records reloaded, monitors of running containers followed
again (live restore), boot restarts; at shutdown containers keep running."""
from __future__ import annotations

import logging
import os

from ...errors import DockyardError
from ...shim import launcher
from . import exits, health, leftovers, monitor, restart, starting
from .context import Service
from .model import Container

log = logging.getLogger(__name__)


async def restore(service: Service) -> None:
    """Reload records; reconnect to monitors of running containers (live restore).
    What a crash left of a create or rm (a directory or writable layer without a
    record) is removed first."""
    records = service.records.load()
    leftovers.remove_unrecorded(service.root, service.layers, service.records.ids())
    for cid, record in sorted(records.items()):
        container = Container(record, os.path.join(service.root, cid), service.records)
        service.containers[cid] = container
        service.name_index[container.name] = cid
        if container.state["Status"] == "removing":
            await service.destroy(container)
            continue
        if not container.running:
            if restart.start_on_boot(container.host_config.get("RestartPolicy") or {},
                                     container.record.get("HasBeenManuallyStopped", False)):
                await boot_start(service, container)
            continue
        sock = launcher.connect(cid)
        if sock is not None:
            container.exit_event.clear()
            container.control = monitor.follow(
                container.subscribers, container.exit_file, sock,
                lambda code, ns, c=container: exits.on_exit(service, c, code, ns), container.shim)
            container.health_task = health.start(service, container)
            continue
        info = monitor.read_exit_file(container.exit_file)
        code, finished = info if info else (255, None)
        await exits.on_exit(service, container, code, finished)


async def boot_start(service: Service, container: Container) -> None:
    try:
        async with container.lifecycle:
            await starting.run(service, container)
    except DockyardError as exc:
        log.warning("could not restart %s at boot: %s", container.id[:12], exc.message)


async def shutdown(service: Service) -> None:
    """Leave containers running (live restore); just stop following their monitors."""
    for container in service.containers.values():
        if container.control is not None:
            container.control.cancel()
