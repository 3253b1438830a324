"""The container's filesystem: mounts from the spec, a minimal /dev, pivot_root, masked and
read-only paths. Runs in the container init after it entered its mount namespace."""
from __future__ import annotations

import errno
import os
import stat
from typing import Any

from ..linux import mountinfo, syscalls
from ..linux.securejoin import secure_join
from . import process
from .cgroups.base import CgroupManager

_FLAGS = {"ro": syscalls.MS_RDONLY, "nosuid": syscalls.MS_NOSUID, "nodev": syscalls.MS_NODEV,
          "noexec": syscalls.MS_NOEXEC, "strictatime": syscalls.MS_STRICTATIME,
          "noatime": syscalls.MS_NOATIME, "bind": syscalls.MS_BIND,
          "rbind": syscalls.MS_BIND | syscalls.MS_REC}
# Flags that only clear a default (we start from none), and propagation (applied apart).
_IGNORED = {"rw", "relatime", "exec", "suid", "dev", "atime", "diratime", "async",
            "private", "rprivate", "shared", "rshared", "slave", "rslave"}
_PROPAGATION = {"private": syscalls.MS_PRIVATE, "shared": syscalls.MS_SHARED,
                "slave": syscalls.MS_SLAVE}

_DEVICES = [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
            ("urandom", 1, 9), ("tty", 5, 0)]
_DEV_LINKS = [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
              ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
              ("ptmx", "pts/ptmx"), ("core", "/proc/kcore")]


def _propagation_flag(mode: str) -> int:
    return _PROPAGATION[mode.lstrip("r")] | (syscalls.MS_REC if mode.startswith("r") else 0)


def prepare_root(root: str, propagation: str) -> None:
    """The namespace's mounts made rprivate, or as `linux.rootfsPropagation` says (runc's
    order): rshared/rslave keep the copies of host mounts peers or slaves of the host's, so
    a shared or slave bind taken from them really propagates. The mount holding the rootfs
    is made private and the rootfs bound onto itself, as pivot_root wants neither
    shared."""
    if propagation.lstrip("r") not in _PROPAGATION:
        propagation = "rprivate"
    syscalls.mount(None, "/", None, _propagation_flag(propagation))
    if propagation != "rprivate":
        syscalls.mount(None, mountinfo.holding(root).point, None, syscalls.MS_PRIVATE)
    syscalls.mount(root, root, None, syscalls.MS_BIND | syscalls.MS_REC)


def apply_root_propagation(propagation: str) -> None:
    """After pivot_root: the new root takes the configured propagation (as runc)."""
    if propagation.lstrip("r") in _PROPAGATION:
        syscalls.mount(None, "/", None, _propagation_flag(propagation))


def parse_options(options: list[str]) -> tuple[int, str]:
    flags, data = 0, []
    for option in options:
        if option in _FLAGS:
            flags |= _FLAGS[option]
        elif option not in _IGNORED:
            data.append(option)
    return flags, ",".join(data)


def _ensure_target(target: str, source: str | None) -> None:
    is_file = source is not None and os.path.exists(source) and not os.path.isdir(source)
    if is_file:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            with open(target, "a"):
                pass
    else:
        os.makedirs(target, exist_ok=True)


# what runc lets a mount cover inside /proc (the files lxcfs emulates)
_PROC_ALLOWED = {"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
                 "/proc/swaps", "/proc/uptime", "/proc/loadavg", "/proc/slabinfo",
                 "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"}


def check_proc_mount(m: dict[str, Any]) -> None:
    """runc's rule: nothing is mounted inside /proc but the few files it allows, and only
    a proc filesystem on /proc itself (a user's bind there would hide the container's
    view of its processes, or worse, the host's /proc/sys)."""
    destination = os.path.normpath(m["destination"])
    if destination != "/proc" and not destination.startswith("/proc/"):
        return
    if destination == "/proc":
        if m.get("type") == "proc":
            return
        reason = f'"{destination}" cannot be mounted because it is not of type proc'
    elif destination in _PROC_ALLOWED:
        return
    else:
        reason = f'"{destination}" cannot be mounted because it is inside /proc'
    raise process.ExecError(f'error mounting "{m.get("source") or ""}" to rootfs at '
                            f'"{destination}": {reason}', 128)


def mount_all(rootfs: str, spec: dict[str, Any], cgroups: CgroupManager) -> None:
    for m in spec.get("mounts") or []:
        check_proc_mount(m)
        target = secure_join(rootfs, m["destination"])
        kind = m.get("type") or ("bind" if "bind" in (m.get("options") or []) or
                                 "rbind" in (m.get("options") or []) else "")
        flags, data = parse_options(m.get("options") or [])
        if kind == "cgroup":
            _mount_cgroup(target, flags, cgroups)
            continue
        if kind == "bind" or flags & syscalls.MS_BIND:
            source = m["source"]
            _ensure_target(target, source)
            syscalls.mount(source, target, None, flags | syscalls.MS_BIND)
            if flags & syscalls.MS_RDONLY:
                syscalls.mount(None, target, None,
                               syscalls.MS_BIND | syscalls.MS_REMOUNT | (flags & ~syscalls.MS_REC))
            _set_propagation(target, m.get("options") or [])
            continue
        _ensure_target(target, None)
        syscalls.mount(m.get("source") or kind, target, kind, flags, data or None)
        if m["destination"] == "/dev":
            _populate_dev(target)


def _set_propagation(target: str, options: list[str]) -> None:
    """A bind's propagation (`rprivate` unless the spec says otherwise, as Docker)."""
    mode = next((o for o in options if o.lstrip("r") in _PROPAGATION), "rprivate")
    syscalls.mount(None, target, None, _propagation_flag(mode))


def _mount_cgroup(target: str, flags: int, cgroups: CgroupManager) -> None:
    os.makedirs(target, exist_ok=True)
    ro = flags & syscalls.MS_RDONLY
    base = syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC
    if hasattr(cgroups, "mounts"):  # v1: a tmpfs with each controller's group bound in
        syscalls.mount("tmpfs", target, "tmpfs", base, "mode=755")
        for name, host_dir in cgroups.mounts():
            sub = os.path.join(target, name)
            os.makedirs(sub, exist_ok=True)
            if os.path.isdir(host_dir):
                syscalls.mount(host_dir, sub, None, syscalls.MS_BIND | syscalls.MS_REC)
                if ro:
                    syscalls.mount(None, sub, None, syscalls.MS_BIND | syscalls.MS_REMOUNT |
                                   syscalls.MS_RDONLY | base)
        if ro:
            syscalls.mount(None, target, None, syscalls.MS_REMOUNT | syscalls.MS_RDONLY | base,
                           "mode=755")
    else:
        syscalls.mount("cgroup2", target, "cgroup2", base | ro)


def _populate_dev(dev: str) -> None:
    for name, major, minor in _DEVICES:
        path = os.path.join(dev, name)
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(path, 0o666)
    for name, target in _DEV_LINKS:
        os.symlink(target, os.path.join(dev, name))


def pivot(rootfs: str) -> None:
    os.chdir(rootfs)
    syscalls.pivot_root(".", ".")
    syscalls.umount(".", syscalls.MNT_DETACH)
    os.chdir("/")


def mask_paths(paths: list[str]) -> None:
    for path in paths:
        try:
            if os.path.isdir(path):
                syscalls.mount("tmpfs", path, "tmpfs", syscalls.MS_RDONLY)
            else:
                syscalls.mount("/dev/null", path, None, syscalls.MS_BIND)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise


def readonly_paths(paths: list[str]) -> None:
    for path in paths:
        try:
            syscalls.mount(path, path, None, syscalls.MS_BIND | syscalls.MS_REC)
            syscalls.mount(None, path, None, syscalls.MS_BIND | syscalls.MS_REMOUNT |
                           syscalls.MS_RDONLY | syscalls.MS_REC)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise


def readonly_root() -> None:
    syscalls.mount(None, "/", None, syscalls.MS_BIND | syscalls.MS_REMOUNT | syscalls.MS_RDONLY)
