"""`dockyard commit`: create a new image from a container's changes."""
from __future__ import annotations

import click

from ..client.commit import commit as api_commit
from .common import api_of


def _split_reference(text: str) -> tuple[str, str | None]:
    """REPO[:TAG] → (repo, tag); a ':' before the last '/' belongs to a registry port."""
    name, sep, tag = text.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return text, None


@click.command("commit", context_settings={"help_option_names": ["--help"]})
@click.option("-a", "--author", default=None,
              help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
@click.option("-c", "--change", "changes", multiple=True,
              help="Apply Dockerfile instruction to the created image")
@click.option("-m", "--message", default=None, help="Commit message")
@click.option("-p", "pause_flag", is_flag=True, help="Pause container during commit")
@click.option("--pause", type=click.BOOL, default=True,
              help="Pause container during commit (default true)")
@click.argument("container")
@click.argument("reference", required=False)
@click.pass_context
def commit(ctx: click.Context, author: str | None, changes: tuple[str, ...],
           message: str | None, pause_flag: bool, pause: bool, container: str,
           reference: str | None) -> None:
    """Create a new image from a container's changes."""
    repo, tag = _split_reference(reference) if reference else (None, None)
    image_id = api_commit(api_of(ctx), container, repo, tag, author, message,
                          list(changes), pause or pause_flag)
    print(image_id)


def register(cli: click.Group) -> None:
    cli.add_command(commit, "commit")
