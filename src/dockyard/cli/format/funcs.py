"""The functions a docker CLI --format template may call (Go's builtins and the docker
CLI's own: json, join, split, title, lower, upper, pad, truncate)."""
from __future__ import annotations

import json
import re
from typing import Any, Callable

from .govalue import NO_VALUE, TemplateError, go_json, go_string, truth

def _index(container: Any, *keys: Any) -> Any:
    value = container
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key, NO_VALUE) if key in value else NO_VALUE
        elif isinstance(value, (list, tuple, str)):
            try:
                value = value[int(key)]
            except (IndexError, ValueError, TypeError):
                raise TemplateError(f"error calling index: index out of range: {key}") from None
        else:
            return NO_VALUE
    return value


def _printf(fmt: str, *args: Any) -> str:
    out: list[str] = []
    arg_iter = iter(args)
    i = 0
    spec = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([vsdqtxXfegbco%])")
    while i < len(fmt):
        match = spec.match(fmt, i) if fmt[i] == "%" else None
        if not match:
            out.append(fmt[i])
            i += 1
            continue
        flags, width, precision, verb = match.groups()
        i = match.end()
        if verb == "%":
            out.append("%")
            continue
        try:
            arg = next(arg_iter)
        except StopIteration:
            out.append(f"%!{verb}(MISSING)")
            continue
        if verb in ("v", "s"):
            text = go_string(arg)
            if precision is not None:
                text = text[:int(precision)]
            pyfmt = f"%{flags.replace('0', '')}{width or ''}s"
            out.append(pyfmt % text)
        elif verb == "q":
            out.append(json.dumps(go_string(arg) if not isinstance(arg, str) else arg,
                                  ensure_ascii=False))
        elif verb == "t":
            out.append(go_string(bool(arg)))
        else:
            try:
                number = float(arg) if verb in "feg" else int(arg)
            except (TypeError, ValueError):
                out.append(f"%!{verb}({type(arg).__name__}={go_string(arg)})")
                continue
            pyverb = {"b": "b", "o": "o", "c": "c"}.get(verb, verb)
            pyfmt = f"%{flags}{width or ''}{'.' + precision if precision else ''}{pyverb}" \
                if pyverb != "b" else None
            out.append(pyfmt % number if pyfmt else format(int(number), "b"))
    return "".join(out)


def _pad(text: Any, before: int, after: int) -> str:
    return " " * int(before) + go_string(text) + " " * int(after)


def _truncate(text: Any, length: int) -> str:
    s = go_string(text)
    return s[:int(length)]


def _compare(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def compare(a: Any, *others: Any) -> bool:
        if op is _eq:
            return any(op(a, b) for b in others)
        return op(a, others[0])
    return compare


def _eq(a: Any, b: Any) -> bool:
    return a == b


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": go_json,
    "join": lambda items, sep: sep.join(go_string(i) for i in (items or [])),
    "split": lambda text, sep: text.split(sep),
    "title": lambda text: go_string(text).title(),
    "lower": lambda text: go_string(text).lower(),
    "upper": lambda text: go_string(text).upper(),
    "pad": _pad,
    "truncate": _truncate,
    "println": lambda *args: " ".join(go_string(a) for a in args) + "\n",
    "print": lambda *args: "".join(go_string(a) for a in args),
    "printf": _printf,
    "len": lambda value: len(value) if value not in (None, NO_VALUE) else 0,
    "index": _index,
    "slice": lambda value, *bounds: value[slice(*[int(b) for b in bounds])],
    "not": lambda value: not truth(value),
    "eq": _compare(_eq),
    "ne": _compare(lambda a, b: a != b),
    "lt": _compare(lambda a, b: a < b),
    "le": _compare(lambda a, b: a <= b),
    "gt": _compare(lambda a, b: a > b),
    "ge": _compare(lambda a, b: a >= b),
    "html": lambda value: go_string(value).replace("&", "&amp;").replace("<", "&lt;")
    .replace(">", "&gt;").replace('"', "&#34;").replace("'", "&#39;"),
    "urlquery": lambda value: __import__("urllib.parse").parse.quote_plus(go_string(value)),
}
