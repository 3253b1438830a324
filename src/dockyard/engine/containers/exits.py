"""What happens when a container's process exits: streams end, the runtime state goes, the
exit is recorded; then the restart policy (with back-off) or auto-remove."""
from __future__ import annotations

import asyncio
import logging

from ...errors import DockyardError, NotFound
from ...timeutil import parse_rfc3339
from . import restart, starting, volumemounts
from .context import Service
from .model import Container

log = logging.getLogger(__name__)


async def on_exit(service: Service, container: Container, code: int,
                  finished_ns: int | None) -> None:
    for queue in list(container.subscribers):  # all output is in: end attach streams now
        queue.put_nowait(None)
    if container.health_task is not None:
        container.health_task.cancel()
        container.health_task = None
    runtime = service.runtimes.get(container.host_config["Runtime"])
    starting.unmount(container)
    await asyncio.to_thread(volumemounts.stop_mounts, service, container)
    if runtime is not None:
        try:
            await asyncio.to_thread(runtime.delete, container.id, container.bundle,
                                    starting.load_spec(container.bundle))
        except Exception:  # noqa: BLE001
            log.exception("runtime delete failed for %s", container.id[:12])
    try:
        await service.networks.leave(container)
    except Exception:  # noqa: BLE001 - the exit is recorded whatever networking says
        log.exception("releasing the networks of %s failed", container.id[:12])
    container.mark_exited(code, finished_ns)
    container.control = None
    container.save()
    container.wake_exit_waiters()
    service.emit(container, "die", exitCode=str(code))
    if wants_restart(service, container, code):
        return
    if container.host_config.get("AutoRemove") and container.id in service.containers:
        try:
            await service.remove(container.id, force=True, volumes=True)
        except NotFound:  # a client's rm got there first
            pass
        except DockyardError:
            log.exception("auto-remove of %s failed", container.id[:12])


def wants_restart(service: Service, container: Container, code: int) -> bool:
    """Schedule a policy restart after back-off; True if one was scheduled."""
    policy = container.host_config.get("RestartPolicy") or {}
    if container.id not in service.containers or not restart.should_restart(
            policy, code, container.record.get("RestartCount", 0),
            container.record.get("HasBeenManuallyStopped", False)):
        return False
    ran_for = parse_rfc3339(container.state["FinishedAt"]) - \
        parse_rfc3339(container.state["StartedAt"])
    container.restart_delay = restart.next_delay(container.restart_delay, ran_for)
    container.state.update(Restarting=True, Status="restarting")
    container.save()
    container.restart_task = asyncio.ensure_future(restart_later(service, container))
    return True


async def restart_later(service: Service, container: Container) -> None:
    await asyncio.sleep(container.restart_delay)
    container.restart_task = None
    container.record["RestartCount"] = container.record.get("RestartCount", 0) + 1
    container.state["Restarting"] = False
    try:
        async with container.lifecycle:
            if container.id not in service.containers:
                return
            await starting.run(service, container)
    except DockyardError as exc:
        log.warning("restart of %s failed: %s", container.id[:12], exc.message)
        container.state.update(Status="exited")
        container.save()
