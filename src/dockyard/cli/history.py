"""`history` (image history): an image's layers as the docker CLI lists them."""
from __future__ import annotations

import sys
from typing import Any

from .common import Context, fail
from .flags import Bool, Opts, Str, command

HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                   "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}
HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_TABLE_NON_HUMAN = ("table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t"
                           "{{.Comment}}")


def history_rows(items: list[dict[str, Any]], human: bool = True, no_trunc: bool = False,
                 now: float | None = None) -> list[dict[str, str]]:
    import datetime
    import time

    from ..units import human_duration, human_size
    from .format.lists import ellipsis, truncate_id

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


@command("[OPTIONS] IMAGE",
         Str("--format", "Format output using a custom template"),
         Bool("-H, --human", "Print sizes and dates in human readable format", default=True),
         Bool("--no-trunc", "Don't truncate output"),
         Str("--platform", "Show history for the given platform", hidden=True),
         Bool("-q, --quiet", "Only show image IDs"),
         args=(1, 1), complete="image")
def history(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import images as api_images
    from .format.lists import render_rows
    from .format.template import TemplateError

    items = api_images.history(ctx.api, args[0])
    rows = history_rows(items, o.human, o.no_trunc)
    fmt = o.format
    if o.quiet and (not fmt or fmt == "table"):
        fmt = "{{.ID}}"
    try:
        sys.stdout.write(render_rows(fmt, rows, HISTORY_HEADERS,
                                     HISTORY_TABLE if o.human else HISTORY_TABLE_NON_HUMAN,
                                     "*image.historyContext"))
    except TemplateError as exc:
        fail(f"template parsing error: {exc}")
