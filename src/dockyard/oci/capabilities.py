"""Linux capability names and numbers, and Docker's default set."""
from __future__ import annotations

from ..errors import InvalidParameter

# Kernel order: the index is the capability number.
_NAMES = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
          "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
          "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
          "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
          "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
          "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
          "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"]

CAP_NUMBERS = {f"CAP_{name}": i for i, name in enumerate(_NAMES)}
ALL_CAPS = [f"CAP_{name}" for name in _NAMES]
DEFAULT_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


def normalise_cap(name: str) -> str:
    """"net_admin", "CAP_NET_ADMIN" → "CAP_NET_ADMIN"; "all" → "ALL"; unknown → Docker's error."""
    upper = name.strip().upper()
    if upper == "ALL":
        return "ALL"
    full = upper if upper.startswith("CAP_") else f"CAP_{upper}"
    if full not in CAP_NUMBERS:
        raise InvalidParameter(f'unknown capability: "{full}"')
    return full


def mask(names: list[str]) -> int:
    value = 0
    for name in names:
        number = CAP_NUMBERS.get(name)
        if number is not None:
            value |= 1 << number
    return value
