"""`attach` (a terminal onto a running container) and `logs` (what it wrote)."""
from __future__ import annotations

import sys

from ..client import containers as api_containers
from ..client.transport import APIError
from .common import Context, daemon_error, fail
from .flags import Bool, Opts, Str, command


@command("[OPTIONS] CONTAINER",
         Str("--detach-keys", "Override the key sequence for detaching a container"),
         Bool("--no-stdin", "Do not attach STDIN"),
         Bool("--sig-proxy", "Proxy all received signals to the process", default=True),
         args=(1, 1), complete="container")
def attach(ctx: Context, o: Opts, args: list[str]) -> None:
    from . import interactive

    api = ctx.api
    keys = interactive.parse_keys(interactive.configured_detach_keys(o.detach_keys))
    try:
        info = api_containers.inspect(api, args[0])
    except APIError as exc:
        daemon_error(exc, 1, "")
    if not info["State"]["Running"]:
        fail("You cannot attach to a stopped container, start it first")
    if info["State"]["Paused"]:
        fail("You cannot attach to a paused container, unpause it first")
    cid, config = info["Id"], info["Config"]
    stdin = bool(config.get("OpenStdin")) and not o.no_stdin
    tty = bool(config.get("Tty"))
    if tty and stdin:
        interactive.require_tty_input()
    waiter = api_containers.wait_begin(api, cid, "not-running")
    sock, stream = api_containers.attach_socket(api, cid, stdin, o.detach_keys)
    if interactive.attach_container(api, cid, sock, stream, tty=tty, stdin=stdin, keys=keys,
                                    sig_proxy=o.sig_proxy):
        fail("read escape sequence")
    sys.exit(api_containers.wait_result(waiter).get("StatusCode", 0))


@command("[OPTIONS] CONTAINER",
         Bool("--details", "Show extra details provided to logs"),
         Bool("-f, --follow", "Follow log output"),
         Str("--since", "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative "
             "(e.g. \"42m\" for 42 minutes)"),
         Str("-n, --tail", "Number of lines to show from the end of the logs", default="all"),
         Bool("-t, --timestamps", "Show timestamps"),
         Str("--until", "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or "
             "relative (e.g. \"42m\" for 42 minutes)"),
         args=(1, 1), complete="container")
def logs(ctx: Context, o: Opts, args: list[str]) -> None:
    api = ctx.api
    info = api_containers.inspect(api, args[0])
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for kind, payload in api_containers.logs(api, args[0], follow=o.follow,
                                             timestamps=o.timestamps, tail=o.tail,
                                             since=o.since, until=o.until,
                                             tty=info["Config"].get("Tty", False)):
        target = err if kind == 2 else out
        target.write(payload)
        target.flush()
