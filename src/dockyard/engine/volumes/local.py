"""The local driver: a volume is `<data-root>/volumes/<name>/_data`. With options (`type`,
`device`, `o`, as the `mount` command takes them) the directory is a mount point: the
filesystem is mounted there when the first container using it starts and unmounted when
the last one stops (the service keeps the count)."""
from __future__ import annotations

import os
import re
import shutil

from ...errors import DockyardError, InvalidParameter
from ...linux import mountinfo, syscalls

VALID_OPTIONS = ("type", "device", "o", "size")
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
# mount(8) flag words of `o=` and their MS_* bits (True: clears the bit); the rest is data
_FLAGS: dict[str, tuple[int, bool]] = {
    "ro": (syscalls.MS_RDONLY, False), "rw": (syscalls.MS_RDONLY, True),
    "nosuid": (syscalls.MS_NOSUID, False), "suid": (syscalls.MS_NOSUID, True),
    "nodev": (syscalls.MS_NODEV, False), "dev": (syscalls.MS_NODEV, True),
    "noexec": (syscalls.MS_NOEXEC, False), "exec": (syscalls.MS_NOEXEC, True),
    "noatime": (syscalls.MS_NOATIME, False), "bind": (syscalls.MS_BIND, False),
    "rbind": (syscalls.MS_BIND | syscalls.MS_REC, False), "defaults": (0, False),
    "sync": (0x10, False), "async": (0x10, True), "dirsync": (0x80, False),
}


def validate_name(name: str) -> None:
    """The local driver's rule for names (what makes `-v name:/x` a volume)."""
    if len(name) == 1:
        raise InvalidParameter("volume name is too short, names should be at least two "
                               "alphanumeric characters")
    if not _NAME.match(name):
        raise InvalidParameter(f'"{name}" includes invalid characters for a local volume '
                               'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you '
                               "intended to pass a host directory, use absolute path")


def validate_options(options: dict[str, str]) -> None:
    for key in options:
        if key not in VALID_OPTIONS:
            raise InvalidParameter(f'invalid option key: "{key}"')
    if options.get("size"):
        raise InvalidParameter("quota size requested but no quota support")
    if options.get("type") and not options.get("device"):
        raise InvalidParameter('missing required option: "device"')
    if options.get("device") and not options.get("type"):
        raise InvalidParameter('missing required option: "type"')
    if "bind" in _words(options) and not os.path.exists(options.get("device", "")):
        raise InvalidParameter(f"bind source path does not exist: {options.get('device')}")


def needs_mount(options: dict[str, str]) -> bool:
    """Whether the volume is a filesystem mounted on use, not a plain directory."""
    return bool(options.get("type") or options.get("device"))


def _words(options: dict[str, str]) -> list[str]:
    return [w for w in (options.get("o") or "").split(",") if w]


def data_path(root: str, name: str) -> str:
    return os.path.join(root, name, "_data")


def make(root: str, name: str) -> str:
    """The volume's directories (0701 and 0755, as Docker's)."""
    os.makedirs(os.path.join(root, name), mode=0o701, exist_ok=True)
    path = data_path(root, name)
    os.makedirs(path, mode=0o755, exist_ok=True)
    return path


def destroy(root: str, name: str) -> None:
    path = os.path.join(root, name)
    if is_mounted(data_path(root, name)):
        unmount(data_path(root, name))
    shutil.rmtree(path, ignore_errors=True)


def mount(path: str, options: dict[str, str]) -> None:
    """Mount the volume's filesystem at its `_data` directory."""
    flags, data = 0, []
    for word in _words(options):
        if word in _FLAGS:
            bit, clear = _FLAGS[word]
            flags = flags & ~bit if clear else flags | bit
        else:
            data.append(word)
    fstype = options.get("type") or None
    if flags & syscalls.MS_BIND:
        fstype = None
    device = options.get("device") or fstype
    try:
        syscalls.mount(device, path, fstype, flags & ~syscalls.MS_RDONLY if
                       flags & syscalls.MS_BIND else flags, ",".join(data) or None)
        if flags & syscalls.MS_BIND and flags & syscalls.MS_RDONLY:
            syscalls.mount(None, path, None, syscalls.MS_BIND | syscalls.MS_REMOUNT |
                           syscalls.MS_RDONLY)
    except OSError as exc:
        shown = f", data: {','.join(data)}" if data else ""
        raise DockyardError(f"error while mounting volume '{path}': failed to mount "
                            f"local volume: mount {device}:{path}, flags: {hex(flags)}"
                            f"{shown}: {os.strerror(exc.errno or 0).lower()}") from None


def unmount(path: str) -> None:
    try:
        syscalls.umount(path)
    except OSError:
        try:
            syscalls.umount(path, syscalls.MNT_DETACH)
        except OSError:
            pass


def is_mounted(path: str) -> bool:
    return mountinfo.is_mount_point(path)


def size(path: str) -> int:
    """Bytes of the files under `path`, each inode once (Docker's directory size)."""
    total, seen = 0, set()
    for base, dirs, files in os.walk(path):
        for name in files + dirs:
            try:
                st = os.lstat(os.path.join(base, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            if not os.path.isdir(os.path.join(base, name)) or os.path.islink(
                    os.path.join(base, name)):
                total += st.st_size
    return total
