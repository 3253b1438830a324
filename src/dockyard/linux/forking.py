"""The one way the daemon forks.

A forked child starts as a copy of the daemon: it carries the event loop's Python signal
handlers and the `signal.set_wakeup_fd` socket it shares with the parent's loop. A signal
that reaches the child before it execs (a `docker stop` right after start, say) would then be
written to that shared socket and read by the daemon as its own, so one SIGTERM meant for a
container would shut the engine down. fork() closes that window: all signals stay blocked
across the fork, and the child drops the wakeup fd and resets every handler to its default
before it unblocks them.
"""
from __future__ import annotations

import os
import signal

_ALL = set(signal.valid_signals())
_UNCATCHABLE = {signal.SIGKILL, signal.SIGSTOP}


def fork() -> int:
    """os.fork() whose child can never deliver a signal to the daemon's handlers.
    Returns 0 in the child and the child's pid in the parent, like os.fork()."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _ALL)
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        raise
    if pid == 0:
        _reset_child()
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
    else:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return pid


def _reset_child() -> None:  # pragma: no cover - runs in the forked child
    """Forget the daemon's signal set-up: no wakeup fd, every handler back to SIG_DFL."""
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:  # not the main thread of the child: nothing was set there
        pass
    for sig in _ALL - _UNCATCHABLE:
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
