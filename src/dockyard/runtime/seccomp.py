"""Compile the OCI `linux.seccomp` section to a BPF program with libseccomp, load it with
seccomp(2).

Compiling (libseccomp through ctypes) happens in the daemon or launcher, before the fork,
and the exported program is cached per section, so a container start only pays for one
seccomp(2) call in the child. Syscall names this libseccomp does not know are skipped, as
runc does. Loading is done by us, not by seccomp_load(), so no_new_privs is not forced on.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import struct
import threading
from typing import Any

from . import RuntimeCreateError

_ACT_KILL_PROCESS = 0x80000000
_ACT_KILL_THREAD = 0x00000000
_ACT_TRAP = 0x00030000
_ACT_ERRNO = 0x00050000
_ACT_TRACE = 0x7FF00000
_ACT_LOG = 0x7FFC0000
_ACT_ALLOW = 0x7FFF0000
_EPERM = 1

_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
        "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
_FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2,
          "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32}
_SCMP_FLTATR_CTL_NNP = 3
# The ENOSYS stub: (uname -m) → AUDIT_ARCH_* of seccomp_data.arch
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32_BIT = 0x40000000
_SECCOMP_SET_MODE_FILTER = 1
_SYS_SECCOMP = 277 if os.uname().machine == "aarch64" else 317


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Program:
    """A compiled filter, ready to load with one system call (safe after fork)."""

    def __init__(self, bpf: bytes, flags: int) -> None:
        self.bpf = bpf
        self.flags = flags
        self._buffer = ctypes.create_string_buffer(bpf, len(bpf))
        self._fprog = _SockFprog(len(bpf) // 8, ctypes.cast(self._buffer, ctypes.c_void_p))

    def load(self) -> None:
        """Install the filter on the calling thread. The kernel wants no_new_privs or
        CAP_SYS_ADMIN in the effective set."""
        libc = _libc()
        if libc.syscall(_SYS_SECCOMP, _SECCOMP_SET_MODE_FILTER, self.flags,
                        ctypes.byref(self._fprog)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"error loading seccomp filter into kernel: "
                               f"{os.strerror(err).lower()}")


_CACHE_SIZE = 64
_cache: dict[str, Program] = {}
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_libc_handle: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    global _libc_handle
    if _libc_handle is None:
        _libc_handle = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6",
                                   use_errno=True)
    return _libc_handle


def _libseccomp() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2")
        except OSError:
            raise RuntimeCreateError("seccomp profile requested but libseccomp is not "
                                     "installed (apt-get install libseccomp2)", 125) from None
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                               ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        _lib = lib
    return _lib


def program(section: dict[str, Any]) -> Program:
    """The compiled filter for `section`, from the cache when this process compiled it."""
    key = json.dumps(section, sort_keys=True)
    cached = _cache.get(key)
    if cached is None:
        cached = _compile(section)
        with _lock:
            _cache[key] = cached
            while len(_cache) > _CACHE_SIZE:  # oldest first
                _cache.pop(next(iter(_cache)))
    return cached


def _action(name: str, errno: int | None) -> int:
    if name == "SCMP_ACT_ALLOW":
        return _ACT_ALLOW
    if name == "SCMP_ACT_ERRNO":
        return _ACT_ERRNO | ((_EPERM if errno is None else errno) & 0xFFFF)
    if name == "SCMP_ACT_TRACE":
        return _ACT_TRACE | ((_EPERM if errno is None else errno) & 0xFFFF)
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return _ACT_KILL_THREAD
    if name == "SCMP_ACT_KILL_PROCESS":
        return _ACT_KILL_PROCESS
    if name == "SCMP_ACT_TRAP":
        return _ACT_TRAP
    if name == "SCMP_ACT_LOG":
        return _ACT_LOG
    if name == "SCMP_ACT_NOTIFY":
        raise RuntimeCreateError("seccomp action SCMP_ACT_NOTIFY is not supported by the "
                                 "dockyard runtime (use --runtime runc)", 125)
    raise RuntimeCreateError(f"string {name} is not a valid action for seccomp", 125)


def _compile(section: dict[str, Any]) -> Program:
    lib = _libseccomp()
    default = _action(section.get("defaultAction") or "", section.get("defaultErrnoRet"))
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise RuntimeCreateError("error initializing seccomp filter", 125)
    try:
        lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_NNP, 0)
        for arch in section.get("architectures") or []:
            token = lib.seccomp_arch_resolve_name(arch.removeprefix("SCMP_ARCH_").lower()
                                                  .encode())
            if token == 0:
                raise RuntimeCreateError(f"string {arch} is not a valid arch for seccomp", 125)
            rc = lib.seccomp_arch_add(ctx, token)
            if rc not in (0, -17):  # -EEXIST: the native architecture is already there
                raise RuntimeCreateError(f"error adding architecture {arch} to seccomp "
                                         f"filter: {os.strerror(-rc)}", 125)
        highest = -1
        for call in section.get("syscalls") or []:
            action = _action(call.get("action") or "", call.get("errnoRet"))
            for args in _conditions(call.get("args") or []):
                for name in call.get("names") or []:
                    number = lib.seccomp_syscall_resolve_name(name.encode())
                    if number < 0:
                        continue  # unknown to this libseccomp/kernel: skipped, as runc does
                    highest = max(highest, number)
                    if action == default:
                        continue  # libseccomp refuses rules that repeat the default action
                    array = (_ArgCmp * max(len(args), 1))(*args)
                    rc = lib.seccomp_rule_add_array(ctx, action, number, len(args), array)
                    if rc < 0:
                        raise RuntimeCreateError(f"error adding seccomp filter rule for "
                                                 f"syscall {name}: {os.strerror(-rc)}", 125)
        bpf = _export(lib, ctx)
        if default not in (_ACT_ALLOW, _ACT_LOG) and highest >= 0:
            bpf = _enosys_stub(highest) + bpf
        return Program(bpf, _flags(section.get("flags") or []))
    finally:
        lib.seccomp_release(ctx)


def _enosys_stub(highest: int) -> bytes:
    """runc's trick: a native syscall newer than every one the profile names answers ENOSYS
    (not the default EPERM), so libc falls back to the older call (e.g. fchmodat2, which
    this libseccomp may not know). Jumps are relative, so prepending keeps the program."""
    arch = _AUDIT_ARCH.get(os.uname().machine)
    if arch is None:
        return b""
    ld_abs, jeq, jge, jgt, ret = 0x20, 0x15, 0x35, 0x25, 0x06
    insns = [(ld_abs, 0, 0, 4),                 # A = seccomp_data.arch
             (jeq, 0, 4, arch),                 # other architectures: to the filter
             (ld_abs, 0, 0, 0),                 # A = seccomp_data.nr
             (jge, 2, 0, _X32_BIT),             # x32 numbers: to the filter
             (jgt, 0, 1, highest),
             (ret, 0, 0, _ACT_ERRNO | 38)]      # ENOSYS
    return b"".join(struct.pack("=HBBI", *insn) for insn in insns)


def _conditions(args: list[dict[str, Any]]) -> list[list[_ArgCmp]]:
    """runc's rule: conditions on distinct arguments are ANDed in one rule; if an argument
    is tested more than once, each condition becomes a rule of its own (ORed)."""
    cmps = [_ArgCmp(int(a.get("index") or 0), _OPS[a.get("op") or "SCMP_CMP_EQ"],
                    int(a.get("value") or 0) & 0xFFFFFFFFFFFFFFFF,
                    int(a.get("valueTwo") or 0) & 0xFFFFFFFFFFFFFFFF) for a in args]
    indexes = [c.arg for c in cmps]
    if len(set(indexes)) == len(indexes):
        return [cmps]
    return [[c] for c in cmps]


def _flags(names: list[str]) -> int:
    value = 0
    for name in names:
        if name not in _FLAGS:
            raise RuntimeCreateError(f"seccomp flags {name} not yet supported by runc", 125)
        value |= _FLAGS[name]
    return value


def _export(lib: ctypes.CDLL, ctx: int) -> bytes:
    fd = os.memfd_create("dockyard-seccomp", os.MFD_CLOEXEC)
    try:
        rc = lib.seccomp_export_bpf(ctx, fd)
        if rc < 0:
            raise RuntimeCreateError(f"error exporting seccomp filter: {os.strerror(-rc)}", 125)
        size = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)
