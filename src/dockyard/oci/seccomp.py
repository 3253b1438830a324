"""Docker seccomp profiles (JSON) → the OCI spec's `linux.seccomp` section.

As dockerd does: the profile's `archMap` picks the host architecture and its sub-
architectures; each syscall group is kept or dropped by its `includes`/`excludes` (the
container's bounding capabilities, the host architecture, the kernel version). Values are
checked here, at create, with the texts dockerd and runc use, so a bad profile leaves nothing.
"""
from __future__ import annotations

import os
from typing import Any

from .. import gojson
from ..errors import InvalidParameter

ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
           "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",
           "SCMP_ACT_NOTIFY")
OPERATORS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
             "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ")
ARCHES = ("SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM",
          "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32",
          "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
          "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
          "SCMP_ARCH_RISCV64")
FLAGS = ("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
         "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")

# uname -m → (Docker's Go architecture name, the profile's seccomp architecture)
_HOST = {"x86_64": ("amd64", "SCMP_ARCH_X86_64"), "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
         "s390x": ("s390x", "SCMP_ARCH_S390X"), "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
         "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE")}


def host_arch() -> tuple[str, str]:
    machine = os.uname().machine
    return _HOST.get(machine, (machine, ""))


def parse(body: str) -> dict[str, Any]:
    """Decode and check a profile; raises InvalidParameter with Docker's texts."""
    try:
        profile = gojson.loads(body)
    except gojson.GoJSONError as exc:
        raise InvalidParameter(f"Decoding seccomp profile failed: {exc}") from None
    if not isinstance(profile, dict):
        raise InvalidParameter("Decoding seccomp profile failed: json: cannot unmarshal "
                               f"{_json_kind(profile)} into Go value of type seccomp.Seccomp")
    _check(profile)
    return profile


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "null")


def _field(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)
                              and kind is not bool):
        go = {str: "string", list: "[]", int: "uint", dict: "struct"}.get(
            kind if isinstance(kind, type) else kind[0], "value")
        raise InvalidParameter(f"Decoding seccomp profile failed: json: cannot unmarshal "
                               f"{_json_kind(value)} into Go struct field {where}.{key} "
                               f"of type {go}")
    return value


def _check(profile: dict[str, Any]) -> None:
    default = _field(profile, "defaultAction", str, "Seccomp")
    _field(profile, "defaultErrnoRet", int, "Seccomp")
    architectures = _field(profile, "architectures", list, "Seccomp") or []
    arch_map = _field(profile, "archMap", list, "Seccomp") or []
    flags = _field(profile, "flags", list, "Seccomp") or []
    syscalls = _field(profile, "syscalls", list, "Seccomp") or []
    if architectures and arch_map:
        raise InvalidParameter("'architectures' and 'archMap' were specified in the seccomp "
                               "profile, use either 'architectures' or 'archMap'")
    if default or syscalls:  # neither: no filter at all, as in Docker
        _check_action(default or "")
    for arch in architectures:
        _check_arch(arch)
    for entry in arch_map:
        if not isinstance(entry, dict):
            raise InvalidParameter("Decoding seccomp profile failed: json: cannot unmarshal "
                                   f"{_json_kind(entry)} into Go struct field Seccomp.archMap "
                                   "of type seccomp.Architecture")
        _check_arch(_field(entry, "architecture", str, "Architecture") or "")
        for sub in _field(entry, "subArchitectures", list, "Architecture") or []:
            _check_arch(sub)
    for flag in flags:
        if flag not in FLAGS:
            raise InvalidParameter(f"seccomp flags {flag} not yet supported by runc")
    for call in syscalls:
        if not isinstance(call, dict):
            raise InvalidParameter("Decoding seccomp profile failed: json: cannot unmarshal "
                                   f"{_json_kind(call)} into Go struct field Seccomp.syscalls "
                                   "of type seccomp.Syscall")
        name = _field(call, "name", str, "Syscall")
        names = _field(call, "names", list, "Syscall")
        if name and names:
            raise InvalidParameter("'name' and 'names' were specified in the seccomp profile, "
                                   "use either 'name' or 'names'")
        _check_action(_field(call, "action", str, "Syscall") or "")
        _field(call, "errnoRet", int, "Syscall")
        for arg in _field(call, "args", list, "Syscall") or []:
            if not isinstance(arg, dict):
                raise InvalidParameter("Decoding seccomp profile failed: json: cannot "
                                       f"unmarshal {_json_kind(arg)} into Go struct field "
                                       "Syscall.args of type specs.LinuxSeccompArg")
            for key in ("index", "value", "valueTwo"):
                _field(arg, key, int, "Syscall.args")
            op = _field(arg, "op", str, "Syscall.args") or ""
            if op not in OPERATORS:
                raise InvalidParameter(f"string {op} is not a valid operator for seccomp")
        for key in ("includes", "excludes"):
            _field(call, key, dict, "Syscall")


def _check_action(action: str) -> None:
    if action not in ACTIONS:
        raise InvalidParameter(f"string {action} is not a valid action for seccomp")


def _check_arch(arch: str) -> None:
    if arch not in ARCHES:
        raise InvalidParameter(f"string {arch} is not a valid arch for seccomp")


def to_oci(profile: dict[str, Any], bounding: list[str]) -> dict[str, Any] | None:
    """The OCI `linux.seccomp` for a container with these bounding capabilities (None: a
    profile without default action and syscalls means no filter, as in Docker)."""
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None
    go_arch, seccomp_arch = host_arch()
    out: dict[str, Any] = {"defaultAction": profile["defaultAction"]}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    arches = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == seccomp_arch:
            arches = [seccomp_arch, *(entry.get("subArchitectures") or [])]
            break
    if arches:
        out["architectures"] = arches
    for key in ("flags", "listenerPath", "listenerMetadata"):
        if profile.get(key):
            out[key] = profile[key]
    caps = set(bounding)
    syscalls = []
    for call in profile.get("syscalls") or []:
        if not _applies(call, caps, go_arch):
            continue
        names = [call["name"]] if call.get("name") else list(call.get("names") or [])
        rule: dict[str, Any] = {"names": names, "action": call.get("action") or ""}
        if call.get("errnoRet") is not None:
            rule["errnoRet"] = call["errnoRet"]
        if call.get("args"):
            rule["args"] = [{"index": a.get("index") or 0, "value": a.get("value") or 0,
                             "valueTwo": a.get("valueTwo") or 0, "op": a.get("op")}
                            for a in call["args"]]
        syscalls.append(rule)
    if syscalls:
        out["syscalls"] = syscalls
    return out


def _applies(call: dict[str, Any], caps: set[str], go_arch: str) -> bool:
    inc = call.get("includes") or {}
    exc = call.get("excludes") or {}
    if go_arch in (exc.get("arches") or []):
        return False
    if any(c in caps for c in exc.get("caps") or []):
        return False
    if exc.get("minKernel") and _kernel_at_least(exc["minKernel"]):
        return False
    if inc.get("arches") and go_arch not in inc["arches"]:
        return False
    if any(c not in caps for c in inc.get("caps") or []):
        return False
    if inc.get("minKernel") and not _kernel_at_least(inc["minKernel"]):
        return False
    return True


def _kernel_at_least(version: str) -> bool:
    def numbers(text: str) -> tuple[int, ...]:
        parts = []
        for piece in text.split("-")[0].split(".")[:3]:
            digits = "".join(ch for ch in piece if ch.isdigit())
            parts.append(int(digits or 0))
        return tuple(parts)
    return numbers(os.uname().release) >= numbers(str(version))
