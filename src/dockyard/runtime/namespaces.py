"""Namespaces: unshare the new ones, join those given by path, bring up loopback."""
from __future__ import annotations

import fcntl
import os
import socket
import struct
from typing import Any

from ..linux import syscalls

FLAGS = {"pid": syscalls.CLONE_NEWPID, "network": syscalls.CLONE_NEWNET,
         "mount": syscalls.CLONE_NEWNS, "ipc": syscalls.CLONE_NEWIPC,
         "uts": syscalls.CLONE_NEWUTS, "cgroup": syscalls.CLONE_NEWCGROUP}

_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def wanted(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("linux", {}).get("namespaces") or [])


def enter(spec: dict[str, Any], skip: tuple[str, ...] = ("pid",)) -> bool:
    """Join or create every namespace but those in `skip`; True if a new netns was made."""
    flags = 0
    for ns in wanted(spec):
        kind = ns["type"]
        if kind in skip or kind not in FLAGS:
            continue
        if ns.get("path"):
            fd = os.open(ns["path"], os.O_RDONLY | os.O_CLOEXEC)
            try:
                syscalls.setns(fd, FLAGS[kind])
            finally:
                os.close(fd)
        else:
            flags |= FLAGS[kind]
    if flags:
        syscalls.unshare(flags)
    return bool(flags & syscalls.CLONE_NEWNET)


_PROC_NAMES = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
               "cgroup": "cgroup"}


def open_all(spec: dict[str, Any], pid: int) -> dict[str, int]:
    """File descriptors of the namespaces the spec gave the container, read from its init."""
    fds = {}
    for ns in wanted(spec):
        kind = ns["type"]
        if kind in _PROC_NAMES:
            fds[kind] = os.open(f"/proc/{pid}/ns/{_PROC_NAMES[kind]}",
                                os.O_RDONLY | os.O_CLOEXEC)
    return fds


def new_pid_namespace(spec: dict[str, Any]) -> bool:
    return any(ns["type"] == "pid" and not ns.get("path") for ns in wanted(spec))


def loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP))
