"""What the docker CLI prints for list commands with --format ("", table, table
TEMPLATE, json, TEMPLATE), and the small text helpers of its formatters."""
from __future__ import annotations

from typing import Any


def ellipsis(text: str, width: int) -> str:
    """formatter.Ellipsis for single-width text: cut to width-1 characters plus '…'."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width == 1:
        return text[0]
    return text[:width - 1] + "…"


def truncate_id(image_id: str) -> str:
    """stringid.TruncateID: drop an "algo:" prefix and keep 12 characters."""
    if ":" in image_id:
        image_id = image_id.split(":", 1)[1]
    return image_id[:12]


def render_rows(fmt: str | None, rows: list[dict[str, Any]], headers: dict[str, str],
                default: str, context: str | None = None) -> str:
    """What the docker CLI prints for a list command:
    - "" or "table": the `default` table format ("table {{.A}}\\t{{.B}}");
    - "table <template>": a header row (the template run on the header names) and the rows,
      aligned by the tabwriter;
    - "json": one JSON object per row;
    - any other template: one line per row, no header.
    `context` names the Go type of a row for "can't evaluate field" errors."""
    from .govalue import go_marshal
    from .tabwriter import tabwrite
    from .template import render_template

    if not fmt or fmt == "table":
        fmt = default
    if fmt == "json":
        return "".join(go_marshal(dict(sorted(row.items()))) + "\n" for row in rows)
    if fmt.startswith("table"):
        body = fmt[len("table"):].strip()
        body = body.replace("\\t", "\t").replace("\\n", "\n")
        header = render_template(body, {k: v for k, v in headers.items()})
        text = header + "\n" + "".join(render_template(body, row, context) + "\n"
                                       for row in rows)
        return tabwrite(text)
    return "".join(render_template(fmt, row, context) + "\n" for row in rows)
