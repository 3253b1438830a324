"""The container's terminal, allocated as runc does with a console socket: inside the
container (after pivot_root, so in its own devpts instance: `tty` prints /dev/pts/0), made the
controlling terminal and stdio of the process, its master sent out with SCM_RIGHTS to the
monitor, which relays it. Runs in the forked container init or exec'd process."""
from __future__ import annotations

import fcntl
import os
import socket
import struct
import termios
from typing import Any

_TIOCGPTN = 0x80045430    # the pty number of a master
_TIOCSPTLCK = 0x40045431  # (un)lock the slave


def set_size(fd: int, size: dict[str, Any] | None) -> None:
    """Apply an OCI consoleSize ({"height", "width"}) when one is given."""
    if size and size.get("height") and size.get("width"):
        fcntl.ioctl(fd, termios.TIOCSWINSZ,
                    struct.pack("HHHH", int(size["height"]), int(size["width"]), 0, 0))


def attach_terminal(console: socket.socket, size: dict[str, Any] | None) -> None:
    """Open a pty from /dev/ptmx, make its slave our controlling terminal and fds 0-2, and
    send the master over `console`. The caller must be a session leader without a terminal
    (it called setsid)."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
    number = struct.unpack("I", fcntl.ioctl(master, _TIOCGPTN, struct.pack("I", 0)))[0]
    slave = os.open(f"/dev/pts/{number}", os.O_RDWR | os.O_NOCTTY)
    set_size(slave, size)
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    if slave > 2:
        os.close(slave)
    socket.send_fds(console, [b"pty"], [master])
    os.close(master)
    console.close()
