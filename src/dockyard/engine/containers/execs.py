"""Exec instances: extra processes started inside a running container (`docker exec`).

Each runs under its own dockyard-shim, launched like a container but entering the
container's namespaces and cgroup instead of creating them."""
from __future__ import annotations

import asyncio
import json
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from ... import detachkeys
from ...errors import Conflict, InvalidParameter, NotFound
from ...oci.capabilities import ALL_CAPS
from ...oci.user import resolve_user
from ...shim import launcher
from . import monitor
from .model import Container
from .monitor import ShimLink

# How long an exec that is not running stays inspectable: dockerd's clean-up of exec
# records runs every 5 minutes.
RETENTION = 300.0


@dataclass
class ExecInstance:
    id: str
    container: Container
    config: dict[str, Any]
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
    subscribers: set[asyncio.Queue[tuple[int, bytes] | None]] = field(default_factory=set)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    link: ShimLink = field(default_factory=ShimLink)   # stdin, resizes, signals

    def inspect(self) -> dict[str, Any]:
        cmd = self.config.get("Cmd") or []
        return {
            "ID": self.id, "Running": self.running, "ExitCode": self.exit_code,
            "ProcessConfig": {"tty": bool(self.config.get("Tty")),
                              "entrypoint": cmd[0] if cmd else "", "arguments": cmd[1:],
                              "privileged": bool(self.config.get("Privileged")),
                              "user": self.config.get("User") or ""},
            "OpenStdin": bool(self.config.get("AttachStdin")),
            "OpenStderr": bool(self.config.get("AttachStderr")),
            "OpenStdout": bool(self.config.get("AttachStdout")),
            "CanRemove": False, "ContainerID": self.container.id,
            "DetachKeys": self.config.get("DetachKeys") or "", "Pid": self.pid,
        }


class ExecManager:
    def __init__(self, service: Any) -> None:
        self.service = service
        self.instances: dict[str, ExecInstance] = {}

    def get(self, exec_id: str) -> ExecInstance:
        instance = self.instances.get(exec_id)
        if instance is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return instance

    def forget(self, exec_id: str) -> None:
        """Drop a finished exec (health probes at once, others after RETENTION) so records
        don't pile up in a long-running container."""
        instance = self.instances.pop(exec_id, None)
        if instance is not None:
            ids = instance.container.record.get("ExecIDs") or []
            instance.container.record["ExecIDs"] = [i for i in ids if i != exec_id] or None

    def drop_container(self, cid: str) -> None:
        """A removed container's execs go with it (each holds the whole container); as in
        Docker, inspecting one is then a 404."""
        for exec_id in [i for i, x in self.instances.items() if x.container.id == cid]:
            del self.instances[exec_id]

    def _expire(self, exec_id: str) -> None:
        instance = self.instances.get(exec_id)
        if instance is None:
            return
        if instance.running:
            asyncio.get_running_loop().call_later(RETENTION, self._expire, exec_id)
        else:
            self.forget(exec_id)

    def create(self, ref: str, body: dict[str, Any]) -> str:
        container = self.service.get(ref)
        if not isinstance(body, dict) or not body.get("Cmd"):
            raise InvalidParameter("No exec command specified")
        if not container.running:
            raise Conflict(f"Container {container.id} is not running")
        if container.state["Paused"]:
            raise Conflict(f"Container {container.id} is paused, unpause the container "
                           "before exec")
        if body.get("DetachKeys"):
            detachkeys.checked(body["DetachKeys"])
        exec_id = secrets.token_hex(32)
        self.instances[exec_id] = ExecInstance(exec_id, container, dict(body))
        container.record["ExecIDs"] = [*(container.record.get("ExecIDs") or []), exec_id]
        asyncio.get_running_loop().call_later(RETENTION, self._expire, exec_id)
        self.service.emit(container, f"exec_create: {' '.join(body['Cmd'])}",
                           execID=exec_id)
        return exec_id

    def process_spec(self, instance: ExecInstance) -> dict[str, Any]:
        """The container's process section, changed by the exec options as Docker does."""
        with open(os.path.join(instance.container.bundle, "config.json")) as f:
            spec = json.load(f)
        proc = dict(spec["process"])
        cfg = instance.config
        env = list(proc.get("env") or [])
        for item in cfg.get("Env") or []:
            key = item.split("=", 1)[0]
            env = [e for e in env if e.split("=", 1)[0] != key] + [item]
        proc.update(args=list(cfg["Cmd"]), env=env, terminal=bool(cfg.get("Tty")))
        proc.pop("consoleSize", None)
        size = cfg.get("ConsoleSize") or instance.link.size
        if cfg.get("Tty") and size and size[0] and size[1]:
            proc["consoleSize"] = {"height": int(size[0]), "width": int(size[1])}
        if cfg.get("WorkingDir"):
            proc["cwd"] = cfg["WorkingDir"]
        if cfg.get("User"):
            uid, gid, groups, _ = resolve_user(instance.container.rootfs, cfg["User"], [])
            proc["user"] = {"uid": uid, "gid": gid, "additionalGids": groups}
        if cfg.get("Privileged"):
            proc["capabilities"] = {k: list(ALL_CAPS) for k in
                                    ("bounding", "effective", "permitted")}
        return {"spec": spec, "process": proc}

    def resize(self, exec_id: str, rows: int, cols: int) -> None:
        instance = self.get(exec_id)
        if instance.config.get("Tty"):
            instance.link.resize(rows, cols)

    async def start(self, exec_id: str, console_size: list[int] | None = None
                    ) -> ExecInstance:
        instance = self.get(exec_id)
        if instance.running or instance.exit_code is not None:
            raise Conflict(f"Error: Exec command {exec_id} has already run")
        container = instance.container
        if not container.running:
            raise Conflict(f"Container {container.id} is not running")
        if console_size:
            instance.config["ConsoleSize"] = list(console_size)
        prepared = self.process_spec(instance)
        runtime = self.service.runtimes[container.host_config["Runtime"]]
        exit_file = os.path.join(container.dir, f"exec-{exec_id}.json")

        def create(stdin: int, stdout: int, stderr: int, console: Any) -> int:
            return runtime.exec_in_child(container.id, container.bundle, prepared["spec"],
                                         prepared["process"], container.state["Pid"], stdin,
                                         stdout, stderr, console)

        try:
            launched = await asyncio.to_thread(
                launcher.launch, create, exec_id, log=launcher.LogSettings(path=None),
                exit_file=exit_file, stdin=bool(instance.config.get("AttachStdin")),
                tty=bool(instance.config.get("Tty")))
        except launcher.LaunchError as exc:
            instance.exit_code = 126  # dockerd: any failed exec start is 126 (not run's 127)
            instance.done.set()
            for queue in list(instance.subscribers):
                queue.put_nowait(None)
            raise InvalidParameter(f"OCI runtime exec failed: {exc.message}") from None
        instance.running, instance.pid = True, launched.pid
        self.service.emit(container, f"exec_start: {' '.join(instance.config['Cmd'])}",
                           execID=exec_id)

        async def on_exit(code: int, finished_ns: int | None) -> None:
            instance.running, instance.exit_code = False, code
            monitor.remove_exit_file(exit_file)
            for queue in list(instance.subscribers):
                queue.put_nowait(None)
            instance.done.set()
            self.service.emit(container, "exec_die", execID=exec_id, exitCode=str(code))

        monitor.follow(instance.subscribers, exit_file, launched.control, on_exit,
                       instance.link)
        return instance
