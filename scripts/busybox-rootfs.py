#!/usr/bin/env python3
"""Write a busybox root filesystem tarball made from Debian's busybox-static.

Usage: busybox-rootfs.py OUTPUT.tar [BUSYBOX_BINARY]
The archive is deterministic (sorted entries, fixed times), so importing it twice gives the
same layer digest. It is the local stand-in for Docker Hub's busybox image.
"""
from __future__ import annotations

import io
import subprocess
import sys
import tarfile

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
tty:x:5:
www-data:x:33:
users:x:100:app
app:x:1000:
nogroup:x:65534:
"""
MTIME = 1700000000


def _dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, MTIME
    tar.addfile(info)


def _file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, MTIME
    tar.addfile(info, io.BytesIO(data))


def main() -> None:
    output = sys.argv[1]
    busybox = sys.argv[2] if len(sys.argv) > 2 else "/bin/busybox"
    applets = sorted(set(subprocess.run([busybox, "--list"], capture_output=True, text=True,
                                        check=True).stdout.split()) - {"busybox"})
    with open(busybox, "rb") as f:
        binary = f.read()
    with tarfile.open(output, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "dev", "etc", "home", "proc", "root", "sys", "usr", "usr/bin",
                  "usr/sbin", "var", "var/www"):
            _dir(tar, d, 0o700 if d == "root" else 0o755)
        _dir(tar, "tmp", 0o1777)
        _file(tar, "bin/busybox", binary, 0o755)
        for applet in applets:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname, info.mtime, info.mode = tarfile.SYMTYPE, "busybox", \
                MTIME, 0o777
            tar.addfile(info)
        _file(tar, "etc/passwd", PASSWD.encode())
        _file(tar, "etc/group", GROUP.encode())
        _dir(tar, "home/app")


if __name__ == "__main__":
    main()
