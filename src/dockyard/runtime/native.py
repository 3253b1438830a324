"""dockyard's own OCI runtime. The container init is forked from the launcher (no new
Python interpreter), sets itself up from config.json and waits on exec.fifo before exec."""
from __future__ import annotations

import json
import os
import signal
import socket
from typing import Any, NoReturn

from ..linux import forking, syscalls
from . import RuntimeCreateError, console as terminal, namespaces, process, rootfs, seccomp
from .cgroups import manager

FIFO = "exec.fifo"


class NativeRuntime:
    name = "dockyard"

    def prepare(self, cid: str, bundle: str, spec: dict[str, Any]) -> None:
        linux = spec.get("linux") or {}
        if linux.get("cgroupsPath"):
            manager(linux["cgroupsPath"]).create(linux.get("resources") or {})
        _filter(spec)  # compiled here, in the daemon, so the forked launcher finds it cached

    def create_in_child(self, cid: str, bundle: str, spec: dict[str, Any], stdin_fd: int,
                        stdout_fd: int, stderr_fd: int,
                        console: socket.socket | None = None) -> int:
        fifo = os.path.join(bundle, FIFO)
        try:
            os.unlink(fifo)
        except FileNotFoundError:
            pass
        os.mkfifo(fifo, 0o600)
        cgroups = manager((spec.get("linux") or {}).get("cgroupsPath") or "/")
        last_cap = process.last_cap()
        available = process.permitted_mask()
        program = _filter(spec)
        report_r, report_w = os.pipe()
        if namespaces.new_pid_namespace(spec):
            syscalls.unshare(syscalls.CLONE_NEWPID)
        pid = forking.fork()
        if pid == 0:  # pragma: no cover - the container init
            os.close(report_r)
            _init(spec, bundle, fifo, cgroups, (last_cap, available),
                  (stdin_fd, stdout_fd, stderr_fd), report_w, console, program)
        os.close(report_w)
        return _await_ready(report_r, pid, "container init exited during setup", 125)

    def exec_in_child(self, cid: str, bundle: str, spec: dict[str, Any],
                      process_spec: dict[str, Any], container_pid: int, stdin_fd: int,
                      stdout_fd: int, stderr_fd: int,
                      console: socket.socket | None = None) -> int:
        """Start `process_spec` inside the running container (called in the forked launcher
        child, like create_in_child). Returns the host pid once it is about to exec."""
        cgroups = manager((spec.get("linux") or {}).get("cgroupsPath") or "/")
        caps = (process.last_cap(), process.permitted_mask())
        program = _filter(spec)
        ns_fds = namespaces.open_all(spec, container_pid)
        report_r, report_w = os.pipe()
        if "pid" in ns_fds:
            syscalls.setns(ns_fds.pop("pid"), syscalls.CLONE_NEWPID)
        pid = forking.fork()
        if pid == 0:  # pragma: no cover - the exec'd process
            os.close(report_r)
            _exec_init(process_spec, ns_fds, cgroups, caps, (stdin_fd, stdout_fd, stderr_fd),
                       report_w, console, program)
        os.close(report_w)
        for fd in ns_fds.values():
            os.close(fd)
        return _await_ready(report_r, pid, "exec process exited during setup", 126)

    def start(self, cid: str, bundle: str) -> None:
        fifo = os.path.join(bundle, FIFO)
        fd = os.open(fifo, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.read(fd, 1)
        finally:
            os.close(fd)
            os.unlink(fifo)

    def pause(self, cid: str, spec: dict[str, Any], paused: bool) -> None:
        manager((spec.get("linux") or {}).get("cgroupsPath") or "/").freeze(paused)

    def pids(self, cid: str, spec: dict[str, Any]) -> list[int]:
        return manager((spec.get("linux") or {}).get("cgroupsPath") or "/").pids()

    def delete(self, cid: str, bundle: str, spec: dict[str, Any]) -> None:
        path = (spec.get("linux") or {}).get("cgroupsPath")
        if path:
            cgroups = manager(path)
            for directory in set(cgroups.directories().values()):
                _kill_remaining(directory)
            cgroups.destroy()
        try:
            os.unlink(os.path.join(bundle, FIFO))
        except FileNotFoundError:
            pass


def _filter(spec: dict[str, Any]) -> seccomp.Program | None:
    section = (spec.get("linux") or {}).get("seccomp")
    return seccomp.program(section) if section else None


def _hold(proc: dict[str, Any], program: seccomp.Program | None) -> int:
    """CAP_SYS_ADMIN to keep until the filter is loaded (see process.needs_admin_hold)."""
    return 1 << process.CAP_SYS_ADMIN if process.needs_admin_hold(proc, program is not None) \
        else 0


def _confine(proc: dict[str, Any], program: seccomp.Program | None, hold: int,
             available: int) -> None:  # pragma: no cover - forked child, right before execve
    """Load the seccomp filter last; then drop a held CAP_SYS_ADMIN (capset is the only
    syscall between the filter and execve)."""
    if program is None:
        return
    program.load()
    if hold:
        process.set_capabilities(proc, available)


def _await_ready(report_r: int, pid: int, vanished: str, vanished_code: int) -> int:
    """Wait for the child's "ready" line; anything else is its error report."""
    with os.fdopen(report_r, "rb") as reader:
        line = reader.readline()
    if line.startswith(b"ready"):
        return pid
    os.waitpid(pid, 0)
    try:
        report = json.loads(line)
        message, code = report["message"], int(report["exit_code"])
    except (ValueError, KeyError):
        message, code = vanished, vanished_code
    raise RuntimeCreateError(message, code)


def _kill_remaining(directory: str) -> None:
    """SIGKILL what is left in a container's cgroup (its init has exited). Each pid is
    pinned with a pidfd first and signalled only if it is still a member afterwards: a pid
    that exited and was reused outside the cgroup meanwhile is left alone."""
    pidfds = {}
    for pid in _members(directory):
        try:
            pidfds[pid] = os.pidfd_open(pid)
        except OSError:  # gone already
            pass
    try:
        still = set(_members(directory))
        for pid, fd in pidfds.items():
            if pid in still:
                try:
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    finally:
        for fd in pidfds.values():
            os.close(fd)


def _members(directory: str) -> list[int]:
    try:
        with open(os.path.join(directory, "cgroup.procs")) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _init(spec: dict[str, Any], bundle: str, fifo: str, cgroups: Any, caps: tuple[int, int],
          stdio: tuple[int, int, int], report_w: int, console: socket.socket | None,
          program: seccomp.Program | None) -> NoReturn:  # pragma: no cover
    """The container init: set everything up, report ready, wait for start, exec."""
    try:
        os.setsid()
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        cgroups.join_self()
        new_net = namespaces.enter(spec)
        if new_net:
            namespaces.loopback_up()
        if spec.get("hostname") and any(n["type"] == "uts" for n in namespaces.wanted(spec)):
            syscalls.sethostname(spec["hostname"])
            if spec.get("domainname"):
                syscalls.setdomainname(spec["domainname"])
        root = spec["root"]["path"]
        if not os.path.isabs(root):
            root = os.path.join(bundle, root)
        rootfs.prepare_root(root, spec["linux"].get("rootfsPropagation") or "")
        rootfs.mount_all(root, spec, cgroups)
        fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        rootfs.pivot(root)
        rootfs.apply_root_propagation(spec["linux"].get("rootfsPropagation") or "")
        if console is not None:
            terminal.attach_terminal(console, spec["process"].get("consoleSize"))
        for key, value in (spec["linux"].get("sysctl") or {}).items():
            with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                f.write(str(value))
        proc = spec["process"]
        if "oomScoreAdj" in proc:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(proc["oomScoreAdj"]))
        rootfs.mask_paths(spec["linux"].get("maskedPaths") or [])
        rootfs.readonly_paths(spec["linux"].get("readonlyPaths") or [])
        cwd = proc.get("cwd") or "/"
        os.makedirs(cwd, exist_ok=True)
        if spec["root"].get("readonly"):
            rootfs.readonly_root()
        process.set_rlimits(proc)
        env = list(proc.get("env") or [])
        executable = process.find_executable(proc["args"][0], env)
        hold = _hold(proc, program)
        process.switch_user(proc, *caps, hold=hold)
        try:
            os.chdir(cwd)
        except OSError as exc:
            raise process.ExecError(f"chdir to cwd (\"{cwd}\") set in config.json failed: "
                                    f"{exc.strerror.lower() if exc.strerror else exc}", 128)
        environ = dict(e.split("=", 1) for e in env if "=" in e)
        os.write(report_w, b"ready\n")
        fd = os.open(f"/proc/self/fd/{fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
        os.write(fd, b"0")
        os.close(fd)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        try:
            _confine(proc, program, hold, caps[1])
        except OSError as exc:  # "ready" is sent: the container's stderr gets the reason
            os.write(2, f"dockyard: {exc.strerror or exc}\n".encode())
            os._exit(128)
        os.execve(executable, proc["args"], environ)
    except process.ExecError as exc:
        _fail(report_w, exc.message, exc.exit_code)
    except OSError as exc:
        _fail(report_w, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 128)
    except BaseException as exc:  # noqa: BLE001 - report anything; the init must not return
        _fail(report_w, f"{exc.__class__.__name__}: {exc}", 128)
    os._exit(128)


def _exec_init(proc: dict[str, Any], ns_fds: dict[str, int], cgroups: Any,
               caps: tuple[int, int], stdio: tuple[int, int, int],
               report_w: int, console: socket.socket | None,
               program: seccomp.Program | None) -> NoReturn:  # pragma: no cover
    """An exec'd process: join the container's cgroup and namespaces, become its user."""
    try:
        os.setsid()
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        cgroups.join_self()
        for kind in ("ipc", "uts", "network", "cgroup", "mount"):  # mount last: it moves /
            if kind in ns_fds:
                syscalls.setns(ns_fds[kind], namespaces.FLAGS[kind])
        if console is not None:  # the container's /dev/ptmx: its own devpts instance
            terminal.attach_terminal(console, proc.get("consoleSize"))
        process.set_rlimits(proc)
        env = list(proc.get("env") or [])
        executable = process.find_executable(proc["args"][0], env)
        cwd = proc.get("cwd") or "/"
        hold = _hold(proc, program)
        process.switch_user(proc, *caps, hold=hold)
        try:
            os.chdir(cwd)
        except OSError as exc:
            raise process.ExecError(f"chdir to cwd (\"{cwd}\") set in config.json failed: "
                                    f"{exc.strerror.lower() if exc.strerror else exc}", 126)
        environ = dict(e.split("=", 1) for e in env if "=" in e)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        _confine(proc, program, hold, caps[1])  # before "ready": a failure is reported
        os.write(report_w, b"ready\n")
        os.execve(executable, proc["args"], environ)
    except process.ExecError as exc:
        _fail(report_w, exc.message, exc.exit_code)
    except BaseException as exc:  # noqa: BLE001 - report anything; must not return
        _fail(report_w, f"{exc.__class__.__name__}: {exc}", 126)
    os._exit(126)


def _fail(report_w: int, message: str, code: int) -> NoReturn:  # pragma: no cover
    try:
        os.write(report_w, json.dumps({"message": message, "exit_code": code}).encode() + b"\n")
    finally:
        os._exit(code)
