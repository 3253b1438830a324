"""Build an OCI runtime spec (config.json) from a container record and its image config.

Like containerd's oci package, the spec is built by composing small option functions; each
`with_*` function changes one aspect of the spec and nothing else.
"""
from __future__ import annotations

from typing import Any, Callable

from ..errors import InvalidParameter
from ..linux import cgroupfs
from .capabilities import ALL_CAPS, DEFAULT_CAPS, normalise_cap
from .user import resolve_user

SpecOpt = Callable[[dict[str, Any]], None]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MASKED_PATHS = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                "/sys/devices/virtual/powercap"]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

# Docker's default device cgroup rules: deny all, then allow these (type, major, minor, access).
DEFAULT_DEVICE_RULES = [
    ("c", None, None, "m"), ("b", None, None, "m"),
    ("c", 1, 3, "rwm"), ("c", 1, 8, "rwm"), ("c", 1, 7, "rwm"), ("c", 5, 0, "rwm"),
    ("c", 1, 5, "rwm"), ("c", 1, 9, "rwm"), ("c", 5, 1, "rwm"), ("c", 136, None, "rwm"),
    ("c", 5, 2, "rwm"), ("c", 10, 200, "rwm"),
]


def base_spec() -> dict[str, Any]:
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": [], "env": [],
                    "cwd": "/", "capabilities": {}, "noNewPrivileges": False},
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "",
        "mounts": [],
        "linux": {"namespaces": [], "resources": {"devices": []}, "cgroupsPath": "",
                  "maskedPaths": [], "readonlyPaths": []},
        "annotations": {},
    }


# --- option functions -----------------------------------------------------------------------

def with_root(path: str, readonly: bool) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        spec["root"] = {"path": path, "readonly": readonly}
    return opt


def with_process(args: list[str], env: list[str], cwd: str, tty: bool) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        spec["process"].update(args=args, env=env, cwd=cwd or "/", terminal=tty)
    return opt


def with_user(uid: int, gid: int, additional: list[int]) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        user: dict[str, Any] = {"uid": uid, "gid": gid}
        if additional:
            user["additionalGids"] = additional
        spec["process"]["user"] = user
    return opt


def with_hostname(hostname: str, domainname: str) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        spec["hostname"] = hostname
        if domainname:
            spec["domainname"] = domainname
    return opt


def with_namespaces(network_mode: str, pid_mode: str = "") -> SpecOpt:
    """A new namespace of each kind, except the host's network (`--network host`) and
    process table (`--pid host`)."""
    def opt(spec: dict[str, Any]) -> None:
        kinds = ["ipc", "uts", "mount"] if pid_mode == "host" else ["pid", "ipc", "uts", "mount"]
        if network_mode != "host":
            kinds.append("network")
        if cgroupfs.unified():
            kinds.append("cgroup")
        spec["linux"]["namespaces"] = [{"type": k} for k in kinds]
    return opt


def with_default_mounts(shm_size: int, privileged: bool) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        spec["mounts"] = [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                         "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "rw" if privileged else "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime",
                         "rw" if privileged else "ro"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}"]},
        ]
    return opt


def with_bind_files(files: dict[str, str], readonly_root: bool) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        for destination, source in files.items():
            spec["mounts"].append({"destination": destination, "type": "bind",
                                   "source": source, "options": ["rbind", "rprivate"]})
    return opt


def with_mounts(mounts: list[dict[str, Any]]) -> SpecOpt:
    """The user's binds and tmpfs mounts (-v, --mount, --tmpfs), already in OCI form: each
    replaces a default mount at the same destination, and parents go before children (as
    Docker sorts them), so `/a` never covers `/a/b`. Shared or slave binds set the root's
    propagation."""
    def opt(spec: dict[str, Any]) -> None:
        if not mounts:
            return
        taken = {m["destination"] for m in mounts}
        ordered = sorted(mounts, key=lambda m: len([p for p in m["destination"].split("/")
                                                    if p]))
        spec["mounts"] = [m for m in spec["mounts"] if m["destination"] not in taken] + \
            [dict(m, options=list(m["options"])) for m in ordered]
        # as moby: a shared bind needs the root rshared, a slave one rslave, for host mounts
        # to propagate in (and, shared, the container's out)
        options = {o for m in mounts for o in m.get("options") or []}
        if options & {"shared", "rshared"}:
            spec["linux"]["rootfsPropagation"] = "rshared"
        elif options & {"slave", "rslave"}:
            spec["linux"]["rootfsPropagation"] = "rslave"
    return opt


def with_init(init_binary: str | None) -> SpecOpt:
    """`--init`: a tiny init at PID 1 (bind-mounted where Docker puts docker-init)."""
    def opt(spec: dict[str, Any]) -> None:
        if not init_binary:
            return
        spec["mounts"].append({"destination": "/sbin/docker-init", "type": "bind",
                               "source": init_binary, "options": ["rbind", "ro"]})
        spec["process"]["args"] = ["/sbin/docker-init", "--", *spec["process"]["args"]]
    return opt


def with_capabilities(cap_add: list[str], cap_drop: list[str], privileged: bool) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        if privileged:
            caps = list(ALL_CAPS)
        else:
            add = [normalise_cap(c) for c in cap_add]
            drop = [normalise_cap(c) for c in cap_drop]
            caps = list(DEFAULT_CAPS)
            if "ALL" in drop:
                caps = []
            else:
                caps = [c for c in caps if c not in drop]
            if "ALL" in add:
                caps = list(ALL_CAPS)
            else:
                caps += [c for c in add if c not in caps]
        # A non-root process loses effective/permitted at exec (no ambient set), as in Docker.
        spec["process"]["capabilities"] = {"bounding": caps, "effective": caps,
                                           "permitted": caps}
    return opt


def with_security(privileged: bool, security_opt: list[str], masked: list[str] | None,
                  readonly: list[str] | None) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        for item in security_opt:
            key, _, value = item.replace("=", ":", 1).partition(":")
            if key == "no-new-privileges":
                spec["process"]["noNewPrivileges"] = value in ("", "true")
            elif key == "seccomp":
                continue  # with_seccomp
            elif key in ("apparmor", "label"):
                continue  # no AppArmor or SELinux on this host, as dockerd ignores them
            else:
                raise InvalidParameter(f"invalid --security-opt 2: \"{item}\"")
        if privileged:
            spec["linux"]["maskedPaths"] = []
            spec["linux"]["readonlyPaths"] = []
        else:
            spec["linux"]["maskedPaths"] = list(MASKED_PATHS if masked is None else masked)
            spec["linux"]["readonlyPaths"] = list(READONLY_PATHS if readonly is None
                                                  else readonly)
    return opt


def seccomp_profile(security_opt: list[str]) -> str:
    """The `seccomp=` value: "unconfined", "builtin" (also when absent) or a JSON profile."""
    profile = "builtin"
    for item in security_opt:
        key, _, value = item.partition("=" if "=" in item else ":")  # as dockerd splits
        if key == "seccomp":
            profile = value or "builtin"
    return profile


def with_seccomp(privileged: bool, security_opt: list[str]) -> SpecOpt:
    """`linux.seccomp` from the built-in or the given profile, for the container's bounding
    capabilities (run after with_capabilities). Privileged and unconfined: no filter."""
    def opt(spec: dict[str, Any]) -> None:
        from . import seccomp
        profile = seccomp_profile(security_opt)
        if privileged or profile == "unconfined":
            spec["linux"].pop("seccomp", None)
            return
        if profile == "builtin":
            from .seccomp_default import profile as builtin
            parsed = builtin()
        else:
            parsed = seccomp.parse(profile)
        section = seccomp.to_oci(parsed, spec["process"]["capabilities"].get("bounding") or [])
        if section is None:
            spec["linux"].pop("seccomp", None)
        else:
            spec["linux"]["seccomp"] = section
    return opt


def with_rlimits(ulimits: list[dict[str, Any]] | None) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        rlimits = []
        for item in ulimits or []:
            name = str(item.get("Name", "")).upper()
            rlimits.append({"type": f"RLIMIT_{name}", "soft": int(item.get("Soft", 0)),
                            "hard": int(item.get("Hard", 0))})
        if rlimits:
            spec["process"]["rlimits"] = rlimits
    return opt


def with_resources(hc: dict[str, Any], cgroups_path: str) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        resources: dict[str, Any] = {"devices": [{"allow": False, "access": "rwm"}]}
        for kind, major, minor, access in DEFAULT_DEVICE_RULES:
            rule: dict[str, Any] = {"allow": True, "type": kind, "access": access}
            if major is not None:
                rule["major"] = major
            if minor is not None:
                rule["minor"] = minor
            resources["devices"].append(rule)
        if hc.get("Privileged"):
            resources["devices"] = [{"allow": True, "access": "rwm"}]
        memory: dict[str, Any] = {}
        limit = hc.get("Memory") or 0
        if limit > 0:
            memory["limit"] = limit
            swap = hc.get("MemorySwap") or 0
            memory["swap"] = -1 if swap == -1 else (swap if swap > 0 else 2 * limit)
        if hc.get("MemoryReservation"):
            memory["reservation"] = hc["MemoryReservation"]
        if memory:
            resources["memory"] = memory
        cpu: dict[str, Any] = {}
        if hc.get("CpuShares"):
            cpu["shares"] = hc["CpuShares"]
        if hc.get("NanoCpus"):
            cpu["period"] = 100000
            cpu["quota"] = hc["NanoCpus"] * 100000 // 1_000_000_000
        if hc.get("CpuQuota"):
            cpu["quota"] = hc["CpuQuota"]
        if hc.get("CpuPeriod"):
            cpu["period"] = hc["CpuPeriod"]
        if hc.get("CpusetCpus"):
            cpu["cpus"] = hc["CpusetCpus"]
        if hc.get("CpusetMems"):
            cpu["mems"] = hc["CpusetMems"]
        if cpu:
            resources["cpu"] = cpu
        pids = hc.get("PidsLimit")
        if pids is not None and pids > 0:
            resources["pids"] = {"limit": pids}
        spec["linux"]["resources"] = resources
        spec["linux"]["cgroupsPath"] = cgroups_path
        if hc.get("Sysctls"):
            spec["linux"]["sysctl"] = dict(hc["Sysctls"])
        if hc.get("OomScoreAdj"):
            spec["process"]["oomScoreAdj"] = hc["OomScoreAdj"]
    return opt


# --- the composition --------------------------------------------------------------------------

def build_spec(container: dict[str, Any], image_config: dict[str, Any], *, rootfs: str,
               cgroups_path: str, files: dict[str, str],
               init_binary: str | None = None,
               mounts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The container's config.json. `container` is its record (Config, HostConfig, Path,
    Args); user names are resolved in `rootfs`, which must be mounted. `mounts` are the
    user's binds and tmpfs mounts in OCI form (engine/containers/mounts.py)."""
    config = container["Config"]
    hc = container["HostConfig"]
    uid, gid, groups, home = resolve_user(rootfs, config.get("User") or "",
                                          hc.get("GroupAdd") or [])
    env = [e for e in (config.get("Env") or [])]
    keys = {e.split("=", 1)[0] for e in env}
    if "PATH" not in keys:
        env.insert(0, f"PATH={DEFAULT_PATH}")
    env.insert(0, f"HOSTNAME={config.get('Hostname', '')}")
    if "HOME" not in keys:
        env.append(f"HOME={home}")
    spec = base_spec()
    opts: list[SpecOpt] = [
        with_root(rootfs, bool(hc.get("ReadonlyRootfs"))),
        with_process([container["Path"], *container["Args"]], env,
                     config.get("WorkingDir") or "/", bool(config.get("Tty"))),
        with_user(uid, gid, groups),
        with_hostname(config.get("Hostname", ""), config.get("Domainname", "")),
        with_namespaces(hc.get("NetworkMode", "default"), hc.get("PidMode") or ""),
        with_default_mounts(int(hc.get("ShmSize") or 64 * 1024 * 1024),
                            bool(hc.get("Privileged"))),
        with_bind_files(files, bool(hc.get("ReadonlyRootfs"))),
        with_mounts(mounts or []),
        with_init(init_binary if hc.get("Init") else None),
        with_capabilities(hc.get("CapAdd") or [], hc.get("CapDrop") or [],
                          bool(hc.get("Privileged"))),
        with_security(bool(hc.get("Privileged")), hc.get("SecurityOpt") or [],
                      hc.get("MaskedPaths"), hc.get("ReadonlyPaths")),
        with_seccomp(bool(hc.get("Privileged")), hc.get("SecurityOpt") or []),
        with_rlimits(hc.get("Ulimits")),
        with_resources(hc, cgroups_path),
    ]
    for opt in opts:
        opt(spec)
    spec["annotations"] = {"org.opencontainers.image.stopSignal":
                           config.get("StopSignal") or "SIGTERM"}
    return spec


def validate(host_config: dict[str, Any]) -> None:
    """Checks that need no root filesystem: run at create time so bad input leaves nothing."""
    for cap in (host_config.get("CapAdd") or []) + (host_config.get("CapDrop") or []):
        normalise_cap(cap)
    with_security(False, host_config.get("SecurityOpt") or [], None, None)(base_spec())
    profile = seccomp_profile(host_config.get("SecurityOpt") or [])
    if profile not in ("unconfined", "builtin"):
        from .seccomp import parse
        parse(profile)
