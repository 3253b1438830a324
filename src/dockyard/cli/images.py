"""Image commands: images, image ls/inspect/history/tag/rm/prune/import, rmi, tag, history."""
from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from ..client import images as api_images
from .common import api_of, copy_stream_out, for_each


_api = api_of


def _short(image_id: str, no_trunc: bool) -> str:
    return image_id if no_trunc else image_id.split(":", 1)[-1][:12]


_IMAGE_HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID",
                  "CreatedSince": "CREATED", "Size": "SIZE", "Digest": "DIGEST",
                  "CreatedAt": "CREATED AT"}


def _image_rows(images: list[dict[str, Any]], no_trunc: bool, all_: bool) -> list[dict]:
    from ..units import human_duration, human_size

    now = time.time()
    rows = []
    for image in images:
        tags = image.get("RepoTags") or []
        digests = image.get("RepoDigests") or []
        pairs = [t.rsplit(":", 1) for t in tags] or [["<none>", "<none>"]]
        for repo, tag_ in pairs:
            digest = next((d.split("@", 1)[1] for d in digests
                           if d.split("@", 1)[0] == repo), "<none>")
            rows.append({
                "Repository": repo, "Tag": tag_, "ID": _short(image["Id"], no_trunc),
                "Digest": digest,
                "CreatedSince": f"{human_duration(now - image['Created'])} ago",
                "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z %Z",
                                           time.localtime(image["Created"])),
                "Size": human_size(image.get("Size", 0)),
            })
    return rows


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-a", "--all", "all_", is_flag=True)
@click.option("-q", "--quiet", is_flag=True)
@click.option("--digests", is_flag=True)
@click.option("--no-trunc", is_flag=True)
@click.option("-f", "--filter", "filters", multiple=True)
@click.option("--format", "fmt", default=None)
@click.argument("repository", required=False)
@click.pass_context
def images(ctx: click.Context, all_: bool, quiet: bool, digests: bool, no_trunc: bool,
           filters: tuple[str, ...], fmt: str | None, repository: str | None) -> None:
    """List images."""
    from .containers import _parse_filters

    flt = _parse_filters(filters)
    if repository:
        flt.setdefault("reference", []).append(repository)
    items = api_images.list_images(_api(ctx), all_=all_, filters=flt or None, digests=digests)
    if quiet:
        seen: list[str] = []
        for image in items:
            short = _short(image["Id"], no_trunc)
            if short not in seen:
                seen.append(short)
        print("\n".join(seen) + ("\n" if seen else ""), end="")
        return
    rows = _image_rows(items, no_trunc, all_)
    from .formatting import render_table, render_table_template, render_template

    if fmt and fmt.startswith("table"):
        print(render_table_template(fmt, rows, _IMAGE_HEADERS), end="")
        return
    if fmt == "json":
        for row in rows:
            print(json.dumps(row))
        return
    if fmt:
        for row in rows:
            print(render_template(fmt, row))
        return
    columns = ["Repository", "Tag"] + (["Digest"] if digests else []) + \
        ["ID", "CreatedSince", "Size"]
    print(render_table([_IMAGE_HEADERS[c] for c in columns],
                       [[row[c] for c in columns] for row in rows]), end="")


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--force", is_flag=True)
@click.option("--no-prune", is_flag=True)
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def rmi(ctx: click.Context, names: tuple[str, ...], force: bool, no_prune: bool) -> None:
    """Remove one or more images."""
    for_each(names, lambda name: [f"{key}: {value}" for item in
                                   api_images.remove(_api(ctx), name, force, no_prune)
                                   for key, value in item.items()])


@click.command(context_settings={"help_option_names": ["--help"]})
@click.argument("source")
@click.argument("target")
@click.pass_context
def tag(ctx: click.Context, source: str, target: str) -> None:
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    repo, tag_ = (target.rsplit(":", 1) if ":" in target.rsplit("/", 1)[-1]
                  else (target, "latest"))
    api_images.tag(_api(ctx), source, repo, tag_)


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-H", "--human", default=True, type=bool)
@click.option("-q", "--quiet", is_flag=True)
@click.option("--no-trunc", is_flag=True)
@click.option("--format", "fmt", default=None)
@click.argument("image")
@click.pass_context
def history(ctx: click.Context, image: str, human: bool, quiet: bool, no_trunc: bool,
            fmt: str | None) -> None:
    """Show the history of an image."""
    from ..units import human_duration, human_size
    from .formatting import render_table, render_template

    items = api_images.history(_api(ctx), image)
    if quiet:
        for item in items:
            print(item["Id"] if no_trunc or item["Id"] == "<missing>" else
                  _short(item["Id"], False))
        return
    now = time.time()
    rows = []
    for item in items:
        created_by = item.get("CreatedBy", "")
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        rows.append({"ID": item["Id"] if item["Id"] == "<missing>" else
                     _short(item["Id"], no_trunc),
                     "CreatedSince": f"{human_duration(now - item['Created'])} ago",
                     "CreatedBy": created_by, "Size": human_size(item.get("Size", 0)),
                     "Comment": item.get("Comment", "")})
    if fmt:
        for row in rows:
            print(render_template(fmt, row))
        return
    print(render_table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
                       [[r["ID"], r["CreatedSince"], r["CreatedBy"], r["Size"], r["Comment"]]
                        for r in rows]), end="")


@click.command("import", context_settings={"help_option_names": ["--help"]})
@click.option("-c", "--change", "changes", multiple=True)
@click.option("-m", "--message", default=None)
@click.option("--platform", default=None)
@click.argument("source")
@click.argument("repository", required=False)
@click.pass_context
def import_(ctx: click.Context, source: str, repository: str | None, changes: tuple[str, ...],
            message: str | None, platform: str | None) -> None:
    """Import the contents from a tarball to create a filesystem image."""
    repo, tag_ = None, None
    if repository:
        repo, tag_ = (repository.rsplit(":", 1) if ":" in repository.rsplit("/", 1)[-1]
                      else (repository, None))
    if source.startswith(("http://", "https://")):
        result = api_images.import_image(_api(ctx), source, repo, tag_, message, list(changes))
    elif source == "-":
        result = api_images.import_image(_api(ctx), sys.stdin.buffer, repo, tag_, message,
                                         list(changes))
    else:
        try:
            with open(source, "rb") as f:
                result = api_images.import_image(_api(ctx), f, repo, tag_, message,
                                                 list(changes))
        except FileNotFoundError:
            print(f"open {source}: no such file or directory", file=sys.stderr)
            sys.exit(1)
    for item in result:
        if "error" in item:
            print(item["error"], file=sys.stderr)
            sys.exit(1)
        if "status" in item:
            print(item["status"])


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-a", "--all", "all_", is_flag=True)
@click.option("-f", "--force", is_flag=True)
@click.option("--filter", "filters", multiple=True)
@click.pass_context
def prune(ctx: click.Context, all_: bool, force: bool, filters: tuple[str, ...]) -> None:
    """Remove unused images."""
    from ..units import human_size
    from .containers import _parse_filters

    if not force:
        click.echo("WARNING! This will remove all dangling images." if not all_ else
                   "WARNING! This will remove all images without at least one container "
                   "associated to them.")
        if not click.confirm("Are you sure you want to continue?", default=False):
            return
    flt = _parse_filters(filters)
    if all_:
        flt["dangling"] = ["false"]
    result = api_images.prune(_api(ctx), flt or None)
    deleted = result.get("ImagesDeleted") or []
    if deleted:
        print("Deleted Images:")
        for item in deleted:
            for key, value in item.items():
                print(f"{key.lower()}: {value}")
        print()
    print(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}")


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-f", "--format", "fmt", default=None)
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect_images(ctx: click.Context, names: tuple[str, ...], fmt: str | None) -> None:
    """Display detailed information on one or more images."""
    from .system import _inspect
    _inspect(ctx, names, fmt, "image")


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-o", "--output", default=None)
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def save(ctx: click.Context, names: tuple[str, ...], output: str | None) -> None:
    """Save one or more images to a tar archive (streamed to STDOUT by default)."""
    if output is None and sys.stdout.isatty():
        print("Cowardly refusing to save to a terminal. Use the -o flag or redirect",
              file=sys.stderr)
        sys.exit(1)
    copy_stream_out(api_images.save(_api(ctx), list(names)), output)


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("-i", "--input", "input_", default=None)
@click.option("-q", "--quiet", is_flag=True)
@click.pass_context
def load(ctx: click.Context, input_: str | None, quiet: bool) -> None:
    """Load an image from a tar archive or STDIN."""
    if input_ is None and sys.stdin.isatty():
        print("requested load from stdin, but stdin is empty", file=sys.stderr)
        sys.exit(1)
    source = open(input_, "rb") if input_ else sys.stdin.buffer
    try:
        for item in api_images.load(_api(ctx), source, quiet):
            if "error" in item:
                print(item["error"], file=sys.stderr)
                sys.exit(1)
            if "stream" in item:
                sys.stdout.write(item["stream"])
    finally:
        if input_:
            source.close()


@click.group(context_settings={"help_option_names": ["--help"]})
def image() -> None:
    """Manage images."""


def register(cli: click.Group) -> None:
    for name, command in (("images", images), ("rmi", rmi), ("tag", tag),
                          ("history", history), ("import", import_), ("save", save),
                          ("load", load)):
        cli.add_command(command, name)
    for name, command in (("ls", images), ("list", images), ("rm", rmi), ("tag", tag),
                          ("history", history), ("import", import_), ("prune", prune),
                          ("inspect", inspect_images), ("save", save), ("load", load)):
        image.add_command(command, name)
    cli.add_command(image, "image")
