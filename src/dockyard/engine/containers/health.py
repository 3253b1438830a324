"""Health checks: run the configured probe inside the container on an interval and keep
State.Health the way Docker does (starting → healthy / unhealthy, last 5 results)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from ...errors import DockyardError
from ...timeutil import rfc3339nano
from .model import Container

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096


def probe_command(config: dict[str, Any]) -> list[str] | None:
    test = (config.get("Healthcheck") or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    if test[0] == "CMD":
        return list(test[1:])
    return list(test)


def _seconds(value: Any, default: float) -> float:
    return value / 1e9 if value else default


class HealthMonitor:
    def __init__(self, service: Any, container: Container, command: list[str]) -> None:
        self.service = service
        self.container = container
        self.command = command
        cfg = container.config.get("Healthcheck") or {}
        self.interval = _seconds(cfg.get("Interval"), DEFAULT_INTERVAL)
        self.timeout = _seconds(cfg.get("Timeout"), DEFAULT_TIMEOUT)
        self.start_period = _seconds(cfg.get("StartPeriod"), 0.0)
        self.retries = int(cfg.get("Retries") or DEFAULT_RETRIES)
        self.started = asyncio.get_running_loop().time()

    async def run(self) -> None:
        self.container.state["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": []}
        while self.container.running:
            await asyncio.sleep(self.interval)
            if not self.container.running:
                return
            if self.container.state.get("Paused"):
                continue
            await self.probe_once()

    async def probe_once(self) -> None:
        start = rfc3339nano()
        code, output = await self._exec()
        health = self.container.state.setdefault(
            "Health", {"Status": "starting", "FailingStreak": 0, "Log": []})
        health["Log"] = (health["Log"] + [{"Start": start, "End": rfc3339nano(),
                                           "ExitCode": code, "Output": output}]
                         )[-MAX_LOG_ENTRIES:]
        previous = health["Status"]
        if code == 0:
            health["FailingStreak"] = 0
            health["Status"] = "healthy"
        else:
            in_start_period = asyncio.get_running_loop().time() - self.started < \
                self.start_period
            if not in_start_period:
                health["FailingStreak"] += 1
                if health["FailingStreak"] >= self.retries:
                    health["Status"] = "unhealthy"
        if health["Status"] != previous:
            self.service.emit(self.container, f"health_status: {health['Status']}")
        self.container.save()

    async def _exec(self) -> tuple[int, str]:
        execs = self.service.execs
        try:
            exec_id = execs.create(self.container.id, {"Cmd": self.command,
                                                       "AttachStdout": True,
                                                       "AttachStderr": True})
            instance = execs.get(exec_id)
            queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
            instance.subscribers.add(queue)
            await execs.start(exec_id)
        except DockyardError as exc:
            return -1, exc.message
        output = b""
        try:
            async with asyncio.timeout(self.timeout):
                while (item := await queue.get()) is not None:
                    output = (output + item[1])[:MAX_OUTPUT]
                await instance.done.wait()
        except TimeoutError:
            if instance.running:  # through its monitor: never a reused pid
                with contextlib.suppress(DockyardError):
                    await instance.link.signal(signal.SIGKILL)
            return -1, f"Health check exceeded timeout ({self.timeout:g}s)"
        finally:
            execs.forget(exec_id)
        return instance.exit_code if instance.exit_code is not None else -1, \
            output.decode(errors="replace")


def start(service: Any, container: Container) -> asyncio.Task[None] | None:
    command = probe_command(container.config)
    if command is None:
        container.state.pop("Health", None)
        return None
    return asyncio.ensure_future(HealthMonitor(service, container, command).run())
