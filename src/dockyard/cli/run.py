"""`create` and `run`: the create request (pulling a missing image first, as the docker
CLI does), then for `run` attach and wait before start so that no output and no exit is
missed, and the docker CLI's exit codes (125 for our errors, 126/127 for the command's)."""
from __future__ import annotations

import sys

from ..client import containers as api_containers
from ..client.transport import APIClient, APIError
from .common import Context, daemon_error, fail
from .createopts import CREATE_FLAGS, build_body
from .flags import Bool, Opts, command

_USAGE = "[OPTIONS] IMAGE [COMMAND] [ARG...]"


def _create(api: APIClient, image: str, cmd: list[str], o: Opts, stdin_once: bool = False
            ) -> str:
    body = build_body(image, cmd, o)
    body["StdinOnce"] = stdin_once
    try:
        return api_containers.create(api, body, o.name)["Id"]
    except APIError as exc:
        if exc.status != 404 or not exc.message.startswith("No such image"):
            raise
    from .distribution import pull_image
    from .jsonstream import StreamError

    reference = image if ":" in image.rsplit("/", 1)[-1] or "@" in image else f"{image}:latest"
    print(f"Unable to find image '{reference}' locally", file=sys.stderr)
    try:
        pull_image(api, image, None, out=sys.stderr)
    except StreamError as exc:
        fail(f"dockyard: {exc}", 125)
    return api_containers.create(api, body, o.name)["Id"]


def start_exit_code(message: str) -> int:
    """The docker CLI's mapping of start errors to exit codes."""
    if "executable file not found" in message or "no such file or directory" in message:
        return 127
    if "permission denied" in message:
        return 126
    return 125


@command(_USAGE, *CREATE_FLAGS, args=(1, None), interspersed=False, complete="image")
def create(ctx: Context, o: Opts, args: list[str]) -> None:
    if o.detach_keys:
        from .interactive import parse_keys
        parse_keys(o.detach_keys)
    try:
        print(_create(ctx.api, args[0], args[1:], o))
    except APIError as exc:
        daemon_error(exc, 125, "")


@command(_USAGE, *CREATE_FLAGS,
         Bool("-d, --detach", "Run container in background and print container ID"),
         Bool("--sig-proxy", "Proxy received signals to the process", default=True),
         args=(1, None), interspersed=False, complete="image")
def run(ctx: Context, o: Opts, args: list[str]) -> None:
    from . import interactive

    api = ctx.api
    keys = interactive.parse_keys(interactive.configured_detach_keys(o.detach_keys))
    if o.tty and o.interactive and not o.detach:
        interactive.require_tty_input()
    try:
        cid = _create(api, args[0], args[1:], o, stdin_once=o.interactive and not o.detach)
    except APIError as exc:
        daemon_error(exc, 125)
    if o.detach:
        try:
            api_containers.start(api, cid)
        except APIError as exc:
            daemon_error(exc, start_exit_code(exc.message))
        print(cid)
        return
    sock, stream = api_containers.attach_socket(api, cid, o.interactive, o.detach_keys)
    waiter = api_containers.wait_begin(api, cid, "removed" if o.rm else "next-exit")
    try:
        api_containers.start(api, cid)
    except APIError as exc:
        if o.rm:
            try:
                api_containers.remove(api, cid, force=True)
            except APIError:
                pass
        daemon_error(exc, start_exit_code(exc.message))
    if interactive.attach_container(api, cid, sock, stream, tty=o.tty, stdin=o.interactive,
                                    keys=keys, sig_proxy=o.sig_proxy):
        return  # detached: the container keeps running
    sys.exit(api_containers.wait_result(waiter).get("StatusCode", 0))
