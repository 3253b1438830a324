"""`pull` and `push` (also as `image pull`/`image push`): the daemon's progress stream drawn
as the docker CLI draws it, then the reference pulled (as `docker pull` prints it)."""
from __future__ import annotations

import contextlib
import sys
from typing import Any, Iterator, TextIO

from .common import Context
from .flags import Bool, Opts, Str, command


def registry_auth(name: str) -> str | None:
    """The X-Registry-Auth value the credentials module finds for the image's registry."""
    from .. import reference

    from .credentials import registry_auth_header

    try:
        domain = reference.parse_normalized_named(name.split("@", 1)[0]).domain
    except Exception:  # noqa: BLE001 - the daemon reports bad names with Docker's text
        return None
    return registry_auth_header(domain)


def pull_image(api: Any, name: str, platform: str | None = None, all_tags: bool = False,
               quiet: bool = False, out: TextIO | None = None) -> None:
    """Pull with progress on `out`; raises APIError (before streaming) or StreamError."""
    from ..client import images as api_images
    from .jsonstream import display

    messages = api_images.pull_stream(api, name, platform, all_tags, registry_auth(name))
    if quiet:
        for message in messages:
            if message.get("errorDetail") or message.get("error"):
                display([message])
    else:
        display(messages, out or sys.stdout)


def _canonical(name: str, all_tags: bool) -> str:
    from .. import reference

    ref = reference.parse_normalized_named(name)
    return str(ref if all_tags else ref.tag_name_only())


_TRUST = Bool("--disable-content-trust", "Skip image verification", default=True,
              hidden=True)


@command("[OPTIONS] NAME[:TAG|@DIGEST]",
         Bool("-a, --all-tags", "Download all tagged images in the repository"),
         Str("--platform", "Set platform if server is multi-platform capable"),
         Bool("-q, --quiet", "Suppress verbose output"), _TRUST,
         args=(1, 1), complete="image")
def pull(ctx: Context, o: Opts, args: list[str]) -> None:
    name, all_tags = args[0], o.all_tags
    if all_tags and ("@" in name or ":" in name.rsplit("/", 1)[-1]):
        print("tag can't be used with --all-tags/-a", file=sys.stderr)
        sys.exit(1)
    with _stream_errors():
        pull_image(ctx.api, name, o.platform, all_tags, o.quiet)
    print(_canonical(name, all_tags))


@command("[OPTIONS] NAME[:TAG]",
         Bool("-a, --all-tags", "Push all tags of an image to the repository"),
         Bool("-q, --quiet", "Suppress verbose output"), _TRUST,
         args=(1, 1), complete="image")
def push(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import images as api_images
    from .. import reference
    from .jsonstream import display

    name, all_tags, quiet = args[0], o.all_tags, o.quiet
    repo, tag = reference.split_repo_tag(name)
    if all_tags and tag:
        print("tag can't be used with --all-tags/-a", file=sys.stderr)
        sys.exit(1)
    if not all_tags and not tag and "@" not in name:
        tag = "latest"
    with _stream_errors():
        messages = api_images.push_stream(ctx.api, repo, tag, registry_auth(repo))
        if quiet:
            for message in messages:
                if message.get("errorDetail") or message.get("error"):
                    display([message])
        else:
            display(messages, sys.stdout)
    if quiet:
        print(name if tag is None else f"{repo}:{tag}")


@contextlib.contextmanager
def _stream_errors() -> Iterator[None]:
    """The docker CLI's exit for a failed pull or push: the daemon's refusal before the
    stream, or the error line that ended it, on stderr with status 1."""
    from ..client.transport import APIError
    from .jsonstream import StreamError

    try:
        yield
    except APIError as exc:
        prefix = "" if exc.status == 0 else "Error response from daemon: "
        print(f"{prefix}{exc.message}", file=sys.stderr)
        sys.exit(1)
    except StreamError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(1)

