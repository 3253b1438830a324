"""`dockyard commit`: create a new image from a container's changes."""
from __future__ import annotations

from ..client.commit import commit as api_commit
from .common import Context
from .flags import Bool, List, Opts, Str, command


def _split_reference(text: str) -> tuple[str, str | None]:
    """REPO[:TAG] → (repo, tag); a ':' before the last '/' belongs to a registry port."""
    name, sep, tag = text.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return text, None


@command("[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
         Str("-a, --author", 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'),
         List("-c, --change", "Apply Dockerfile instruction to the created image"),
         Str("-m, --message", "Commit message"),
         Bool("-p, --pause", "Pause container during commit", default=True),
         args=(1, 2), complete="container")
def commit(ctx: Context, o: Opts, args: list[str]) -> None:
    reference = args[1] if len(args) > 1 else None
    repo, tag = _split_reference(reference) if reference else (None, None)
    print(api_commit(ctx.api, args[0], repo, tag, o.author, o.message, list(o.change),
                     o.pause))
