"""The container process: executable lookup, rlimits, user and capabilities, then exec."""
from __future__ import annotations

import os
import resource
import stat
from typing import Any

from ..linux import syscalls
from ..oci.capabilities import mask


class ExecError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def env_path(env: list[str]) -> str:
    for item in env:
        if item.startswith("PATH="):
            return item[5:]
    return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def find_executable(name: str, env: list[str]) -> str:
    """Look `name` up as Go's exec.LookPath does, with runc's error texts."""
    if "/" in name:
        try:
            st = os.stat(name)
        except FileNotFoundError:
            raise ExecError(f'exec: "{name}": stat {name}: no such file or directory', 127) \
                from None
        if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111:
            raise ExecError(f'exec: "{name}": permission denied', 126)
        return name
    for directory in env_path(env).split(":"):
        candidate = os.path.join(directory or ".", name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
            return candidate
    raise ExecError(f'exec: "{name}": executable file not found in $PATH', 127)


def set_rlimits(process: dict[str, Any]) -> None:
    for rl in process.get("rlimits") or []:
        number = getattr(resource, rl["type"], None)
        if number is not None:
            resource.setrlimit(number, (rl["soft"], rl["hard"]))


def _last_cap() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


def permitted_mask() -> int:
    """The capabilities this process (the daemon's fork) holds: no container gets more."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapPrm:"):
                return int(line.split()[1], 16)
    return 0


CAP_SYS_ADMIN = 21


def needs_admin_hold(process: dict[str, Any], seccomp: bool) -> bool:
    """Loading a filter needs no_new_privs or CAP_SYS_ADMIN: without the first and when the
    process is not to keep the second, switch_user holds it until the filter is loaded."""
    effective = mask((process.get("capabilities") or {}).get("effective") or [])
    return seccomp and not process.get("noNewPrivileges") \
        and not effective & (1 << CAP_SYS_ADMIN)


def set_capabilities(process: dict[str, Any], available: int, hold: int = 0) -> None:
    caps = process.get("capabilities") or {}
    syscalls.capset((mask(caps.get("effective") or []) | hold) & available,
                    (mask(caps.get("permitted") or []) | hold) & available,
                    mask(caps.get("inheritable") or []) & available)


def switch_user(process: dict[str, Any], last_cap: int, available: int,
                hold: int = 0) -> None:
    """Drop the bounding set, change to the user, then set the remaining capability sets.
    `hold`: capabilities kept effective for now (set_capabilities drops them later)."""
    caps = process.get("capabilities") or {}
    bounding = mask(caps.get("bounding") or []) & available
    for number in range(last_cap + 1):
        if not bounding & (1 << number):
            syscalls.prctl(syscalls.PR_CAPBSET_DROP, number)
    user = process.get("user") or {}
    syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 1)
    os.setgroups(list(user.get("additionalGids") or []))
    os.setgid(int(user.get("gid", 0)))
    os.setuid(int(user.get("uid", 0)))
    syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 0)
    set_capabilities(process, available, hold)
    for name in caps.get("ambient") or []:
        number = mask([name]).bit_length() - 1
        if number >= 0 and available & (1 << number):
            syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_RAISE, number)
    if process.get("noNewPrivileges"):
        syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)


def last_cap() -> int:
    return _last_cap()
