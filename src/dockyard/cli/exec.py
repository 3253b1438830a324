"""`exec`: a command in a running container; everything after the container is the command."""
from __future__ import annotations

import sys
from typing import Any

from ..client import containers as api_containers
from ..client.transport import APIError
from .common import Context, daemon_error, fail
from .createopts import env_values, read_env_files
from .flags import Bool, List, Opts, Str, command
from .run import start_exit_code


@command("[OPTIONS] CONTAINER COMMAND [ARG...]",
         Bool("-d, --detach", "Detached mode: run command in the background"),
         Str("--detach-keys", "Override the key sequence for detaching a container"),
         List("-e, --env", "Set environment variables"),
         List("--env-file", "Read in a file of environment variables"),
         Bool("-i, --interactive", "Keep STDIN open even if not attached"),
         Bool("--privileged", "Give extended privileges to the command"),
         Bool("-t, --tty", "Allocate a pseudo-TTY"),
         Str("-u, --user", 'Username or UID (format: "<name|uid>[:<group|gid>]")'),
         Str("-w, --workdir", "Working directory inside the container"),
         args=(2, None), interspersed=False, complete="container")
def exec_(ctx: Context, o: Opts, args: list[str]) -> None:
    from . import interactive as session

    api = ctx.api
    keys = session.parse_keys(session.configured_detach_keys(o.detach_keys))
    stdin = o.interactive and not o.detach
    if o.tty and stdin:
        session.require_tty_input()
    body: dict[str, Any] = {
        "Cmd": args[1:], "Env": read_env_files(o.env_file) + env_values(o.env),
        "User": o.user or "", "WorkingDir": o.workdir or "", "Privileged": o.privileged,
        "AttachStdin": stdin, "AttachStdout": not o.detach, "AttachStderr": not o.detach,
        "Tty": o.tty, "Detach": o.detach, "DetachKeys": o.detach_keys or ""}
    size = session.terminal_size() if o.tty else None
    if size:
        body["ConsoleSize"] = list(size)
    try:
        exec_id = api_containers.exec_create(api, args[0], body)
        hijacked = api_containers.exec_start(api, exec_id, o.detach, o.tty, size)
    except APIError as exc:
        daemon_error(exc, start_exit_code(exc.message) if exc.status == 400 else 1, "")
    if hijacked is None:
        return
    sock, stream = hijacked
    detached = session.Session(
        sock, stream, tty=o.tty, stdin=stdin, keys=keys,
        resize=lambda rows, cols: api_containers.exec_resize(api, exec_id, rows, cols)).run()
    if detached:
        fail("read escape sequence")
    sys.exit(api_containers.exec_inspect(api, exec_id).get("ExitCode") or 0)
