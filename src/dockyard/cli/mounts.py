"""`-v/--volume`, `--mount` and `--tmpfs` of create/run, turned into the API's fields as the
docker CLI does: `-v` entries go to HostConfig.Binds as written (a lone path is an
anonymous volume: Config.Volumes), `--mount` CSV becomes HostConfig.Mounts, `--tmpfs
path[:opts]` HostConfig.Tmpfs. The daemon validates and answers with Docker's texts."""
from __future__ import annotations

from typing import Any


class MountFlagError(ValueError):
    """A `--mount` value the docker CLI itself would refuse."""


def _bool(key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise MountFlagError(f"invalid value for {key}: {value}")


def parse_mount_flag(value: str) -> dict[str, Any]:
    """One `--mount` value (CSV of key=value), the docker CLI's rules and texts."""
    from ..units import parse_bytes

    mount: dict[str, Any] = {"Type": "volume"}
    bind: dict[str, Any] = {}
    tmpfs: dict[str, Any] = {}
    volume: dict[str, Any] = {}
    for item in (f.strip() for f in value.split(",")):
        if not item:
            continue
        key, sep, val = item.partition("=")
        key = key.lower()
        if not sep:
            if key in ("readonly", "ro"):
                mount["ReadOnly"] = True
            elif key == "bind-nonrecursive":
                bind["NonRecursive"] = True
            elif key == "volume-nocopy":
                volume["NoCopy"] = True
            else:
                raise MountFlagError(f"invalid field '{item}' must be a key=value pair")
            continue
        if key == "type":
            mount["Type"] = val.lower()
        elif key in ("source", "src"):
            mount["Source"] = val
        elif key in ("target", "dst", "destination"):
            mount["Target"] = val
        elif key in ("readonly", "ro"):
            mount["ReadOnly"] = _bool(key, val)
        elif key == "consistency":
            mount["Consistency"] = val.lower()
        elif key == "bind-propagation":
            bind["Propagation"] = val.lower()
        elif key == "bind-nonrecursive":
            bind["NonRecursive"] = _bool(key, val)
        elif key == "tmpfs-size":
            try:
                tmpfs["SizeBytes"] = parse_bytes(val)
            except ValueError:
                raise MountFlagError(f"invalid value for {key}: {val}") from None
        elif key == "tmpfs-mode":
            try:
                tmpfs["Mode"] = int(val, 8)
            except ValueError:
                raise MountFlagError(f"invalid value for {key}: {val}") from None
        elif key == "volume-nocopy":
            volume["NoCopy"] = _bool(key, val)
        elif key == "volume-driver":
            volume.setdefault("DriverConfig", {})["Name"] = val
        elif key == "volume-subpath":
            volume["Subpath"] = val
        elif key in ("volume-label", "volume-opt"):
            name, eq, data = val.partition("=")
            if not eq:
                raise MountFlagError(f"invalid value for '{key}': {val}")
            if key == "volume-label":
                volume.setdefault("Labels", {})[name] = data
            else:
                volume.setdefault("DriverConfig", {}).setdefault("Options", {})[name] = data
        else:
            raise MountFlagError(f"unexpected key '{key}' in '{item}'")
    if not mount.get("Type"):
        raise MountFlagError("type is required")
    if not mount.get("Target"):
        raise MountFlagError("target is required")
    for options, prefix, kind, field in ((volume, "volume", "volume", "VolumeOptions"),
                                         (bind, "bind", "bind", "BindOptions"),
                                         (tmpfs, "tmpfs", "tmpfs", "TmpfsOptions")):
        if not options:
            continue
        if mount["Type"] != kind:
            raise MountFlagError(f"cannot mix '{prefix}-*' options with mount type "
                                 f"'{mount['Type']}'")
        mount[field] = options
    return mount


def _absolute_host_part(bind: str) -> str:
    """As the docker CLI: a host part starting with "." is relative to the working
    directory (anything else not absolute names a volume)."""
    import os
    host, _, rest = bind.partition(":")
    if host.startswith(".") and not os.path.isabs(host):
        return f"{os.path.abspath(host)}:{rest}"
    return bind


def apply(volumes: tuple[str, ...], mounts: list[dict[str, Any]], tmpfs: tuple[str, ...],
          body: dict[str, Any], host_config: dict[str, Any]) -> None:
    """Put the three flags into the create body (`mounts` parsed by parse_mount_flag)."""
    binds = [_absolute_host_part(v) for v in volumes if ":" in v]
    anonymous = {v: {} for v in volumes if ":" not in v}
    if binds:
        host_config["Binds"] = binds
    if anonymous:
        body["Volumes"] = anonymous
    if mounts:
        host_config["Mounts"] = mounts
    if tmpfs:
        host_config["Tmpfs"] = {path: opts for path, _, opts in
                                (t.partition(":") for t in tmpfs)}
