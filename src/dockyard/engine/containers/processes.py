"""Operations on a running container's processes: pause, unpause, top."""
from __future__ import annotations

import asyncio
import subprocess
from typing import Any

from ...errors import Conflict, InvalidParameter
from .model import Container
from .service import ContainerService
from .starting import load_spec


_EXIT_GRACE = 2.0  # seconds a failed freeze waits to see whether the container just exited


def _runtime(service: ContainerService, container: Container) -> Any:
    return service.runtimes[container.host_config["Runtime"]]


async def _freeze(service: ContainerService, container: Container, paused: bool) -> None:
    """Freeze or thaw; a container exiting meanwhile (its cgroup going away under us) is
    Docker's "is not running" conflict, not a server error."""
    try:
        await asyncio.to_thread(_runtime(service, container).pause, container.id,
                                load_spec(container.bundle), paused)
    except (OSError, subprocess.CalledProcessError) as exc:
        try:
            await asyncio.wait_for(container.exit_event.wait(), _EXIT_GRACE)
        except asyncio.TimeoutError:
            raise exc from None
        raise Conflict(f"Container {container.id} is not running") from None


async def pause(service: ContainerService, ref: str) -> None:
    container = service.get(ref)
    if not container.running:
        raise Conflict(f"Container {container.id} is not running")
    if container.state["Paused"]:
        raise Conflict(f"Container {container.id} is already paused")
    await _freeze(service, container, True)
    container.state.update(Paused=True, Status="paused")
    container.save()
    service.emit(container, "pause")


async def unpause(service: ContainerService, ref: str) -> None:
    container = service.get(ref)
    if not container.state["Paused"]:
        raise Conflict(f"Container {container.id} is not paused")
    await _freeze(service, container, False)
    container.state.update(Paused=False, Status="running")
    container.save()
    service.emit(container, "unpause")


async def top(service: ContainerService, ref: str, ps_args: str) -> dict[str, Any]:
    """Docker's top: the host's `ps` output, restricted to the container's processes."""
    container = service.get(ref)
    if not container.running:
        raise Conflict(f"Container {container.id} is not running")
    pids = set(await asyncio.to_thread(_runtime(service, container).pids, container.id,
                                       load_spec(container.bundle)))
    args = ps_args.split() if ps_args else ["-ef"]
    result = await asyncio.to_thread(subprocess.run, ["ps", *args], capture_output=True,
                                     text=True)
    if result.returncode != 0:
        raise InvalidParameter(f"ps: {result.stderr.strip()}")
    lines = result.stdout.splitlines()
    titles = lines[0].split()
    if "PID" not in titles:
        raise InvalidParameter("Couldn't find PID field in ps output")
    pid_index = titles.index("PID")
    processes = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > pid_index and fields[pid_index].isdigit() and \
                int(fields[pid_index]) in pids:
            processes.append(fields)
    service.emit(container, "top")
    return {"Titles": titles, "Processes": processes}
