"""Image commands: images (image ls), rmi (image rm), tag, image prune and image inspect,
with the docker CLI's output; history is in history.py, import/save/load in
imagearchive.py."""
from __future__ import annotations

import sys
from typing import Any

from .common import Context, check_filter, confirm, fail, filters
from .flags import Bool, List, Opts, Str, command


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

    from .. import reference
    from ..units import human_duration, human_size
    from .format.lists import truncate_id

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
            "SharedSize": "N/A" if shared == -1 else human_size(shared, 4),
            "UniqueSize": "N/A" if shared == -1 else human_size(size - shared, 4),
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


@command("[OPTIONS] [REPOSITORY[:TAG]]",
         Bool("-a, --all", "Show all images (default hides intermediate images)"),
         Bool("--digests", "Show digests"),
         List("-f, --filter", "Filter output based on conditions provided", meta="filter",
              check=check_filter),
         Str("--format", "Format output using a custom template: 'table', 'table TEMPLATE', "
             "'json' or a Go template"),
         Bool("--no-trunc", "Don't truncate output"),
         Bool("-q, --quiet", "Only show image IDs"),
         args=(0, 1), complete="image")
def images(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import images as api_images
    from .format.lists import render_rows
    from .format.template import TemplateError

    flt = filters(o.filter)
    if args:
        flt.setdefault("reference", []).append(args[0])
    items = api_images.list_images(ctx.api, all=o.all, filters=flt or None)
    rows = image_rows(items, o.no_trunc, o.digests)
    fmt = o.format
    if o.quiet and (not fmt or fmt == "table"):
        fmt = "{{.ID}}"
    elif fmt == "raw":
        fmt = IMAGES_RAW_DIGESTS if o.digests else IMAGES_RAW
    try:
        sys.stdout.write(render_rows(fmt, rows, IMAGE_HEADERS,
                                     IMAGES_TABLE_DIGESTS if o.digests else IMAGES_TABLE,
                                     "*formatter.imageContext"))
    except TemplateError as exc:
        fail(f"template parsing error: {exc}")


@command("[OPTIONS] IMAGE [IMAGE...]",
         Bool("-f, --force", "Force removal of the image"),
         Bool("--no-prune", "Do not delete untagged parents"),
         args=(1, None), complete="image")
def rmi(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import images as api_images
    from ..client.transport import APIError

    api = ctx.api
    errors: list[str] = []
    fatal = False
    for name in args:
        try:
            items = api_images.remove(api, name, o.force, o.no_prune)
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
        if not o.force or fatal:
            sys.exit(1)


@command("SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", args=(2, 2), complete="image")
def tag(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import images as api_images
    from ..errors import InvalidParameter
    from .. import reference

    source, target = args
    try:
        reference.parse_any(source)
    except InvalidParameter as exc:
        fail(f'Error parsing reference: "{source}" is not a valid repository/tag: '
             f"{exc.message}")
    try:
        ref = reference.parse_normalized_named(target)
    except InvalidParameter as exc:
        fail(f'Error parsing reference: "{target}" is not a valid repository/tag: '
             f"{exc.message}")
    if ref.digest:
        fail("refusing to create a tag with a digest reference")
    ref = ref.tag_name_only()
    api_images.tag(ctx.api, source, ref.familiar, ref.tag)


# --- image prune / image inspect ----------------------------------------------------------------

_DANGLING_WARNING = ("WARNING! This will remove all dangling images.\n"
                     "Are you sure you want to continue?")
_ALL_WARNING = ("WARNING! This will remove all images without at least one container "
                "associated to them.\nAre you sure you want to continue?")


@command("[OPTIONS]",
         Bool("-a, --all", "Remove all unused images, not just dangling ones"),
         List("--filter", 'Provide filter values (e.g. "until=<timestamp>")', meta="filter",
              check=check_filter),
         Bool("-f, --force", "Do not prompt for confirmation"))
def prune(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import images as api_images
    from ..units import human_size

    flt = filters(o.filter)
    flt["dangling"] = ["false" if o.all else "true"]
    if not o.force and not confirm(_ALL_WARNING if o.all else _DANGLING_WARNING):
        return
    report = api_images.prune(ctx.api, flt)
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


@command("[OPTIONS] IMAGE [IMAGE...]",
         Str("-f, --format", "Format output using a custom template"), args=(1, None),
         complete="image")
def inspect_images(ctx: Context, o: Opts, args: list[str]) -> None:
    from .system import inspect_objects
    inspect_objects(ctx, args, o.format, "image")
