"""Field types of the JSON bodies Docker decodes into Go structs, and one check that answers a
wrong type with a 400 in encoding/json's words, before an engine sees a value of the wrong kind.

Go's decoder accepts null for every field, ignores unknown fields and matches field names
case-insensitively; so does check(). The error names the innermost struct being decoded and
the dotted path of field names from the top, as Go (1.20 and later) does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from ..errors import InvalidParameter


@dataclass(frozen=True)
class Scalar:
    go: str                       # Go type name as the error prints it
    kind: type                    # str, bool or int
    bounds: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class ListOf:
    item: "Shape"


@dataclass(frozen=True)
class ArrayOf:
    """A Go array ([N]T): longer JSON arrays are cut to N items, shorter ones zero-filled."""
    item: "Shape"
    size: int


@dataclass(frozen=True)
class MapOf:
    value: "Shape"


@dataclass(frozen=True)
class StrSlice:
    """strslice.StrSlice: a string or a list of strings."""


@dataclass(frozen=True)
class Obj:
    go: str                       # qualified type name, e.g. container.HostConfig
    fields: dict[str, "Shape"] = field(default_factory=dict)

    @property
    def short(self) -> str:
        return self.go.rsplit(".", 1)[-1]


Shape = Union[Scalar, ListOf, ArrayOf, MapOf, StrSlice, Obj]

STR = Scalar("string", str)
BOOL = Scalar("bool", bool)
INT = Scalar("int", int, (-(1 << 63), (1 << 63) - 1))
INT64 = Scalar("int64", int, (-(1 << 63), (1 << 63) - 1))
UINT16 = Scalar("uint16", int, (0, (1 << 16) - 1))
UINT32 = Scalar("uint32", int, (0, (1 << 32) - 1))
UINT64 = Scalar("uint64", int, (0, (1 << 64) - 1))
UINT = Scalar("uint", int, (0, (1 << 64) - 1))
DURATION = Scalar("time.Duration", int, INT64.bounds)
STRS = ListOf(STR)
STRMAP = MapOf(STR)
SET = MapOf(Obj("struct {}"))
CONSOLE_SIZE = ArrayOf(UINT, 2)       # *[2]uint: [height, width]


def _obj(go: str, spec: str, shape: Shape, **more: Shape) -> Obj:
    """An object whose space-separated `spec` fields all have `shape`, plus `more`."""
    return Obj(go, {**{name: shape for name in spec.split()}, **more})


HEALTH = _obj("container.HealthConfig", "Interval Timeout StartPeriod StartInterval", DURATION,
              Test=STRS, Retries=INT)

CONFIG_FIELDS: dict[str, Shape] = {
    **_obj("", "Hostname Domainname User Image WorkingDir MacAddress StopSignal", STR).fields,
    **_obj("", "AttachStdin AttachStdout AttachStderr Tty OpenStdin StdinOnce ArgsEscaped "
           "NetworkDisabled", BOOL).fields,
    "Env": STRS, "OnBuild": STRS, "Cmd": StrSlice(), "Entrypoint": StrSlice(),
    "Shell": StrSlice(), "ExposedPorts": SET, "Volumes": SET, "Labels": STRMAP,
    "StopTimeout": INT, "Healthcheck": HEALTH,
}

_THROTTLE = ListOf(_obj("blkiodev.ThrottleDevice", "Path", STR, Rate=UINT64))
RESOURCES: dict[str, Shape] = {
    **_obj("", "CpuShares Memory NanoCpus CpuPeriod CpuQuota CpuRealtimePeriod "
           "CpuRealtimeRuntime KernelMemory KernelMemoryTCP MemoryReservation MemorySwap "
           "MemorySwappiness PidsLimit CpuCount CpuPercent", INT64).fields,
    **_obj("", "CgroupParent CpusetCpus CpusetMems", STR).fields,
    "BlkioWeight": UINT16, "IOMaximumIOps": UINT64, "IOMaximumBandwidth": UINT64,
    "BlkioWeightDevice": ListOf(_obj("blkiodev.WeightDevice", "Path", STR, Weight=UINT16)),
    "BlkioDeviceReadBps": _THROTTLE, "BlkioDeviceWriteBps": _THROTTLE,
    "BlkioDeviceReadIOps": _THROTTLE, "BlkioDeviceWriteIOps": _THROTTLE,
    "Devices": ListOf(_obj("container.DeviceMapping",
                           "PathOnHost PathInContainer CgroupPermissions", STR)),
    "DeviceCgroupRules": STRS, "OomKillDisable": BOOL,
    "Ulimits": ListOf(_obj("container.Ulimit", "Hard Soft", INT64, Name=STR)),
}

RESTART = _obj("container.RestartPolicy", "Name", STR, MaximumRetryCount=INT)

_MOUNT = Obj("mount.Mount", {
    "Type": STR, "Source": STR, "Target": STR, "ReadOnly": BOOL, "Consistency": STR,
    "BindOptions": _obj("mount.BindOptions", "Propagation", STR, NonRecursive=BOOL),
    "VolumeOptions": _obj("mount.VolumeOptions", "NoCopy", BOOL, Labels=STRMAP, Subpath=STR,
                          DriverConfig=_obj("mount.Driver", "Name", STR, Options=STRMAP)),
    "TmpfsOptions": _obj("mount.TmpfsOptions", "SizeBytes", INT64, Mode=UINT32),
})

VOLUME_CREATE = _obj("volume.CreateOptions", "Name Driver", STR, DriverOpts=STRMAP,
                     Labels=STRMAP)

HOST_CONFIG = Obj("container.HostConfig", {
    **RESOURCES,
    **_obj("", "ContainerIDFile NetworkMode VolumeDriver CgroupnsMode IpcMode Cgroup PidMode "
           "UTSMode UsernsMode Runtime Isolation", STR).fields,
    **_obj("", "Binds VolumesFrom Dns DnsOptions DnsSearch ExtraHosts GroupAdd Links "
           "SecurityOpt MaskedPaths ReadonlyPaths", STRS).fields,
    **_obj("", "AutoRemove Privileged PublishAllPorts ReadonlyRootfs Init", BOOL).fields,
    **_obj("", "Annotations StorageOpt Tmpfs Sysctls", STRMAP).fields,
    "LogConfig": _obj("container.LogConfig", "Type", STR, Config=STRMAP),
    "PortBindings": MapOf(ListOf(_obj("nat.PortBinding", "HostIp HostPort", STR))),
    "RestartPolicy": RESTART, "ConsoleSize": CONSOLE_SIZE, "CapAdd": StrSlice(),
    "CapDrop": StrSlice(), "OomScoreAdj": INT, "ShmSize": INT64, "Mounts": ListOf(_MOUNT),
})

_ENDPOINT = Obj("network.EndpointSettings", {
    **_obj("", "MacAddress NetworkID EndpointID Gateway IPAddress IPv6Gateway "
           "GlobalIPv6Address", STR).fields,
    "IPAMConfig": _obj("network.EndpointIPAMConfig", "IPv4Address IPv6Address", STR,
                       LinkLocalIPs=STRS),
    "Links": STRS, "Aliases": STRS, "DriverOpts": STRMAP, "IPPrefixLen": INT,
    "GlobalIPv6PrefixLen": INT,
})

CREATE = Obj("container.CreateRequest", {
    **CONFIG_FIELDS, "HostConfig": HOST_CONFIG,
    "NetworkingConfig": Obj("network.NetworkingConfig", {"EndpointsConfig": MapOf(_ENDPOINT)}),
})
COMMIT = Obj("container.Config", CONFIG_FIELDS)
UPDATE = Obj("container.UpdateConfig", {**RESOURCES, "RestartPolicy": RESTART})
EXEC = Obj("container.ExecOptions", {
    **_obj("", "User DetachKeys WorkingDir", STR).fields,
    **_obj("", "Privileged Tty AttachStdin AttachStderr AttachStdout Detach", BOOL).fields,
    "ConsoleSize": CONSOLE_SIZE, "Env": STRS, "Cmd": StrSlice(),
})
EXEC_START = _obj("container.ExecStartOptions", "Detach Tty", BOOL, ConsoleSize=CONSOLE_SIZE)
AUTH = _obj("registry.AuthConfig",
            "Username Password Auth Email ServerAddress IdentityToken RegistryToken", STR)


class _Mismatch(Exception):
    def __init__(self, value: str, go: str, struct: str | None, path: list[str]) -> None:
        super().__init__(value)
        self.value, self.go, self.struct, self.path = value, go, struct, path


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _go_name(shape: Shape) -> str:
    if isinstance(shape, (Scalar, Obj)):
        return shape.go
    if isinstance(shape, StrSlice):
        return "string"
    if isinstance(shape, ArrayOf):
        return f"[{shape.size}]" + _go_name(shape.item)
    return "[]" + _go_name(shape.item) if isinstance(shape, ListOf) \
        else "map[string]" + _go_name(shape.value)


def _zero(shape: Shape) -> Any:
    """What Go decodes a null list item or map value into (nil collections made empty)."""
    if isinstance(shape, Scalar):
        return shape.kind()
    if isinstance(shape, ArrayOf):
        return [_zero(shape.item)] * shape.size
    return {} if isinstance(shape, (Obj, MapOf)) else []


def _walk(value: Any, shape: Shape, struct: str | None, path: list[str]) -> Any:
    """Raise _Mismatch where Go's decoder would fail; return the value as Go would hold it:
    a StrSlice string as a one-item list, null items of lists and maps as zero values."""
    if value is None:
        return None
    if isinstance(shape, Scalar):
        _scalar(value, shape, struct, path)
    elif isinstance(shape, StrSlice):
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) or item is None for item in items):
            raise _Mismatch(_json_kind(value), "string", struct, path)
        return ["" if item is None else item for item in items]
    elif isinstance(shape, ListOf):
        if not isinstance(value, list):
            raise _Mismatch(_json_kind(value), _go_name(shape), struct, path)
        value[:] = [_zero(shape.item) if item is None else _walk(item, shape.item, struct, path)
                    for item in value]
    elif isinstance(shape, ArrayOf):
        if not isinstance(value, list):
            raise _Mismatch(_json_kind(value), _go_name(shape), struct, path)
        items = [_zero(shape.item) if item is None else _walk(item, shape.item, struct, path)
                 for item in value[:shape.size]]
        value[:] = items + [_zero(shape.item)] * (shape.size - len(items))
    elif isinstance(shape, MapOf):
        if not isinstance(value, dict):
            raise _Mismatch(_json_kind(value), _go_name(shape), struct, path)
        for key, item in value.items():
            value[key] = _zero(shape.value) if item is None else \
                _walk(item, shape.value, struct, path)
    else:
        if not isinstance(value, dict):
            raise _Mismatch(_json_kind(value), shape.go, struct, path)
        lowered = {name.lower(): name for name in shape.fields}
        for key, item in value.items():
            name = key if key in shape.fields else lowered.get(key.lower())
            if name is not None:
                value[key] = _walk(item, shape.fields[name], shape.short, [*path, name])
    return value


def _scalar(value: Any, shape: Scalar, struct: str | None, path: list[str]) -> None:
    kind = _json_kind(value)
    if shape.kind is int and kind == "number":
        # Go parses integers with strconv: no fraction or exponent, nothing out of range
        if isinstance(value, float) or not shape.bounds[0] <= value <= shape.bounds[1]:
            raise _Mismatch(f"number {value}", shape.go, struct, path)
        return
    if {str: "string", bool: "bool", int: "number"}[shape.kind] != kind:
        raise _Mismatch(kind, shape.go, struct, path)


def check(body: Any, shape: Obj) -> None:
    """Raise InvalidParameter (400) as dockerd would if `body` does not decode into `shape`:
    a JSON value other than an object or null, or a field of the wrong type. Normalises
    `body` in place to what Go would decode (see _walk), so engines see one form."""
    try:
        _walk(body, shape, None, [])
    except _Mismatch as exc:
        where = (f"Go struct field {exc.struct}.{'.'.join(exc.path)}" if exc.path
                 else "Go value")
        raise InvalidParameter(f"invalid JSON: json: cannot unmarshal {exc.value} into "
                               f"{where} of type {exc.go}") from None

_IPAM_CONFIG = _obj("network.IPAMConfig", "Subnet IPRange Gateway", STR,
                    AuxiliaryAddresses=STRMAP)
NETWORK_CREATE = Obj("network.CreateRequest", {
    **_obj("", "Name Driver Scope", STR).fields,
    **_obj("", "CheckDuplicate EnableIPv4 EnableIPv6 Internal Attachable Ingress ConfigOnly",
           BOOL).fields,
    "IPAM": _obj("network.IPAM", "Driver", STR, Options=STRMAP, Config=ListOf(_IPAM_CONFIG)),
    "Options": STRMAP, "Labels": STRMAP,
})
NETWORK_CONNECT = Obj("network.ConnectOptions", {"Container": STR, "EndpointConfig": _ENDPOINT})
NETWORK_DISCONNECT = Obj("network.DisconnectOptions", {"Container": STR, "Force": BOOL})
