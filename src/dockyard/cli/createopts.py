"""The flags `create` and `run` share, and the create request they make: values are
checked as the docker CLI's flag types check them (sizes, CPUs, durations, ulimits, --mount),
so a bad value is a flag error with Docker's text and exit code 125."""
from __future__ import annotations

import os
from typing import Any

from ..dnsopts import dns_flag, dns_search_flag, extra_host_flag
from .common import fail
from .flags import Bool, Flag, Int, List, Opts, Str


def _bytes(value: str) -> int:
    """opts.MemBytes: a size with an optional unit; "" is 0 and "-1" unlimited."""
    if not value:
        return 0
    if value == "-1":
        return -1
    from ..units import parse_bytes
    try:
        return parse_bytes(value)
    except ValueError:
        raise ValueError(f"invalid size: '{value}'") from None


def _nano_cpus(value: str) -> int:
    try:
        return int(round(float(value) * 1e9))
    except ValueError:
        raise ValueError(f"failed to parse {value} as a rational number") from None


def _duration(value: str) -> int:
    from ..units import parse_duration
    return parse_duration(value)


def _ulimit(value: str) -> dict[str, Any]:
    name, _, limits = value.partition("=")
    soft, _, hard = limits.partition(":")
    try:
        return {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}
    except ValueError:
        raise ValueError("invalid ulimit") from None


def _mount(value: str) -> dict[str, Any]:
    from .mounts import parse_mount_flag
    return parse_mount_flag(value)       # MountFlagError is a ValueError


CREATE_FLAGS: tuple[Flag, ...] = (
    Str("--name", "Assign a name to the container"),
    List("-e, --env", "Set environment variables"),
    List("--env-file", "Read in a file of environment variables"),
    Str("-w, --workdir", "Working directory inside the container"),
    Str("-u, --user", 'Username or UID (format: "<name|uid>[:<group|gid>]")'),
    Str("--entrypoint", "Overwrite the default ENTRYPOINT of the image"),
    Str("-h, --hostname", "Container host name"),
    Str("--domainname", "Container NIS domain name"),
    List("-l, --label", "Set meta data on a container"),
    Str("-m, --memory", "Memory limit", meta="bytes", check=_bytes),
    Str("--memory-swap", "Swap limit equal to memory plus swap: '-1' to enable unlimited "
        "swap", meta="bytes", check=_bytes),
    Str("--memory-reservation", "Memory soft limit", meta="bytes", check=_bytes),
    Str("--cpus", "Number of CPUs", meta="decimal", check=_nano_cpus),
    Int("-c, --cpu-shares", "CPU shares (relative weight)"),
    Int("--cpu-quota", "Limit CPU CFS (Completely Fair Scheduler) quota"),
    Int("--cpu-period", "Limit CPU CFS (Completely Fair Scheduler) period"),
    Str("--cpuset-cpus", "CPUs in which to allow execution (0-3, 0,1)"),
    Str("--cpuset-mems", "MEMs in which to allow execution (0-3, 0,1)"),
    Int("--pids-limit", "Tune container pids limit (set -1 for unlimited)"),
    Bool("--read-only", "Mount the container's root filesystem as read only"),
    Str("--network", "Connect a container to a network", meta="network"),
    Str("--net", hidden=True, dest="network"),
    List("-p, --publish", "Publish a container's port(s) to the host"),
    Bool("-P, --publish-all", "Publish all exposed ports to random ports"),
    List("--expose", "Expose a port or a range of ports"),
    Str("--ip", "IPv4 address (e.g., 172.30.100.104)"),
    Str("--ip6", "IPv6 address (e.g., 2001:db8::33)"),
    Str("--mac-address", "Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    List("--network-alias", "Add network-scoped alias for the container"),
    List("--link", "Add link to another container"),
    List("--add-host", "Add a custom host-to-IP mapping", check=extra_host_flag),
    List("--dns", "Set custom DNS servers", check=dns_flag),
    List("--dns-option", "Set DNS options"),
    List("--dns-opt", hidden=True, dest="dns_option"),
    List("--dns-search", "Set custom DNS search domains", check=dns_search_flag),
    List("--cap-add", "Add Linux capabilities"),
    List("--cap-drop", "Drop Linux capabilities"),
    Bool("--privileged", "Give extended privileges to this container"),
    List("--security-opt", "Security Options"),
    List("--ulimit", "Ulimit options", meta="ulimit", check=_ulimit),
    Str("--runtime", "Runtime to use for this container"),
    Str("--log-driver", "Logging driver for the container"),
    List("--log-opt", "Log driver options"),
    Str("--stop-signal", "Signal to stop the container"),
    Int("--stop-timeout", "Timeout (in seconds) to stop a container"),
    Str("--restart", "Restart policy to apply when a container exits"),
    Bool("--rm", "Automatically remove the container and its associated anonymous volumes "
         "when it exits"),
    Str("--shm-size", "Size of /dev/shm", meta="bytes", check=_bytes),
    List("--sysctl", "Sysctl options", meta="map"),
    List("--group-add", "Add additional groups to join"),
    Int("--oom-score-adj", "Tune host's OOM preferences (-1000 to 1000)"),
    Bool("--init", "Run an init inside the container that forwards signals and reaps "
         "processes"),
    Str("--health-cmd", "Command to run to check health"),
    Str("--health-interval", "Time between running the check (ms|s|m|h) (default 0s)",
        meta="duration", check=_duration),
    Str("--health-timeout", "Maximum time to allow one check to run (ms|s|m|h) (default 0s)",
        meta="duration", check=_duration),
    Int("--health-retries", "Consecutive failures needed to report unhealthy"),
    Str("--health-start-period", "Start period for the container to initialize before "
        "starting health-retries countdown (ms|s|m|h) (default 0s)", meta="duration",
        check=_duration),
    Bool("--no-healthcheck", "Disable any container-specified HEALTHCHECK"),
    Bool("-i, --interactive", "Keep STDIN open even if not attached"),
    Bool("-t, --tty", "Allocate a pseudo-TTY"),
    Str("--detach-keys", "Override the key sequence for detaching a container"),
    List("-v, --volume", "Bind mount a volume"),
    List("--mount", "Attach a filesystem mount to the container", meta="mount",
         check=_mount),
    List("--tmpfs", "Mount a tmpfs directory"),
    List("--volumes-from", "Mount volumes from the specified container(s)"),
    Str("--volume-driver", "Optional volume driver for the container"),
)


def read_env_files(paths: list[str]) -> list[str]:
    """--env-file: KEY=value lines; a bare KEY takes the client's value; # comments."""
    env = []
    for path in paths:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError as exc:
            fail(f"open {path}: {exc.strerror.lower() if exc.strerror else exc}", 125)
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


def env_values(values: list[str]) -> list[str]:
    """-e: NAME=value as given; a bare NAME takes the value from the client's environment."""
    out = []
    for item in values:
        if "=" in item:
            out.append(item)
        elif item in os.environ:
            out.append(f"{item}={os.environ[item]}")
    return out


def restart_policy(value: str | None) -> dict[str, Any]:
    if not value:
        return {"Name": "no", "MaximumRetryCount": 0}
    name, _, count = value.partition(":")
    return {"Name": name, "MaximumRetryCount": int(count) if count else 0}


def _pairs(values: list[str]) -> dict[str, str]:
    return dict(item.partition("=")[::2] for item in values)


def build_body(image: str, command: list[str], o: Opts) -> dict[str, Any]:
    """The POST /containers/create body for the parsed flags."""
    host_config: dict[str, Any] = {
        "AutoRemove": o.rm, "Privileged": o.privileged,
        "ReadonlyRootfs": o.read_only, "NetworkMode": o.network or "default",
        "CapAdd": list(o.cap_add) or None, "CapDrop": list(o.cap_drop) or None,
        "SecurityOpt": _security_opts(o.security_opt) or None,
        "Ulimits": list(o.ulimit) or None,
        "Memory": o.memory or 0, "MemorySwap": o.memory_swap or 0,
        "MemoryReservation": o.memory_reservation or 0,
        "NanoCpus": o.cpus or 0, "CpuShares": o.cpu_shares or 0,
        "CpuQuota": o.cpu_quota or 0, "CpuPeriod": o.cpu_period or 0,
        "CpusetCpus": o.cpuset_cpus or "", "CpusetMems": o.cpuset_mems or "",
        "PidsLimit": o.pids_limit, "RestartPolicy": restart_policy(o.restart),
        "LogConfig": {"Type": o.log_driver or "", "Config": _pairs(o.log_opt)},
        "Sysctls": _pairs(o.sysctl) or None,
        "GroupAdd": list(o.group_add) or None, "OomScoreAdj": o.oom_score_adj or 0,
        "Init": True if o.init else None, "Links": list(o.link) or None,
        "ExtraHosts": list(o.add_host) or None, "Dns": list(o.dns),
        "DnsOptions": list(o.dns_option), "DnsSearch": list(o.dns_search),
    }
    if o.runtime:
        host_config["Runtime"] = o.runtime
    if o.shm_size is not None:
        host_config["ShmSize"] = o.shm_size
    if o.tty:
        from .interactive import terminal_size
        host_config["ConsoleSize"] = list(terminal_size() or (0, 0))
    body: dict[str, Any] = {
        "Image": image, "Cmd": list(command) or None,
        "Env": read_env_files(o.env_file) + env_values(o.env),
        "Labels": _pairs(o.label), "Tty": o.tty, "OpenStdin": o.interactive,
        "AttachStdin": o.interactive, "AttachStdout": True, "AttachStderr": True,
        "HostConfig": host_config,
    }
    if o.volumes_from:
        host_config["VolumesFrom"] = list(o.volumes_from)
    if o.volume_driver:
        host_config["VolumeDriver"] = o.volume_driver
    if o.volume or o.mount or o.tmpfs:
        from .mounts import apply as apply_mounts
        apply_mounts(tuple(o.volume), list(o.mount), tuple(o.tmpfs), body, host_config)
    from .portspec import apply as apply_ports
    apply_ports(o, body, host_config)
    healthcheck = _healthcheck(o)
    if healthcheck:
        body["Healthcheck"] = healthcheck
    if o.entrypoint is not None:
        body["Entrypoint"] = [o.entrypoint] if o.entrypoint else [""]
    for key, flag in (("WorkingDir", "workdir"), ("User", "user"), ("Hostname", "hostname"),
                      ("Domainname", "domainname"), ("StopSignal", "stop_signal"),
                      ("StopTimeout", "stop_timeout")):
        if o[flag] is not None:
            body[key] = o[flag]
    return body


def _security_opts(opts: list[str]) -> list[str]:
    """As the docker CLI: `seccomp=<file>` is sent as `seccomp=<the file's compact JSON>`."""
    result = []
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
        if key == "seccomp" and sep and value not in ("unconfined", "builtin"):
            import json

            from .. import gojson

            try:
                with open(value, "rb") as f:
                    content = f.read().decode()
            except OSError as exc:
                fail(f"opening seccomp profile ({value}) failed: open {value}: "
                     f"{(exc.strerror or str(exc)).lower()}", 125)
            try:
                compact = json.dumps(gojson.loads(content), separators=(",", ":"))
            except gojson.GoJSONError as exc:
                fail(f"compacting json for seccomp profile ({value}) failed: {exc}", 125)
            opt = f"seccomp={compact}"
        result.append(opt)
    return result


def _healthcheck(o: Opts) -> dict[str, Any] | None:
    if o.no_healthcheck:
        return {"Test": ["NONE"]}
    check: dict[str, Any] = {}
    if o.health_cmd:
        check["Test"] = ["CMD-SHELL", o.health_cmd]
    for key, flag in (("Interval", "health_interval"), ("Timeout", "health_timeout"),
                      ("StartPeriod", "health_start_period")):
        if o[flag] is not None:
            check[key] = o[flag]
    if o.health_retries is not None:
        check["Retries"] = o.health_retries
    return check or None
