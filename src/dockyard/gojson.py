"""JSON read as Go's encoding/json reads it, with its error texts.

Docker's errors quote Go's decoder ("invalid character 'n' looking for beginning of object
key string", "unexpected end of JSON input"), and clients and the books show those texts.
Go also refuses what Python's json accepts: NaN and Infinity, and numbers out of float64's
range. One home for that, used by the API's request bodies, seccomp profiles and the CLI.
"""
from __future__ import annotations

import json
from typing import Any

# what Python's decoder expected at the bad character -> what Go says it was looking for
_CONTEXT = {
    "Expecting value": "looking for beginning of value",
    "Expecting property name enclosed in double quotes": "looking for beginning of object key "
                                                         "string",
    "Expecting ':' delimiter": "after object key",
    "Expecting ',' delimiter": "after object key:value pair",
    "Extra data": "after top-level value",
    "Invalid control character at": "in string literal",
}


class GoJSONError(ValueError):
    """A decode error; str() is Go's text."""


def loads(text: str | bytes) -> Any:
    """Decode like Go: bytes as UTF-8 with bad sequences as U+FFFD (json.loads would guess
    UTF-16 or -32 from NUL bytes); Go's texts for malformed input; nesting too deep for the
    parser is an error like any other."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_float)
    except json.JSONDecodeError as exc:
        raise GoJSONError(_message(text, exc)) from None
    except RecursionError:
        raise GoJSONError("exceeded max depth") from None


def _message(text: str, exc: json.JSONDecodeError) -> str:
    if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
        return "unexpected end of JSON input"
    context = _CONTEXT.get(exc.msg, "looking for beginning of value")
    if exc.msg == "Expecting ',' delimiter" and _in_array(text, exc.pos):
        context = "after array element"
    return f"invalid character {_quote(text[exc.pos])} {context}"


def _in_array(text: str, pos: int) -> bool:
    """Whether `pos` is directly inside an array (the innermost open bracket is '[')."""
    depth: list[str] = []
    in_string = escaped = False
    for ch in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth.append(ch)
        elif ch in "]}" and depth:
            depth.pop()
    return bool(depth) and depth[-1] == "["


def _quote(ch: str) -> str:
    """A character as Go's decoder quotes it in errors: 'x', '\\x00', '\\n'."""
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    return "'" + repr(ch)[1:-1] + "'"


def _refuse_constant(name: str) -> Any:
    # Go reads NaN and Infinity as a bad character where a value should start
    where = "in numeric literal" if name.startswith("-") else "looking for beginning of value"
    bad = name[1] if name.startswith("-") else name[0]
    raise GoJSONError(f"invalid character '{bad}' {where}")


def _float(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise GoJSONError(f"json: cannot unmarshal number {literal} into Go value of type "
                          "float64")
    return value
