"""Image commands: images, image (ls, inspect, history, tag, rm, prune, import, save,
load), rmi, tag, history, import, save, load — with the docker CLI's output.

Only click is imported at module level; everything else is loaded by the command that
needs it (CLI start-up time is measured).
"""
from __future__ import annotations

import sys
from typing import Any

import click

_CTX = {"help_option_names": ["--help"]}


def _api(ctx: click.Context) -> Any:
    from .common import api_of
    return api_of(ctx)


def _fail(message: str, code: int = 1) -> None:
    print(message, file=sys.stderr)
    sys.exit(code)


def _parse_filters(values: tuple[str, ...]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            _fail("bad format of filter (expected name=value)")
        filters.setdefault(key.strip().lower(), []).append(value)
    return filters


def _daemon_error(exc: Any) -> str:
    return exc.message if exc.status == 0 else f"Error response from daemon: {exc.message}"


# --- images / image ls --------------------------------------------------------------------------

IMAGE_HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG",
                 "Digest": "DIGEST", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                 "Size": "SIZE", "Containers": "CONTAINERS", "VirtualSize": "VIRTUAL SIZE",
                 "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}
IMAGES_TABLE = ("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t"
                "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}")
IMAGES_TABLE_DIGESTS = ("table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t"
                        "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}")
IMAGES_RAW = ("repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: {{.ID}}\n"
              "created_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n")
IMAGES_RAW_DIGESTS = ("repository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: {{.Digest}}\n"
                      "image_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\n"
                      "virtual_size: {{.Size}}\n")


def _go_time(seconds: int) -> str:
    """Go's time.Time.String() for a Unix time, in local time."""
    import datetime

    moment = datetime.datetime.fromtimestamp(seconds).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S %z %Z")


def image_rows(images: list[dict[str, Any]], no_trunc: bool = False, digests: bool = False,
               now: float | None = None) -> list[dict[str, str]]:
    """One row per repository:tag (per digest with --digests), as the docker CLI's image
    formatter makes them."""
    import time

    from ..store import reference
    from ..units import human_duration, human_size
    from .formatting import truncate_id

    now = time.time() if now is None else now
    rows: list[dict[str, str]] = []
    for image in images:
        created = int(image.get("Created") or 0)
        size = int(image.get("Size") or 0)
        shared = int(image.get("SharedSize", -1) if image.get("SharedSize") is not None
                     else -1)
        containers = int(image.get("Containers", -1) if image.get("Containers") is not None
                         else -1)
        base = {
            "ID": image["Id"] if no_trunc else truncate_id(image["Id"]),
            "CreatedSince": f"{human_duration(now - created)} ago",
            "CreatedAt": _go_time(created),
            "Size": human_size(size),
            "VirtualSize": human_size(int(image.get("VirtualSize") or size), 4),
            "SharedSize": "N/A" if shared == -1 else human_size(shared),
            "UniqueSize": "N/A" if shared == -1 else human_size(size - shared),
            "Containers": "N/A" if containers == -1 else str(containers),
        }
        tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
        repo_digests = [d for d in image.get("RepoDigests") or [] if d != "<none>@<none>"]
        if not tags and not repo_digests:
            rows.append({**base, "Repository": "<none>", "Tag": "<none>", "Digest": "<none>"})
            continue
        by_repo_tags: dict[str, list[str]] = {}
        for text in tags:
            try:
                ref = reference.parse_normalized_named(text)
            except Exception:  # noqa: BLE001 - the CLI skips what it cannot parse
                continue
            if ref.tag:
                by_repo_tags.setdefault(ref.familiar, []).append(ref.tag)
        by_repo_digests: dict[str, list[str]] = {}
        for text in repo_digests:
            try:
                ref = reference.parse_normalized_named(text)
            except Exception:  # noqa: BLE001
                continue
            if ref.digest:
                by_repo_digests.setdefault(ref.familiar, []).append(ref.digest)
        for repo, repo_tags in by_repo_tags.items():
            found = by_repo_digests.pop(repo, [])
            shown = found if digests else []
            for tag in repo_tags:
                if not shown:
                    rows.append({**base, "Repository": repo, "Tag": tag, "Digest": "<none>"})
                for digest in shown:
                    rows.append({**base, "Repository": repo, "Tag": tag, "Digest": digest})
        for repo, found in by_repo_digests.items():
            if digests:
                for digest in found:
                    rows.append({**base, "Repository": repo, "Tag": "<none>",
                                 "Digest": digest})
            else:
                rows.append({**base, "Repository": repo, "Tag": "<none>", "Digest": ""})
    return rows


@click.command("images", context_settings=_CTX)
@click.option("-a", "--all", "all_", is_flag=True, help="Show all images (default hides "
              "intermediate images)")
@click.option("--digests", is_flag=True, help="Show digests")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on "
              "conditions provided")
@click.option("--format", "fmt", default=None, help="Format output using a custom template")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.argument("repository", required=False)
@click.pass_context
def images(ctx: click.Context, all_: bool, digests: bool, filters: tuple[str, ...],
           fmt: str | None, no_trunc: bool, quiet: bool, repository: str | None) -> None:
    """List images."""
    from ..client import images as api_images
    from .formatting import TemplateError, render_rows

    flt = _parse_filters(filters)
    if repository:
        flt.setdefault("reference", []).append(repository)
    items = api_images.list_images(_api(ctx), all=all_, filters=flt or None)
    rows = image_rows(items, no_trunc, digests)
    if quiet and (not fmt or fmt == "table"):
        fmt = "{{.ID}}"
    elif fmt == "raw":
        fmt = IMAGES_RAW_DIGESTS if digests else IMAGES_RAW
    try:
        sys.stdout.write(render_rows(fmt, rows, IMAGE_HEADERS,
                                     IMAGES_TABLE_DIGESTS if digests else IMAGES_TABLE,
                                     "*formatter.imageContext"))
    except TemplateError as exc:
        _fail(f"template parsing error: {exc}")


# --- rmi / tag ----------------------------------------------------------------------------------

@click.command("rmi", context_settings=_CTX)
@click.option("-f", "--force", is_flag=True, help="Force removal of the image")
@click.option("--no-prune", is_flag=True, help="Do not delete untagged parents")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def rmi(ctx: click.Context, force: bool, no_prune: bool, names: tuple[str, ...]) -> None:
    """Remove one or more images."""
    from ..client import images as api_images
    from ..client.transport import APIError

    api = _api(ctx)
    errors: list[str] = []
    fatal = False
    for name in names:
        try:
            items = api_images.remove(api, name, force, no_prune)
        except APIError as exc:
            if exc.status != 404:
                fatal = True
            errors.append(_daemon_error(exc))
            continue
        for item in items:
            if item.get("Deleted"):
                print(f"Deleted: {item['Deleted']}", flush=True)
            else:
                print(f"Untagged: {item.get('Untagged', '')}", flush=True)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        if not force or fatal:
            sys.exit(1)


@click.command("tag", context_settings=_CTX)
@click.argument("source")
@click.argument("target")
@click.pass_context
def tag(ctx: click.Context, source: str, target: str) -> None:
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    from ..client import images as api_images
    from ..errors import InvalidParameter
    from ..store import reference

    try:
        reference.parse_any(source)
    except InvalidParameter as exc:
        _fail(f'Error parsing reference: "{source}" is not a valid repository/tag: '
              f"{exc.message}")
    try:
        ref = reference.parse_normalized_named(target)
    except InvalidParameter as exc:
        _fail(f'Error parsing reference: "{target}" is not a valid repository/tag: '
              f"{exc.message}")
    if ref.digest:
        _fail("refusing to create a tag with a digest reference")
    ref = ref.tag_name_only()
    api_images.tag(_api(ctx), source, ref.familiar, ref.tag)


# --- history ------------------------------------------------------------------------------------

HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                   "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}
HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_TABLE_NON_HUMAN = ("table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t"
                           "{{.Comment}}")


class _GoBool(click.ParamType):
    """A Go-style boolean flag value (`-H=false`, `--human=0`)."""
    name = "bool"

    def convert(self, value: Any, param: Any, ctx: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).lstrip("=").strip().lower()
        if text in ("1", "t", "true", "yes", ""):
            return True
        if text in ("0", "f", "false", "no"):
            return False
        self.fail(f'invalid argument "{value}" for "-H, --human" flag: strconv.ParseBool: '
                  f'parsing "{value}": invalid syntax', param, ctx)


def history_rows(items: list[dict[str, Any]], human: bool = True, no_trunc: bool = False,
                 now: float | None = None) -> list[dict[str, str]]:
    import datetime
    import time

    from ..units import human_duration, human_size
    from .formatting import ellipsis, truncate_id

    now = time.time() if now is None else now
    rows = []
    for item in items:
        created = int(item.get("Created") or 0)
        created_at = datetime.datetime.fromtimestamp(created).astimezone().isoformat()
        if created_at.endswith("+00:00"):
            created_at = created_at[:-6] + "Z"
        created_by = (item.get("CreatedBy") or "").replace("\t", " ")
        image_id = item.get("Id", "")
        size = int(item.get("Size") or 0)
        rows.append({
            "ID": image_id if no_trunc else truncate_id(image_id),
            "CreatedSince": f"{human_duration(now - created)} ago" if human else created_at,
            "CreatedAt": created_at,
            "CreatedBy": created_by if no_trunc else ellipsis(created_by, 45),
            "Size": human_size(size) if human else str(size),
            "Comment": item.get("Comment") or "",
        })
    return rows


class _GoFlagsCommand(click.Command):
    """Accepts Go's `-H=false` / `--human=false` for the boolean -H flag."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rewritten: list[str] = []
        for arg in args:
            name, sep, value = arg.partition("=")
            if sep and name in ("-H", "--human"):
                rewritten += ["--human-value", value]
            else:
                rewritten.append(arg)
        return super().parse_args(ctx, rewritten)


@click.command("history", cls=_GoFlagsCommand, context_settings=_CTX)
@click.option("--format", "fmt", default=None, help="Format output using a custom template")
@click.option("-H", "--human", "human_flag", is_flag=True, default=False,
              help="Print sizes and dates in human readable format (default true)")
@click.option("--human-value", "human", type=_GoBool(), default=True, hidden=True)
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.option("--platform", default=None, hidden=True)
@click.argument("image")
@click.pass_context
def history(ctx: click.Context, fmt: str | None, human_flag: bool, human: bool,
            no_trunc: bool, quiet: bool, platform: str | None, image: str) -> None:
    """Show the history of an image."""
    from ..client import images as api_images
    from .formatting import TemplateError, render_rows

    items = api_images.history(_api(ctx), image)
    rows = history_rows(items, human, no_trunc)
    if quiet and (not fmt or fmt == "table"):
        fmt = "{{.ID}}"
    try:
        sys.stdout.write(render_rows(fmt, rows, HISTORY_HEADERS,
                                     HISTORY_TABLE if human else HISTORY_TABLE_NON_HUMAN,
                                     "*image.historyContext"))
    except TemplateError as exc:
        _fail(f"template parsing error: {exc}")


# --- import / save / load -----------------------------------------------------------------------

@click.command("import", context_settings=_CTX)
@click.option("-c", "--change", "changes", multiple=True,
              help="Apply Dockerfile instruction to the created image")
@click.option("-m", "--message", default=None, help="Set commit message for imported image")
@click.option("--platform", default=None, help="Set platform if server is multi-platform "
              "capable")
@click.argument("source")
@click.argument("repository", required=False)
@click.pass_context
def import_(ctx: click.Context, changes: tuple[str, ...], message: str | None,
            platform: str | None, source: str, repository: str | None) -> None:
    """Import the contents from a tarball to create a filesystem image."""
    from ..client import images as api_images
    from ..errors import InvalidParameter
    from ..store import reference

    if repository:
        try:
            reference.parse_normalized_named(repository)
        except InvalidParameter as exc:
            _fail(exc.message)
    api = _api(ctx)
    if source == "-":
        result = api_images.import_image(api, sys.stdin.buffer, repository, None, message,
                                         list(changes), platform)
    elif source.startswith(("http://", "https://")):
        result = api_images.import_image(api, source, repository, None, message,
                                         list(changes), platform)
    else:
        try:
            stream = open(source, "rb")
        except FileNotFoundError:
            _fail(f"open {source}: no such file or directory")
        except IsADirectoryError:
            _fail(f"read {source}: is a directory")
        except PermissionError:
            _fail(f"open {source}: permission denied")
        with stream:
            result = api_images.import_image(api, stream, repository, None, message,
                                             list(changes), platform)
    _print_stream(result)


def _print_stream(messages: Any) -> None:
    """jsonmessage display for a non-terminal: status and stream lines, errors fatal."""
    for item in messages:
        if item.get("error") or item.get("errorDetail"):
            detail = item.get("errorDetail") or {}
            _fail(detail.get("message") or item.get("error") or "unknown error")
        if item.get("stream"):
            sys.stdout.write(item["stream"])
            sys.stdout.flush()
        elif item.get("status") and not item.get("progressDetail"):
            prefix = f"{item['id']}: " if item.get("id") else ""
            print(f"{prefix}{item['status']}", flush=True)


@click.command("save", context_settings=_CTX)
@click.option("-o", "--output", default=None, help="Write to a file, instead of STDOUT")
@click.option("--platform", default=None, hidden=True)
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def save(ctx: click.Context, output: str | None, platform: str | None,
         names: tuple[str, ...]) -> None:
    """Save one or more images to a tar archive (streamed to STDOUT by default)."""
    import os

    from ..client import images as api_images

    if output is None and sys.stdout.isatty():
        _fail("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    if output is not None:
        directory = os.path.dirname(os.path.abspath(output))
        if not os.path.exists(directory):
            _fail(f"failed to save image: invalid output path: stat {directory}: no such "
                  "file or directory")
        if not os.path.isdir(directory):
            _fail(f"failed to save image: invalid output path: {directory} is not a "
                  "directory")
    response = api_images.save(_api(ctx), list(names))
    if output is None:
        sink = sys.stdout.buffer
        while chunk := response.read1(1 << 20) if hasattr(response, "read1") else \
                response.read(1 << 20):
            sink.write(chunk)
        sink.flush()
        return
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=".docker_temp_", dir=os.path.dirname(
        os.path.abspath(output)))
    try:
        with os.fdopen(fd, "wb") as sink:
            while chunk := response.read1(1 << 20) if hasattr(response, "read1") else \
                    response.read(1 << 20):
                sink.write(chunk)
        os.rename(tmp, output)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@click.command("load", context_settings=_CTX)
@click.option("-i", "--input", "input_", default=None, help="Read from tar archive file, "
              "instead of STDIN")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the load output")
@click.option("--platform", default=None, hidden=True)
@click.pass_context
def load(ctx: click.Context, input_: str | None, quiet: bool, platform: str | None) -> None:
    """Load an image from a tar archive or STDIN."""
    from ..client import images as api_images

    if input_ is None and sys.stdin.isatty():
        _fail("requested load from stdin, but stdin is empty")
    if not sys.stdout.isatty():
        quiet = True
    if input_ is None:
        _print_stream(api_images.load_stream(_api(ctx), sys.stdin.buffer, quiet))
        return
    try:
        source = open(input_, "rb")
    except FileNotFoundError:
        _fail(f"open {input_}: no such file or directory")
    with source:
        _print_stream(api_images.load_stream(_api(ctx), source, quiet))


# --- image prune / image inspect ----------------------------------------------------------------

_DANGLING_WARNING = ("WARNING! This will remove all dangling images.\n"
                     "Are you sure you want to continue?")
_ALL_WARNING = ("WARNING! This will remove all images without at least one container "
                "associated to them.\nAre you sure you want to continue?")


def _confirm(message: str) -> bool:
    sys.stdout.write(f"{message} [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() == "y"


@click.command("prune", context_settings=_CTX)
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all unused images, not just "
              "dangling ones")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. "
              "\"until=<timestamp>\")")
@click.pass_context
def prune(ctx: click.Context, all_: bool, force: bool, filters: tuple[str, ...]) -> None:
    """Remove unused images."""
    from ..client import images as api_images
    from .formatting import human_size

    flt = _parse_filters(filters)
    flt["dangling"] = ["false" if all_ else "true"]
    if not force and not _confirm(_ALL_WARNING if all_ else _DANGLING_WARNING):
        return
    report = api_images.prune(_api(ctx), flt)
    deleted = report.get("ImagesDeleted") or []
    if deleted:
        lines = ["Deleted Images:"]
        for item in deleted:
            if item.get("Untagged"):
                lines.append(f"untagged: {item['Untagged']}")
            else:
                lines.append(f"deleted: {item.get('Deleted', '')}")
        print("\n".join(lines) + "\n")
    print(f"Total reclaimed space: {human_size(int(report.get('SpaceReclaimed') or 0), 4)}")


@click.command("inspect", context_settings=_CTX)
@click.option("-f", "--format", "fmt", default=None, help="Format output using a custom "
              "template")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect_images(ctx: click.Context, fmt: str | None, names: tuple[str, ...]) -> None:
    """Display detailed information on one or more images."""
    from .system import _inspect
    _inspect(ctx, names, fmt, "image")


@click.group("image", context_settings=_CTX)
def image() -> None:
    """Manage images."""


def register(cli: click.Group) -> None:
    """Add the image commands to the top-level group."""
    for command in (images, rmi, tag, history, import_, save, load):
        cli.add_command(command, command.name)
    for name, command in (("ls", images), ("list", images), ("inspect", inspect_images),
                          ("history", history), ("tag", tag), ("rm", rmi), ("remove", rmi),
                          ("prune", prune), ("import", import_), ("save", save),
                          ("load", load)):
        image.add_command(command, name)
    from .distribution import pull, push
    image.add_command(pull, "pull")
    image.add_command(push, "push")
    cli.add_command(image, "image")
