"""Container lifecycle: start (also attached), stop, restart, kill, rm, wait, rename and
container prune."""
from __future__ import annotations

import sys

from ..client import containers as api_containers
from ..client.transport import APIError
from .common import Context, check_filter, confirm, daemon_error, filters, for_each
from .flags import Bool, Int, List, Opts, Str, command

_MANY = "[OPTIONS] CONTAINER [CONTAINER...]"


@command(_MANY,
         Bool("-a, --attach", "Attach STDOUT/STDERR and forward signals"),
         Str("--detach-keys", "Override the key sequence for detaching a container"),
         Bool("-i, --interactive", "Attach container's STDIN"),
         args=(1, None), complete="container")
def start(ctx: Context, o: Opts, args: list[str]) -> None:
    api = ctx.api
    if not (o.attach or o.interactive):
        for_each(args, lambda ref: api_containers.start(api, ref))
        return
    from . import interactive as session

    keys = session.parse_keys(session.configured_detach_keys(o.detach_keys))
    try:
        info = api_containers.inspect(api, args[0])
    except APIError as exc:
        daemon_error(exc, 1, "")
    cid, config = info["Id"], info["Config"]
    stdin = o.interactive and bool(config.get("OpenStdin"))
    tty = bool(config.get("Tty"))
    if tty and stdin:
        session.require_tty_input()
    sock, stream = api_containers.attach_socket(api, cid, stdin, o.detach_keys)
    waiter = api_containers.wait_begin(api, cid, "next-exit")
    try:
        api_containers.start(api, cid)
    except APIError as exc:
        daemon_error(exc, 1, "")
    if session.attach_container(api, cid, sock, stream, tty=tty, stdin=stdin, keys=keys,
                                sig_proxy=True):
        return
    sys.exit(api_containers.wait_result(waiter).get("StatusCode", 0))


_SIGNAL = Str("-s, --signal", "Signal to send to the container")
_TIMEOUT = (Int("-t, --timeout", "Seconds to wait before killing the container"),
            Int("--time", hidden=True, dest="timeout"))


@command(_MANY, _SIGNAL, *_TIMEOUT, args=(1, None), complete="container")
def stop(ctx: Context, o: Opts, args: list[str]) -> None:
    api = ctx.api
    for_each(args, lambda ref: api_containers.stop(api, ref, o.timeout, o.signal))


@command(_MANY, *_TIMEOUT, args=(1, None), complete="container")
def restart(ctx: Context, o: Opts, args: list[str]) -> None:
    api = ctx.api
    for_each(args, lambda ref: api_containers.restart(api, ref, o.timeout))


@command(_MANY, _SIGNAL, args=(1, None), complete="container")
def kill(ctx: Context, o: Opts, args: list[str]) -> None:
    api = ctx.api
    for_each(args, lambda ref: api_containers.kill(api, ref, o.signal))


@command(_MANY,
         Bool("-f, --force", "Force the removal of a running container (uses SIGKILL)"),
         Bool("-v, --volumes", "Remove anonymous volumes associated with the container"),
         args=(1, None), complete="container")
def rm(ctx: Context, o: Opts, args: list[str]) -> None:
    api = ctx.api
    for_each(args, lambda ref: api_containers.remove(api, ref, o.force, o.volumes))


@command("CONTAINER [CONTAINER...]", args=(1, None), complete="container")
def wait(ctx: Context, o: Opts, args: list[str]) -> None:
    api = ctx.api
    for_each(args, lambda ref: [str(api_containers.wait(api, ref)["StatusCode"])])


@command("CONTAINER NEW_NAME", args=(2, 2), complete="container")
def rename(ctx: Context, o: Opts, args: list[str]) -> None:
    api_containers.rename(ctx.api, args[0], args[1])


@command("[OPTIONS]",
         List("--filter", 'Provide filter values (e.g. "until=<timestamp>")', meta="filter",
              check=check_filter),
         Bool("-f, --force", "Do not prompt for confirmation"))
def prune(ctx: Context, o: Opts, args: list[str]) -> None:
    if not o.force and not confirm("WARNING! This will remove all stopped containers.\n"
                                   "Are you sure you want to continue?"):
        return
    result = api_containers.prune(ctx.api, filters(o.filter))
    deleted = result.get("ContainersDeleted") or []
    if deleted:
        print("Deleted Containers:")
        for cid in deleted:
            print(cid)
        print()
    from ..units import human_size
    print(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}")
