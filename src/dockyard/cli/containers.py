"""Container commands: run, create, start, stop, restart, kill, rm, ps, logs, wait, rename."""
from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click

from ..client import containers as api_containers
from ..client.transport import APIClient, APIError
from .common import api_of, for_each

_SHORT = 12


_api = api_of


def _fail(message: str, code: int = 1) -> None:
    print(message, file=sys.stderr)
    sys.exit(code)


def _daemon_error(exc: APIError, code: int, prefix: str = "dockyard: ") -> None:
    """Print a daemon error as the docker CLI does and exit with `code`."""
    if exc.status == 0:  # could not reach the daemon at all
        _fail(exc.message, code)
    _fail(f"{prefix}Error response from daemon: {exc.message}", code)


# --- create / run ---------------------------------------------------------------------------

def _parse_env_files(paths: tuple[str, ...]) -> list[str]:
    env = []
    for path in paths:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError as exc:
            _fail(f"open {path}: {exc.strerror.lower() if exc.strerror else exc}", 125)
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if "=" not in line:
                value = os.environ.get(line)
                if value is None:
                    continue
                line = f"{line}={value}"
            env.append(line)
    return env


def _env(values: tuple[str, ...]) -> list[str]:
    out = []
    for item in values:
        if "=" in item:
            out.append(item)
        elif item in os.environ:   # `-e NAME` takes the value from the client's environment
            out.append(f"{item}={os.environ[item]}")
    return out


def _labels(values: tuple[str, ...]) -> dict[str, str]:
    labels = {}
    for item in values:
        key, _, value = item.partition("=")
        labels[key] = value
    return labels


def _bytes(value: str | None, flag: str) -> int:
    if not value:
        return 0
    if value == "-1":
        return -1
    from ..units import parse_bytes
    try:
        return parse_bytes(value)
    except ValueError:
        _fail(f"invalid argument \"{value}\" for \"{flag}\" flag: invalid size: '{value}'", 125)
    return 0


def _ulimits(values: tuple[str, ...]) -> list[dict[str, Any]] | None:
    result = []
    for item in values:
        name, _, limits = item.partition("=")
        soft, _, hard = limits.partition(":")
        try:
            result.append({"Name": name, "Soft": int(soft), "Hard": int(hard or soft)})
        except ValueError:
            _fail(f"invalid argument \"{item}\" for \"--ulimit\" flag: invalid ulimit", 125)
    return result or None


def _restart_policy(value: str | None) -> dict[str, Any]:
    if not value:
        return {"Name": "no", "MaximumRetryCount": 0}
    name, _, count = value.partition(":")
    return {"Name": name, "MaximumRetryCount": int(count) if count else 0}


def container_options(f: Any) -> Any:
    """The flags shared by `create` and `run`."""
    opts = [
        click.option("--name", default=None),
        click.option("-e", "--env", multiple=True),
        click.option("--env-file", multiple=True),
        click.option("-w", "--workdir", default=None),
        click.option("-u", "--user", default=None),
        click.option("--entrypoint", default=None),
        click.option("-h", "--hostname", default=None),
        click.option("--domainname", default=None),
        click.option("-l", "--label", multiple=True),
        click.option("-m", "--memory", default=None),
        click.option("--memory-swap", default=None),
        click.option("--memory-reservation", default=None),
        click.option("--cpus", default=None),
        click.option("-c", "--cpu-shares", type=int, default=None),
        click.option("--cpu-quota", type=int, default=None),
        click.option("--cpu-period", type=int, default=None),
        click.option("--cpuset-cpus", default=None),
        click.option("--cpuset-mems", default=None),
        click.option("--pids-limit", type=int, default=None),
        click.option("--read-only", is_flag=True),
        click.option("--network", "--net", "network", default=None),
        click.option("--cap-add", multiple=True),
        click.option("--cap-drop", multiple=True),
        click.option("--privileged", is_flag=True),
        click.option("--security-opt", multiple=True),
        click.option("--ulimit", multiple=True),
        click.option("--runtime", default=None),
        click.option("--log-driver", default=None),
        click.option("--log-opt", multiple=True),
        click.option("--stop-signal", default=None),
        click.option("--stop-timeout", type=int, default=None),
        click.option("--restart", default=None),
        click.option("--rm", "auto_remove", is_flag=True),
        click.option("--shm-size", default=None),
        click.option("--sysctl", multiple=True),
        click.option("--group-add", multiple=True),
        click.option("--oom-score-adj", type=int, default=None),
        click.option("--init", "init", is_flag=True),
        click.option("--health-cmd", default=None),
        click.option("--health-interval", default=None),
        click.option("--health-timeout", default=None),
        click.option("--health-retries", type=int, default=None),
        click.option("--health-start-period", default=None),
        click.option("--no-healthcheck", is_flag=True),
        click.option("-i", "--interactive", is_flag=True),
        click.option("-t", "--tty", is_flag=True),
        click.option("--detach-keys", default=None),
        click.option("-v", "--volume", "volume", multiple=True),
        click.option("--mount", "mount", multiple=True),
        click.option("--tmpfs", "tmpfs", multiple=True),
    ]
    for option in reversed(opts):
        f = option(f)
    return f


def _build_body(image: str, command: tuple[str, ...], o: dict[str, Any]) -> dict[str, Any]:
    env = _parse_env_files(o["env_file"]) + _env(o["env"])
    nano_cpus = 0
    if o["cpus"]:
        try:
            nano_cpus = int(round(float(o["cpus"]) * 1e9))
        except ValueError:
            _fail(f"invalid argument \"{o['cpus']}\" for \"--cpus\" flag: failed to parse "
                  f"{o['cpus']} as a rational number", 125)
    log_opts = dict(item.partition("=")[::2] for item in o["log_opt"])
    host_config: dict[str, Any] = {
        "AutoRemove": o["auto_remove"], "Privileged": o["privileged"],
        "ReadonlyRootfs": o["read_only"], "NetworkMode": o["network"] or "default",
        "CapAdd": list(o["cap_add"]) or None, "CapDrop": list(o["cap_drop"]) or None,
        "SecurityOpt": _security_opts(o["security_opt"]) or None,
        "Ulimits": _ulimits(o["ulimit"]),
        "Memory": _bytes(o["memory"], "--memory"),
        "MemorySwap": _bytes(o["memory_swap"], "--memory-swap"),
        "MemoryReservation": _bytes(o["memory_reservation"], "--memory-reservation"),
        "NanoCpus": nano_cpus, "CpuShares": o["cpu_shares"] or 0,
        "CpuQuota": o["cpu_quota"] or 0, "CpuPeriod": o["cpu_period"] or 0,
        "CpusetCpus": o["cpuset_cpus"] or "", "CpusetMems": o["cpuset_mems"] or "",
        "PidsLimit": o["pids_limit"], "RestartPolicy": _restart_policy(o["restart"]),
        "LogConfig": {"Type": o["log_driver"] or "", "Config": log_opts},
        "Sysctls": dict(item.partition("=")[::2] for item in o["sysctl"]) or None,
        "GroupAdd": list(o["group_add"]) or None, "OomScoreAdj": o["oom_score_adj"] or 0,
        "Init": True if o["init"] else None,
    }
    if o["runtime"]:
        host_config["Runtime"] = o["runtime"]
    if o["shm_size"]:
        host_config["ShmSize"] = _bytes(o["shm_size"], "--shm-size")
    if o["tty"]:
        from .interactive import terminal_size
        host_config["ConsoleSize"] = list(terminal_size() or (0, 0))
    body: dict[str, Any] = {
        "Image": image, "Cmd": list(command) or None, "Env": env,
        "Labels": _labels(o["label"]), "Tty": o["tty"], "OpenStdin": o["interactive"],
        "AttachStdin": o["interactive"], "AttachStdout": True, "AttachStderr": True,
        "HostConfig": host_config,
    }
    from .mounts import MountFlagError, apply as apply_mounts, parse_mount_flag
    parsed_mounts = []
    for value in o["mount"]:
        try:
            parsed_mounts.append(parse_mount_flag(value))
        except MountFlagError as exc:
            _fail(f"invalid argument \"{value}\" for \"--mount\" flag: {exc}", 125)
    apply_mounts(o["volume"], parsed_mounts, o["tmpfs"], body, host_config)
    healthcheck = _healthcheck(o)
    if healthcheck:
        body["Healthcheck"] = healthcheck
    if o["entrypoint"] is not None:
        body["Entrypoint"] = [o["entrypoint"]] if o["entrypoint"] else [""]
    for key, flag in (("WorkingDir", "workdir"), ("User", "user"), ("Hostname", "hostname"),
                      ("Domainname", "domainname"), ("StopSignal", "stop_signal"),
                      ("StopTimeout", "stop_timeout")):
        if o[flag] is not None:
            body[key] = o[flag]
    return body


def _security_opts(opts: tuple[str, ...]) -> list[str]:
    """As the docker CLI: `seccomp=<file>` is sent as `seccomp=<the file's compact JSON>`."""
    result = []
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
        if key == "seccomp" and sep and value not in ("unconfined", "builtin"):
            try:
                with open(value, "rb") as f:
                    content = f.read().decode()
            except OSError as exc:
                _fail(f"opening seccomp profile ({value}) failed: open {value}: "
                      f"{(exc.strerror or str(exc)).lower()}", 125)
            try:
                compact = json.dumps(json.loads(content), separators=(",", ":"))
            except ValueError as exc:
                at = getattr(exc, "pos", len(content))
                reason = ("unexpected end of JSON input" if at >= len(content.rstrip()) else
                          f"invalid character '{content[at]}' looking for beginning of value")
                _fail(f"compacting json for seccomp profile ({value}) failed: {reason}", 125)
            opt = f"seccomp={compact}"
        result.append(opt)
    return result


def _healthcheck(o: dict[str, Any]) -> dict[str, Any] | None:
    from ..units import parse_duration

    if o["no_healthcheck"]:
        return {"Test": ["NONE"]}
    check: dict[str, Any] = {}
    if o["health_cmd"]:
        check["Test"] = ["CMD-SHELL", o["health_cmd"]]
    for key, flag in (("Interval", "health_interval"), ("Timeout", "health_timeout"),
                      ("StartPeriod", "health_start_period")):
        if o[flag]:
            try:
                check[key] = parse_duration(o[flag])
            except ValueError as exc:
                _fail(f'invalid argument "{o[flag]}" for "--{flag.replace("_", "-")}" flag: '
                      f"{exc}", 125)
    if o["health_retries"] is not None:
        check["Retries"] = o["health_retries"]
    return check or None


def _create(api: APIClient, image: str, command: tuple[str, ...], o: dict[str, Any],
            stdin_once: bool = False) -> str:
    body = _build_body(image, command, o)
    body["StdinOnce"] = stdin_once
    try:
        return api_containers.create(api, body, o["name"])["Id"]
    except APIError as exc:
        if exc.status != 404 or not exc.message.startswith("No such image"):
            raise
    from .distribution import pull_image
    from .jsonstream import StreamError

    reference = image if ":" in image.rsplit("/", 1)[-1] or "@" in image else f"{image}:latest"
    print(f"Unable to find image '{reference}' locally", file=sys.stderr)
    try:
        pull_image(api, image, o.get("platform"), out=sys.stderr)
    except StreamError as exc:
        _fail(f"dockyard: {exc}", 125)
    return api_containers.create(api, body, o["name"])["Id"]


def _start_exit_code(message: str) -> int:
    """The docker CLI's mapping of start errors to exit codes."""
    if "executable file not found" in message or "no such file or directory" in message:
        return 127
    if "permission denied" in message:
        return 126
    return 125


@click.command(context_settings={"allow_interspersed_args": False,
                                 "help_option_names": ["--help"]})
@container_options
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def create(ctx: click.Context, image: str, command: tuple[str, ...], **o: Any) -> None:
    """Create a new container."""
    if o["detach_keys"]:
        from .interactive import parse_keys
        parse_keys(o["detach_keys"])
    try:
        print(_create(_api(ctx), image, command, o))
    except APIError as exc:
        _daemon_error(exc, 125, "")


@click.command(context_settings={"allow_interspersed_args": False,
                                 "help_option_names": ["--help"]})
@container_options
@click.option("-d", "--detach", is_flag=True)
@click.option("--sig-proxy", type=click.BOOL, default=True, is_flag=False, flag_value=True)
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(ctx: click.Context, image: str, command: tuple[str, ...], detach: bool,
        sig_proxy: bool, **o: Any) -> None:
    """Create and run a new container from an image."""
    from . import interactive

    api = _api(ctx)
    keys = interactive.parse_keys(interactive.configured_detach_keys(o["detach_keys"]))
    if o["tty"] and o["interactive"] and not detach:
        interactive.require_tty_input()
    try:
        cid = _create(api, image, command, o, stdin_once=o["interactive"] and not detach)
    except APIError as exc:
        _daemon_error(exc, 125)
    if detach:
        try:
            api_containers.start(api, cid)
        except APIError as exc:
            _daemon_error(exc, _start_exit_code(exc.message))
        print(cid)
        return
    sock, stream = api_containers.attach_socket(api, cid, o["interactive"], o["detach_keys"])
    waiter = api_containers.wait_begin(api, cid, "removed" if o["auto_remove"] else "next-exit")
    try:
        api_containers.start(api, cid)
    except APIError as exc:
        if o["auto_remove"]:
            try:
                api_containers.remove(api, cid, force=True)
            except APIError:
                pass
        _daemon_error(exc, _start_exit_code(exc.message))
    if _session(api, cid, sock, stream, tty=o["tty"], stdin=o["interactive"], keys=keys,
                sig_proxy=sig_proxy):
        return  # detached: the container keeps running
    result = api_containers.wait_result(waiter)
    sys.exit(result.get("StatusCode", 0))


def _session(api: APIClient, cid: str, sock: Any, stream: Any, *, tty: bool, stdin: bool,
             keys: bytes, sig_proxy: bool) -> bool:
    """Relay an attached container's streams; True if the user detached."""
    from .interactive import Session

    return Session(sock, stream, tty=tty, stdin=stdin, keys=keys,
                   resize=lambda rows, cols: api_containers.resize(api, cid, rows, cols),
                   forward_signal=(lambda sig: api_containers.kill(api, cid, str(sig)))
                   if sig_proxy else None).run()


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("--no-stdin", is_flag=True)
@click.option("--sig-proxy", type=click.BOOL, default=True, is_flag=False, flag_value=True)
@click.option("--detach-keys", default=None)
@click.argument("container_ref", metavar="CONTAINER")
@click.pass_context
def attach(ctx: click.Context, container_ref: str, no_stdin: bool, sig_proxy: bool,
           detach_keys: str | None) -> None:
    """Attach local standard input, output, and error streams to a running container."""
    from . import interactive

    api = _api(ctx)
    keys = interactive.parse_keys(interactive.configured_detach_keys(detach_keys))
    try:
        info = api_containers.inspect(api, container_ref)
    except APIError as exc:
        _daemon_error(exc, 1, "")
    if not info["State"]["Running"]:
        _fail("You cannot attach to a stopped container, start it first")
    if info["State"]["Paused"]:
        _fail("You cannot attach to a paused container, unpause it first")
    cid, config = info["Id"], info["Config"]
    stdin = bool(config.get("OpenStdin")) and not no_stdin
    tty = bool(config.get("Tty"))
    if tty and stdin:
        interactive.require_tty_input()
    waiter = api_containers.wait_begin(api, cid, "not-running")
    sock, stream = api_containers.attach_socket(api, cid, stdin, detach_keys)
    if _session(api, cid, sock, stream, tty=tty, stdin=stdin, keys=keys,
                sig_proxy=sig_proxy):
        _fail("read escape sequence")
    sys.exit(api_containers.wait_result(waiter).get("StatusCode", 0))


# --- lifecycle --------------------------------------------------------------------------------

@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-a", "--attach", is_flag=True)
@click.option("-i", "--interactive", is_flag=True)
@click.option("--detach-keys", default=None)
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def start(ctx: click.Context, containers: tuple[str, ...], attach: bool,
          interactive: bool, detach_keys: str | None) -> None:
    """Start one or more stopped containers."""
    api = _api(ctx)
    if attach or interactive:
        from . import interactive as session

        keys = session.parse_keys(session.configured_detach_keys(detach_keys))
        try:
            info = api_containers.inspect(api, containers[0])
        except APIError as exc:
            _daemon_error(exc, 1, "")
        cid, config = info["Id"], info["Config"]
        stdin = interactive and bool(config.get("OpenStdin"))
        tty = bool(config.get("Tty"))
        if tty and stdin:
            session.require_tty_input()
        sock, stream = api_containers.attach_socket(api, cid, stdin, detach_keys)
        waiter = api_containers.wait_begin(api, cid, "next-exit")
        try:
            api_containers.start(api, cid)
        except APIError as exc:
            _daemon_error(exc, 1, "")
        if _session(api, cid, sock, stream, tty=tty, stdin=stdin, keys=keys,
                    sig_proxy=True):
            return
        sys.exit(api_containers.wait_result(waiter).get("StatusCode", 0))
    for_each(containers, lambda ref: api_containers.start(api, ref))


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-t", "--time", "timeout", type=int, default=None)
@click.option("-s", "--signal", default=None)
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def stop(ctx: click.Context, containers: tuple[str, ...], timeout: int | None,
         signal: str | None) -> None:
    """Stop one or more running containers."""
    api = _api(ctx)
    for_each(containers, lambda ref: api_containers.stop(api, ref, timeout, signal))


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-t", "--time", "timeout", type=int, default=None)
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def restart(ctx: click.Context, containers: tuple[str, ...], timeout: int | None) -> None:
    """Restart one or more containers."""
    api = _api(ctx)
    for_each(containers, lambda ref: api_containers.restart(api, ref, timeout))


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-s", "--signal", default=None)
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def kill(ctx: click.Context, containers: tuple[str, ...], signal: str | None) -> None:
    """Kill one or more running containers."""
    api = _api(ctx)
    for_each(containers, lambda ref: api_containers.kill(api, ref, signal))


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--force", is_flag=True)
@click.option("-v", "--volumes", is_flag=True)
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def rm(ctx: click.Context, containers: tuple[str, ...], force: bool, volumes: bool) -> None:
    """Remove one or more containers."""
    api = _api(ctx)
    for_each(containers, lambda ref: api_containers.remove(api, ref, force, volumes))


@click.command(context_settings={"help_option_names": ["--help"]})
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def wait(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Block until one or more containers stop, then print their exit codes."""
    api = _api(ctx)
    for_each(containers, lambda ref: [str(api_containers.wait(api, ref)["StatusCode"])])


@click.command(context_settings={"help_option_names": ["--help"]})
@click.argument("container")
@click.argument("new_name")
@click.pass_context
def rename(ctx: click.Context, container: str, new_name: str) -> None:
    """Rename a container."""
    api_containers.rename(_api(ctx), container, new_name)


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--follow", is_flag=True)
@click.option("-t", "--timestamps", is_flag=True)
@click.option("-n", "--tail", default="all")
@click.option("--since", default=None)
@click.option("--until", default=None)
@click.option("--details", is_flag=True)
@click.argument("container")
@click.pass_context
def logs(ctx: click.Context, container: str, follow: bool, timestamps: bool, tail: str,
         since: str | None, until: str | None, details: bool) -> None:
    """Fetch the logs of a container."""
    api = _api(ctx)
    info = api_containers.inspect(api, container)
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for kind, payload in api_containers.logs(api, container, follow=follow,
                                             timestamps=timestamps, tail=tail, since=since,
                                             until=until, tty=info["Config"].get("Tty", False)):
        target = err if kind == 2 else out
        target.write(payload)
        target.flush()


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--force", is_flag=True)
@click.option("--filter", "filters", multiple=True)
@click.pass_context
def prune(ctx: click.Context, force: bool, filters: tuple[str, ...]) -> None:
    """Remove all stopped containers."""
    if not force:
        click.echo("WARNING! This will remove all stopped containers.")
        if not click.confirm("Are you sure you want to continue?", default=False):
            return
    result = api_containers.prune(_api(ctx), _parse_filters(filters))
    deleted = result.get("ContainersDeleted") or []
    if deleted:
        print("Deleted Containers:")
        for cid in deleted:
            print(cid)
        print()
    from ..units import human_size
    print(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}")


def _parse_filters(values: tuple[str, ...]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            _fail("bad format of filter (expected name=value)", 125)
        filters.setdefault(key, []).append(value)
    return filters


# --- ps -----------------------------------------------------------------------------------------

def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def ps_row(c: dict[str, Any], no_trunc: bool, now: float) -> dict[str, str]:
    from ..units import human_duration

    command = c.get("Command", "")
    if not no_trunc:
        command = _ellipsis(command, 20)
    cid = c["Id"] if no_trunc else c["Id"][:_SHORT]
    image = c.get("Image", "")
    if image.startswith("sha256:") and not no_trunc:
        image = image[7:19]
    return {
        "ID": cid, "Image": image, "Command": json.dumps(command, ensure_ascii=False),
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(c["Created"])),
        "RunningFor": f"{human_duration(now - c['Created'])} ago",
        "Ports": "", "State": c.get("State", ""), "Status": c.get("Status", ""),
        "Names": ",".join(n.lstrip("/") for n in c.get("Names", [])),
        "Labels": ",".join(f"{k}={v}" for k, v in (c.get("Labels") or {}).items()),
        "Size": "", "Mounts": ",".join(
            m.get("Name") or m.get("Source", "") if no_trunc else
            _ellipsis(m.get("Name") or m.get("Source", ""), 15) for m in c.get("Mounts") or []),
        "Networks": ",".join(
            (c.get("NetworkSettings") or {}).get("Networks") or {}),
    }


_PS_COLUMNS = [("CONTAINER ID", "ID"), ("IMAGE", "Image"), ("COMMAND", "Command"),
               ("CREATED", "RunningFor"), ("STATUS", "Status"), ("PORTS", "Ports"),
               ("NAMES", "Names")]


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-a", "--all", "all_", is_flag=True)
@click.option("-q", "--quiet", is_flag=True)
@click.option("-n", "--last", type=int, default=-1)
@click.option("-l", "--latest", is_flag=True)
@click.option("--no-trunc", is_flag=True)
@click.option("-s", "--size", is_flag=True)
@click.option("-f", "--filter", "filters", multiple=True)
@click.option("--format", "fmt", default=None)
@click.pass_context
def ps(ctx: click.Context, all_: bool, quiet: bool, last: int, latest: bool, no_trunc: bool,
       size: bool, filters: tuple[str, ...], fmt: str | None) -> None:
    """List containers."""
    limit = 1 if latest else (last if last > 0 else None)
    items = api_containers.list_(_api(ctx), all_=all_, limit=limit,
                                 filters=_parse_filters(filters) or None)
    now = time.time()
    if quiet:
        for c in items:
            print(c["Id"] if no_trunc else c["Id"][:_SHORT])
        return
    rows = [ps_row(c, no_trunc, now) for c in items]
    from .formatting import render_table, render_template

    if fmt and fmt != "table":
        if fmt == "json":
            for row in rows:
                print(json.dumps(row))
            return
        for row in rows:
            print(render_template(fmt.removeprefix("table ").replace("\\t", "\t"), row))
        return
    print(render_table([h for h, _ in _PS_COLUMNS],
                       [[row[k] for _, k in _PS_COLUMNS] for row in rows]), end="")


@click.command("exec", context_settings={"allow_interspersed_args": False,
                                         "help_option_names": ["--help"]})
@click.option("-d", "--detach", is_flag=True)
@click.option("-e", "--env", multiple=True)
@click.option("--env-file", multiple=True)
@click.option("-u", "--user", default=None)
@click.option("-w", "--workdir", default=None)
@click.option("--privileged", is_flag=True)
@click.option("-i", "--interactive", is_flag=True)
@click.option("-t", "--tty", is_flag=True)
@click.option("--detach-keys", default=None)
@click.argument("container_ref", metavar="CONTAINER")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_(ctx: click.Context, container_ref: str, command: tuple[str, ...], detach: bool,
          env: tuple[str, ...], env_file: tuple[str, ...], user: str | None,
          workdir: str | None, privileged: bool, interactive: bool, tty: bool,
          detach_keys: str | None) -> None:
    """Execute a command in a running container."""
    from . import interactive as session

    api = _api(ctx)
    keys_spec = session.configured_detach_keys(detach_keys)
    keys = session.parse_keys(keys_spec)
    stdin = interactive and not detach
    if tty and stdin:
        session.require_tty_input()
    body: dict[str, Any] = {
        "Cmd": list(command), "Env": _parse_env_files(env_file) + _env(env),
        "User": user or "", "WorkingDir": workdir or "", "Privileged": privileged,
        "AttachStdin": stdin, "AttachStdout": not detach, "AttachStderr": not detach,
        "Tty": tty, "Detach": detach, "DetachKeys": detach_keys or ""}
    size = session.terminal_size() if tty else None
    if size:
        body["ConsoleSize"] = list(size)
    try:
        exec_id = api_containers.exec_create(api, container_ref, body)
        hijacked = api_containers.exec_start(api, exec_id, detach, tty, size)
    except APIError as exc:
        _daemon_error(exc, _start_exit_code(exc.message) if exc.status == 400 else 1, "")
    if hijacked is None:
        return
    sock, stream = hijacked
    detached = session.Session(
        sock, stream, tty=tty, stdin=stdin, keys=keys,
        resize=lambda rows, cols: api_containers.exec_resize(api, exec_id, rows, cols)).run()
    if detached:
        _fail("read escape sequence")
    sys.exit(api_containers.exec_inspect(api, exec_id).get("ExitCode") or 0)


@click.group(context_settings={"help_option_names": ["--help"]})
def container() -> None:
    """Manage containers."""


def register(cli: click.Group) -> None:
    commands = {"run": run, "create": create, "start": start, "stop": stop,
                "restart": restart, "kill": kill, "rm": rm, "ps": ps, "logs": logs,
                "wait": wait, "rename": rename, "exec": exec_, "attach": attach}
    for name, command in commands.items():
        cli.add_command(command, name)
        container.add_command(command, name)
    container.add_command(ps, "ls")
    container.add_command(ps, "list")
    container.add_command(prune, "prune")
    from .inspection import COMMANDS as inspection_commands
    from .system import inspect_containers
    container.add_command(inspect_containers, "inspect")
    for name, command in inspection_commands.items():
        container.add_command(command, name)
    from .stats import stats
    container.add_command(stats, "stats")
    from .common import lazy_command
    container.add_command(lazy_command("cp", "cp", "Copy files/folders between a container "
                                       "and the local filesystem"), "cp")
    container.add_command(lazy_command("commit", "commit", "Create a new image from a "
                                       "container's changes"), "commit")
    cli.add_command(container, "container")
