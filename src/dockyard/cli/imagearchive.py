"""import, save and load: images to and from tar archives."""
from __future__ import annotations

import sys
from typing import Any

from .common import Context, fail
from .flags import Bool, List, Opts, Str, command


@command("[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
         List("-c, --change", "Apply Dockerfile instruction to the created image"),
         Str("-m, --message", "Set commit message for imported image"),
         Str("--platform", "Set platform if server is multi-platform capable"),
         args=(1, 2))
def import_(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import images as api_images
    from ..errors import InvalidParameter
    from .. import reference

    source, repository = args[0], (args[1] if len(args) > 1 else None)
    if repository:
        try:
            reference.parse_normalized_named(repository)
        except InvalidParameter as exc:
            fail(exc.message)
    api = ctx.api
    if source == "-":
        result = api_images.import_image(api, sys.stdin.buffer, repository, None, o.message,
                                         list(o.change), o.platform)
    elif source.startswith(("http://", "https://")):
        result = api_images.import_image(api, source, repository, None, o.message,
                                         list(o.change), o.platform)
    else:
        try:
            stream = open(source, "rb")
        except FileNotFoundError:
            fail(f"open {source}: no such file or directory")
        except IsADirectoryError:
            fail(f"read {source}: is a directory")
        except PermissionError:
            fail(f"open {source}: permission denied")
        with stream:
            result = api_images.import_image(api, stream, repository, None, o.message,
                                             list(o.change), o.platform)
    _print_stream(result)


def _print_stream(messages: Any) -> None:
    """jsonmessage display for a non-terminal: status and stream lines, errors fatal."""
    for item in messages:
        if item.get("error") or item.get("errorDetail"):
            detail = item.get("errorDetail") or {}
            fail(detail.get("message") or item.get("error") or "unknown error")
        if item.get("stream"):
            sys.stdout.write(item["stream"])
            sys.stdout.flush()
        elif item.get("status") and not item.get("progressDetail"):
            prefix = f"{item['id']}: " if item.get("id") else ""
            print(f"{prefix}{item['status']}", flush=True)


@command("[OPTIONS] IMAGE [IMAGE...]",
         Str("-o, --output", "Write to a file, instead of STDOUT"),
         Str("--platform", "Save only the given platform variant", hidden=True),
         args=(1, None), complete="image")
def save(ctx: Context, o: Opts, args: list[str]) -> None:
    import os

    from ..client import images as api_images

    if o.output is None and sys.stdout.isatty():
        fail("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    if o.output is not None:
        directory = os.path.dirname(os.path.abspath(o.output))
        if not os.path.exists(directory):
            fail(f"failed to save image: invalid output path: stat {directory}: no such "
                 "file or directory")
        if not os.path.isdir(directory):
            fail(f"failed to save image: invalid output path: {directory} is not a "
                 "directory")
    response = api_images.save(ctx.api, args)
    if o.output is None:
        sink = sys.stdout.buffer
        while chunk := response.read1(1 << 20):
            sink.write(chunk)
        sink.flush()
        return
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=".docker_temp_", dir=os.path.dirname(
        os.path.abspath(o.output)))
    try:
        with os.fdopen(fd, "wb") as sink:
            while chunk := response.read1(1 << 20):
                sink.write(chunk)
        os.rename(tmp, o.output)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@command("[OPTIONS]",
         Str("-i, --input", "Read from tar archive file, instead of STDIN"),
         Str("--platform", "Load only the given platform variant", hidden=True),
         Bool("-q, --quiet", "Suppress the load output"))
def load(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import images as api_images

    if o.input is None and sys.stdin.isatty():
        fail("requested load from stdin, but stdin is empty")
    if not sys.stdout.isatty():
        o.quiet = True
    if o.input is None:
        _print_stream(api_images.load_stream(ctx.api, sys.stdin.buffer, o.quiet))
        return
    try:
        source = open(o.input, "rb")
    except FileNotFoundError:
        fail(f"open {o.input}: no such file or directory")
    with source:
        _print_stream(api_images.load_stream(ctx.api, source, o.quiet))
