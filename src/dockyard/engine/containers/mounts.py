"""A container's bind, tmpfs and named volume mounts, from HostConfig.Binds, Mounts and
Tmpfs.

One parse with moby's rules and error texts serves create (validation, the inspect
`Mounts` list, the named volumes to claim) and start (missing `-v` sources are made, the OCI
mounts are built). Volumes (named, anonymous, --volumes-from) are the container side of the
volume service: volumemounts.py; an anonymous one (`-v /path`) is not parsed here.
"""
from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from typing import Any

from ...errors import DockyardError, InvalidParameter
from ...linux import mountinfo

DEFAULT_PROPAGATION = "rprivate"
PROPAGATIONS = {"private", "rprivate", "shared", "rshared", "slave", "rslave"}
_LABELS = {"z", "Z"}
_TMPFS_DEFAULTS = ["noexec", "nosuid", "nodev"]
# tmpfs flags and their opposites (the last one given wins), and the data options.
_TMPFS_FLAGS = {"ro": "rw", "rw": "ro", "exec": "noexec", "noexec": "exec", "suid": "nosuid",
                "nosuid": "suid", "dev": "nodev", "nodev": "dev", "atime": "noatime",
                "noatime": "atime", "diratime": "nodiratime", "nodiratime": "diratime",
                "relatime": "norelatime", "norelatime": "relatime",
                "strictatime": "nostrictatime", "nostrictatime": "strictatime",
                "sync": "async", "async": "sync", "dirsync": "", "mand": "nomand",
                "nomand": "mand"}
_TMPFS_DATA = {"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"}


@dataclass
class MountSpec:
    """One mount of the container (a bind, a tmpfs or a volume)."""
    kind: str                       # "bind" | "tmpfs" | "volume"
    destination: str
    source: str = ""
    readonly: bool = False
    propagation: str = ""
    mode: str = ""                  # the -v mode text, as Docker shows it
    recursive: bool = True
    create_source: bool = False     # -v makes a missing host directory; --mount does not
    tmpfs_options: list[str] = field(default_factory=list)
    in_inspect: bool = True         # --tmpfs mounts are not MountPoints in Docker
    name: str = ""                  # a volume's name ("" before an anonymous one is made)
    driver: str = ""                # a volume's driver ("" for HostConfig.VolumeDriver)
    driver_options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    nocopy: bool = False            # no copy-up of the image's content into a new volume
    subpath: str = ""               # mount this path of the volume (API 1.45)

    def mount_point(self) -> dict[str, Any]:
        """The entry of inspect's (and ps's) `Mounts`."""
        if self.kind == "volume":
            return {"Type": "volume", "Name": self.name, "Source": self.source,
                    "Destination": self.destination, "Driver": self.driver or "local",
                    "Mode": self.mode, "RW": not self.readonly, "Propagation": ""}
        return {"Type": self.kind, "Source": self.source, "Destination": self.destination,
                "Mode": self.mode, "RW": not self.readonly, "Propagation": self.propagation}

    def oci(self) -> dict[str, Any]:
        """The OCI runtime spec entry (config.json `mounts`)."""
        if self.kind == "tmpfs":
            return {"destination": self.destination, "type": "tmpfs", "source": "tmpfs",
                    "options": list(self.tmpfs_options)}
        options = ["rbind" if self.recursive else "bind"]
        if self.readonly:
            options.append("ro")
        options.append(self.propagation or DEFAULT_PROPAGATION)    # volumes: rprivate
        return {"destination": self.destination, "type": "bind", "source": self.source,
                "options": options}


def _config_error(kind: str, message: str) -> InvalidParameter:
    return InvalidParameter(f'invalid mount config for type "{kind}": {message}')


def _check_target(kind: str, target: str) -> None:
    if not target:
        raise _config_error(kind, "field Target must not be empty")
    if posixpath.normpath(target) == "/" and target.startswith("/"):
        raise _config_error(kind, "invalid specification: destination can't be '/'")
    if not target.startswith("/"):
        raise _config_error(kind, f"invalid mount path: '{target}' mount path must be absolute")


def _valid_mode(mode: str) -> bool:
    counts = {"rw": 0, "label": 0, "propagation": 0, "copy": 0}
    for part in mode.split(",") if mode else []:
        key = ("rw" if part in ("rw", "ro") else "label" if part in _LABELS else
               "propagation" if part in PROPAGATIONS else "copy" if part == "nocopy" else "")
        if not key:
            return False
        counts[key] += 1
        if counts[key] > 1:
            return False
    return True


def parse_bind(raw: str) -> MountSpec | None:
    """One `-v` entry (HostConfig.Binds), moby's linux parser. None for an anonymous
    volume (`-v /path`), which is today just part of the container's rootfs."""
    invalid = f"invalid volume specification: '{raw}'"
    parts = raw.split(":", 3)
    if not parts[0] or len(parts) > 3:
        raise InvalidParameter(invalid)
    mode = ""
    if len(parts) == 1:
        _wrap(invalid, lambda: _check_target("volume", parts[0]))
        return None
    if len(parts) == 2 and _valid_mode(parts[1]):
        raise InvalidParameter(invalid)
    source, target = parts[0], parts[1]
    if len(parts) == 3:
        mode = parts[2]
    if not _valid_mode(mode):
        raise InvalidParameter(f"invalid mode: {mode}")
    flags = mode.split(",") if mode else []
    if not source.startswith("/"):
        _wrap(invalid, lambda: _check_target("volume", target))
        if any(f in PROPAGATIONS for f in flags):
            raise InvalidParameter(f"{invalid}: propagation mode is only valid for bind "
                                   "mounts")
        return MountSpec("volume", posixpath.normpath(target), name=source,
                         readonly="ro" in flags, mode=mode, nocopy="nocopy" in flags)
    _wrap(invalid, lambda: _check_target("bind", target))
    propagation = next((f for f in flags if f in PROPAGATIONS), DEFAULT_PROPAGATION)
    return MountSpec("bind", posixpath.normpath(target), posixpath.normpath(source),
                     readonly="ro" in flags, propagation=propagation, mode=mode,
                     create_source=True)


def _wrap(prefix: str, check: Any) -> None:
    try:
        check()
    except InvalidParameter as exc:
        raise InvalidParameter(f"{prefix}: {exc.message}") from None


def parse_mount(m: dict[str, Any]) -> MountSpec:
    """One HostConfig.Mounts entry (`--mount`), with moby's validation."""
    if not isinstance(m, dict):
        raise InvalidParameter("invalid mount config: not an object")
    kind = m.get("Type") or ""
    target = m.get("Target") or ""
    source = m.get("Source") or ""
    readonly = bool(m.get("ReadOnly"))
    _check_target(kind, target)
    if kind == "volume":
        return _parse_volume_mount(m, target, source, readonly)
    if kind == "bind":
        if not source:
            raise _config_error(kind, "field Source must not be empty")
        if m.get("VolumeOptions"):
            raise _config_error(kind, "field VolumeOptions must not be specified")
        if m.get("TmpfsOptions"):
            raise _config_error(kind, "field TmpfsOptions must not be specified")
        options = m.get("BindOptions") or {}
        propagation = options.get("Propagation") or DEFAULT_PROPAGATION
        if propagation not in PROPAGATIONS:
            raise _config_error(kind, f"invalid propagation mode: {propagation}")
        if not source.startswith("/"):
            raise _config_error(kind, f"invalid mount path: '{source}' mount path must be "
                                      "absolute")
        create = bool(options.get("CreateMountpoint"))      # API 1.42's opt-in
        if not create and not os.path.exists(source):
            raise _config_error(kind, f"bind source path does not exist: {source}")
        return MountSpec("bind", posixpath.normpath(target), posixpath.normpath(source),
                         readonly=readonly, propagation=propagation,
                         recursive=not options.get("NonRecursive"), create_source=create)
    if kind == "tmpfs":
        if source:
            raise _config_error(kind, "field Source must not be specified")
        if m.get("BindOptions"):
            raise _config_error(kind, "field BindOptions must not be specified")
        options = m.get("TmpfsOptions") or {}
        data = []
        size = int(options.get("SizeBytes") or 0)
        if size < 0:
            raise _config_error(kind, "invalid tmpfs size")
        if size:
            data.append(f"size={_size_text(size)}")
        if options.get("Mode"):
            data.append(f"mode={int(options['Mode']) & 0o7777:o}")
        if readonly:
            data.append("ro")
        return MountSpec("tmpfs", posixpath.normpath(target),
                         tmpfs_options=merge_tmpfs_options(_TMPFS_DEFAULTS + data))
    raise _config_error(kind, "mount type unknown")


def _parse_volume_mount(m: dict[str, Any], target: str, source: str, readonly: bool
                        ) -> MountSpec:
    kind = "volume"
    if m.get("BindOptions"):
        raise _config_error(kind, "field BindOptions must not be specified")
    if m.get("TmpfsOptions"):
        raise _config_error(kind, "field TmpfsOptions must not be specified")
    if source.startswith("/"):
        raise _config_error(kind, f"invalid mount path: '{source}' mount path must not be "
                                  "absolute for a volume")
    options = m.get("VolumeOptions") or {}
    if not isinstance(options, dict):
        raise _config_error(kind, "VolumeOptions must be an object")
    driver = options.get("DriverConfig") or {}
    subpath = str(options.get("Subpath") or "")
    if subpath:
        if not source:
            raise _config_error(kind, "must not set Subpath when Source is empty")
        if subpath.startswith("/") or ".." in subpath.split("/"):
            raise _config_error(kind, f"subpath must be a relative path within the volume: "
                                      f"{subpath}")
    return MountSpec("volume", posixpath.normpath(target), name=source, readonly=readonly,
                     driver=str(driver.get("Name") or ""),
                     driver_options={str(k): str(v) for k, v in
                                     (driver.get("Options") or {}).items()},
                     labels={str(k): str(v) for k, v in (options.get("Labels") or {}).items()},
                     nocopy=bool(options.get("NoCopy")), subpath=subpath)


def _size_text(size: int) -> str:
    for suffix, divisor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if size % divisor == 0:
            return f"{size // divisor}{suffix}"
    return str(size)


def merge_tmpfs_options(options: list[str]) -> list[str]:
    """Docker's merge: the last of a flag and its opposite, and of each data key, wins."""
    seen: set[str] = set()
    merged: list[str] = []
    for option in reversed(options):
        if not option or option == "defaults":
            continue
        if option in _TMPFS_FLAGS:
            if option in seen or _TMPFS_FLAGS[option] in seen:
                continue
            seen.add(option)
            merged.append(option)
            continue
        key, sep, _ = option.partition("=")
        if not sep or key not in _TMPFS_DATA:
            raise InvalidParameter(f'invalid tmpfs option ["{option}"]')
        if key not in seen:
            seen.add(key)
            merged.append(option)
    merged.reverse()
    return merged


def parse_tmpfs(destination: str, options: str) -> MountSpec:
    """One HostConfig.Tmpfs entry (`--tmpfs /path:opts`): noexec,nosuid,nodev by default."""
    if not destination.startswith("/"):
        raise InvalidParameter(f"invalid mount path: '{destination}' mount path must be "
                               "absolute")
    if posixpath.normpath(destination) == "/":
        raise InvalidParameter("invalid specification: destination can't be '/'")
    extra = [o for o in (options or "").split(",") if o]
    return MountSpec("tmpfs", posixpath.normpath(destination), in_inspect=False,
                     tmpfs_options=merge_tmpfs_options(_TMPFS_DEFAULTS + extra))


def parse_all(host_config: dict[str, Any]) -> list[MountSpec]:
    """Every bind and tmpfs mount of the container, validated; duplicates refused."""
    result: list[MountSpec] = []
    binds = host_config.get("Binds") or []
    mounts = host_config.get("Mounts") or []
    tmpfs = host_config.get("Tmpfs") or {}
    if not isinstance(binds, list) or not isinstance(mounts, list) or \
            not isinstance(tmpfs, dict):
        raise InvalidParameter("invalid mount config: Binds and Mounts must be lists, "
                               "Tmpfs a map")
    for raw in binds:
        spec = parse_bind(str(raw))
        if spec is not None:
            result.append(spec)
    result += [parse_mount(m) for m in mounts]
    result += [parse_tmpfs(str(dest), str(opts or "")) for dest, opts in tmpfs.items()]
    seen: set[str] = set()
    for spec in result:
        if spec.destination in seen:
            raise InvalidParameter(f"Duplicate mount point: {spec.destination}")
        seen.add(spec.destination)
    return result


def mount_points(specs: list[MountSpec]) -> list[dict[str, Any]]:
    """inspect's `Mounts` of binds and `--mount` tmpfs (not `--tmpfs`), as Docker lists;
    the volumes' entries come from the volume service (volumemounts.claim)."""
    return [m.mount_point() for m in specs if m.in_inspect and m.kind != "volume"]


def prepare_sources(specs: list[MountSpec]) -> None:
    """At start, as Docker: a missing `-v` host path becomes a directory; a shared bind
    needs a shared source mount, a slave one a shared or slave one."""
    for spec in specs:
        if spec.kind == "bind" and spec.create_source and not os.path.exists(spec.source):
            os.makedirs(spec.source, mode=0o755, exist_ok=True)
        mode = spec.propagation.lstrip("r")
        if spec.kind != "bind" or mode not in ("shared", "slave"):
            continue
        holder = mountinfo.holding(spec.source)
        if mode == "shared" and not holder.shared:
            raise DockyardError(f"path {spec.source} is mounted on {holder.point} but it is "
                                "not a shared mount")
        if mode == "slave" and not (holder.shared or holder.slave):
            raise DockyardError(f"path {spec.source} is mounted on {holder.point} but it is "
                                "not a shared or slave mount")
