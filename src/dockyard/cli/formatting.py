"""Docker's table layout (Go tabwriter, padding 3) and a subset of its Go templates."""
from __future__ import annotations

import json
import re
from typing import Any

_TOKEN = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def render_table(header: list[str], rows: list[list[str]]) -> str:
    """Like the docker CLI's tabwriter: cells padded by 3, at least 10 wide."""
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(max(widths[i] + 3, 10)) if i < len(row) - 1 else cell
                 for i, cell in enumerate(row)]
        lines.append("".join(cells).rstrip() + "\n")
    return "".join(lines)


def _lookup(obj: Any, path: str) -> Any:
    value = obj
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, dict):
            value = value.get(part)
        else:
            value = getattr(value, part, None)
    return value


def _go_string(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_string(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_string(v) for v in value) + "]"
    return str(value)


def _evaluate(expr: str, obj: Any) -> str:
    words = expr.split()
    if not words:
        return ""
    if words[0] == "json":
        target = obj if len(words) == 1 or words[1] == "." else _lookup(obj, words[1])
        return json.dumps(target)
    if words[0] == "index" and len(words) == 3:
        container = _lookup(obj, words[1])
        key = words[2].strip('"')
        return _go_string((container or {}).get(key) if isinstance(container, dict) else None)
    if words[0] in ("upper", "lower") and len(words) == 2:
        text = _go_string(_lookup(obj, words[1]))
        return text.upper() if words[0] == "upper" else text.lower()
    if words[0] == "." or expr == ".":
        return _go_string(obj)
    return _go_string(_lookup(obj, words[0]))


def render_template(template: str, obj: Any) -> str:
    template = template.replace("\\t", "\t").replace("\\n", "\n")
    return _TOKEN.sub(lambda m: _evaluate(m.group(1), obj), template)


def render_table_template(template: str, rows: list[dict[str, Any]],
                          headers: dict[str, str]) -> str:
    """`table {{.A}}\\t{{.B}}`: a header row from the field names, then aligned rows."""
    body = template.removeprefix("table").strip()
    fields = [m.group(1).lstrip(".") for m in _TOKEN.finditer(body)]
    header = [headers.get(f, f.upper()) for f in fields]
    cells = [[render_template(cell, row) for cell in body.split("\\t")] for row in rows]
    if len(header) != len(body.split("\\t")):
        return "".join(render_template(body, row) + "\n" for row in rows)
    return render_table(header, cells)
