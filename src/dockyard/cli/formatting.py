"""The docker CLI's output machinery: Go's tabwriter (as docker configures it: min width 10,
padding 3), go-units sizes and durations, and a pragmatic Go text/template subset for
--format (fields, pipelines, if/else/range/with, json, index, printf, join, upper...).

Kept free of heavy imports: every CLI command may load it.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable



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


# --- tabwriter --------------------------------------------------------------------------------

class TabWriter:
    """A port of Go's text/tabwriter (no flags): tab-terminated cells are aligned per
    column block; the last cell of a line is not part of a column and is never padded."""

    def __init__(self, minwidth: int = 10, padding: int = 3, padchar: str = " ") -> None:
        self.minwidth = minwidth
        self.padding = padding
        self.padchar = padchar

    def format(self, text: str) -> str:
        lines = [line.split("\t") for line in text.split("\n")]
        out: list[str] = []
        widths: list[int] = []

        def write_lines(line0: int, line1: int) -> None:
            for i in range(line0, line1):
                cells = lines[i]
                parts = []
                for j, cell in enumerate(cells):
                    if j < len(widths) and j < len(cells) - 1:
                        parts.append(cell + self.padchar * (widths[j] - len(cell)))
                    else:
                        parts.append(cell)
                out.append("".join(parts))

        def fmt(line0: int, line1: int) -> int:
            column = len(widths)
            this = line0
            while this < line1:
                if column >= len(lines[this]) - 1:
                    this += 1
                    continue
                write_lines(line0, this)
                line0 = this
                width = self.minwidth
                while this < line1:
                    cells = lines[this]
                    if column >= len(cells) - 1:
                        break
                    width = max(width, len(cells[column]) + self.padding)
                    this += 1
                widths.append(width)
                fmt(line0, this)
                widths.pop()
                line0 = this
            write_lines(line0, line1)
            return line1

        fmt(0, len(lines))
        return "\n".join(out)


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    return TabWriter(minwidth, padding).format(text)


def render_table(header: list[str], rows: list[list[str]], minwidth: int = 10,
                 padding: int = 3) -> str:
    """Rows aligned like the docker CLI's tables (`docker top` uses minwidth=20)."""
    text = "".join("\t".join(cells) + "\n" for cells in [header, *rows])
    return tabwrite(text, minwidth, padding)


# --- Go templates -----------------------------------------------------------------------------

class TemplateError(ValueError):
    pass


_NO_VALUE = object()


def go_string(value: Any) -> str:
    """fmt's %v for the values JSON decoding gives."""
    if value is _NO_VALUE:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{go_string(k)}:{go_string(v)}"
                                 for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    return str(value)


def _go_float(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64), which %v uses: shortest digits, exponent form
    when the exponent is < -4 or >= 6 ("4.26e+06")."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    from decimal import Decimal

    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + int(exponent)
    neg = "-" if sign else ""
    x = point - 1
    if x < -4 or x >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mantissa}e{'+' if x >= 0 else '-'}{abs(x):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{neg}{digits}{'0' * (point - len(digits))}"
    return f"{neg}{digits[:point]}.{digits[point:]}"


def go_json(value: Any) -> str:
    """The docker CLI's `json` template function (no HTML escaping)."""
    if value is _NO_VALUE:
        value = None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def go_marshal(value: Any) -> str:
    """encoding/json.Marshal: compact, with <, > and & escaped as Go does."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _truth(value: Any) -> bool:
    if value is _NO_VALUE or value is None:
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return bool(value)
    return True


_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)')
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<declare>:=)
  | (?P<assign>=)
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<pipe>\|)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
""", re.VERBOSE)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise TemplateError(f"template: :1: unexpected {text[pos]!r} in command")
        kind = match.lastgroup or ""
        value = match.group()
        pos = match.end()
        if kind != "ws":
            tokens.append((kind, value))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise TemplateError("template: :1: missing value for command")
        self.pos += 1
        return token

    def pipeline(self, stop: tuple[str, ...] = ()) -> list[list[Any]]:
        commands: list[list[Any]] = [self.command(stop)]
        while (token := self.peek()) is not None and token[0] == "pipe":
            self.take()
            commands.append(self.command(stop))
        return commands

    def command(self, stop: tuple[str, ...]) -> list[Any]:
        operands: list[Any] = []
        while (token := self.peek()) is not None and token[0] not in ("pipe", "rparen") \
                and token[0] not in stop:
            operands.append(self.operand())
        if not operands:
            raise TemplateError("template: :1: missing value for command")
        return operands

    def operand(self) -> Any:
        kind, value = self.take()
        node: Any
        if kind == "lparen":
            inner = self.pipeline()
            if self.take()[0] != "rparen":
                raise TemplateError("template: :1: unclosed left paren")
            node = ("pipeline", inner)
        elif kind == "string":
            node = ("const", json.loads(value))
        elif kind == "raw":
            node = ("const", value[1:-1])
        elif kind == "char":
            node = ("const", ord(json.loads('"' + value[1:-1].replace('"', '\\"') + '"')))
        elif kind == "number":
            node = ("const", float(value) if any(c in value for c in ".eE") else int(value))
        elif kind == "field":
            node = ("field", None, [p for p in value.split(".") if p])
        elif kind == "var":
            node = ("var", value)
        elif kind == "ident":
            if value in ("true", "false"):
                node = ("const", value == "true")
            elif value == "nil":
                node = ("const", None)
            else:
                node = ("func", value)
        else:
            raise TemplateError(f"template: :1: unexpected {value!r} in operand")
        while (token := self.peek()) is not None and token[0] == "field" and token[1] != "." \
                and kind in ("var", "lparen"):
            self.take()
            node = ("field", node, [p for p in token[1].split(".") if p])
        return node


def _parse_action(text: str) -> list[list[Any]]:
    parser = _Parser(_tokenize(text))
    result = parser.pipeline()
    if parser.peek() is not None:
        raise TemplateError(f"template: :1: unexpected {parser.peek()[1]!r} in command")  # type: ignore[index]
    return result


_ACTION_RE = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


def _lex(template: str) -> list[tuple[str, str]]:
    """Split into ("text", ...) and ("action", ...) pieces, honouring {{- and -}}."""
    pieces: list[tuple[str, str]] = []
    pos = 0
    for match in _ACTION_RE.finditer(template):
        text = template[pos:match.start()]
        if match.group(1):
            text = text.rstrip()
        pieces.append(("text", text))
        pieces.append(("action", match.group(2).strip()))
        pos = match.end()
        if match.group(3):
            rest = template[pos:]
            pos += len(rest) - len(rest.lstrip())
    pieces.append(("text", template[pos:]))
    return pieces


def _build(pieces: list[tuple[str, str]], index: int, ends: tuple[str, ...]
           ) -> tuple[list[Any], int, str]:
    """Nodes up to one of `ends` ("end", "else"); returns (nodes, next index, ender)."""
    nodes: list[Any] = []
    while index < len(pieces):
        kind, value = pieces[index]
        index += 1
        if kind == "text":
            if value:
                nodes.append(("text", value))
            continue
        if value.startswith("/*"):
            continue
        word = value.split(None, 1)[0] if value else ""
        rest = value[len(word):].strip()
        if word in ("end", "else") and word in ends:
            return nodes, index, value
        if word in ("if", "range", "with"):
            variables: list[str] = []
            if word == "range" and ":=" in rest:
                names, _, rest = rest.partition(":=")
                variables = [n.strip() for n in names.split(",")]
            body, index, ender = _build(pieces, index, ("end", "else"))
            else_body: list[Any] = []
            while ender.startswith("else"):
                tail = ender[4:].strip()
                if tail.startswith("if ") and word == "if":
                    branch, index, ender2 = _build(pieces, index, ("end", "else"))
                    else_body = [("if", _parse_action(tail[3:]), branch, [])]
                    target = else_body[0]
                    while ender2.startswith("else"):
                        tail2 = ender2[4:].strip()
                        branch2, index, ender2 = _build(pieces, index, ("end", "else"))
                        if tail2.startswith("if "):
                            new = ("if", _parse_action(tail2[3:]), branch2, [])
                            target[3].append(new)
                            target = new
                        else:
                            target[3].extend(branch2)
                    ender = ender2
                    break
                else_body, index, ender = _build(pieces, index, ("end",))
            if ender != "end":
                raise TemplateError("template: :1: unexpected EOF")
            nodes.append((word, _parse_action(rest), body, else_body, variables))
            continue
        if word in ("end", "else"):
            raise TemplateError(f"template: :1: unexpected {{{{{word}}}}}")
        if word in ("define", "template", "block"):
            raise TemplateError(f"template: :1: {word} is not supported")
        nodes.append(("action", _parse_action(value)))
    if ends:
        raise TemplateError("template: :1: unexpected EOF")
    return nodes, index, ""


def _index(container: Any, *keys: Any) -> Any:
    value = container
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key, _NO_VALUE) if key in value else _NO_VALUE
        elif isinstance(value, (list, tuple, str)):
            try:
                value = value[int(key)]
            except (IndexError, ValueError, TypeError):
                raise TemplateError(f"error calling index: index out of range: {key}") from None
        else:
            return _NO_VALUE
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
    "len": lambda value: len(value) if value not in (None, _NO_VALUE) else 0,
    "index": _index,
    "slice": lambda value, *bounds: value[slice(*[int(b) for b in bounds])],
    "not": lambda value: not _truth(value),
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


class _Exec:
    def __init__(self, root: Any, template: str = "", strict: str | None = None) -> None:
        self.vars: list[dict[str, Any]] = [{"$": root}]
        self.root = root
        self.template = template
        self.strict = strict      # Go type name: unknown fields of the root are errors

    def lookup_var(self, name: str) -> Any:
        for scope in reversed(self.vars):
            if name in scope:
                return scope[name]
        raise TemplateError(f"template: :1: undefined variable: {name}")

    def field(self, value: Any, path: list[str]) -> Any:
        for part in path:
            if value is _NO_VALUE or value is None:
                return _NO_VALUE
            if isinstance(value, dict):
                if part not in value and self.strict and value is self.root:
                    col = max(self.template.find("." + part), 0)
                    raise TemplateError(f'template: :1:{col}: executing "" at <.{part}>: '
                                        f"can't evaluate field {part} in type {self.strict}")
                value = value[part] if part in value else _NO_VALUE
            else:
                attr = getattr(value, part, _NO_VALUE)
                value = attr() if callable(attr) else attr
        return value

    def operand(self, node: Any, dot: Any) -> Any:
        kind = node[0]
        if kind == "const":
            return node[1]
        if kind == "field":
            base = dot if node[1] is None else self.operand(node[1], dot)
            return self.field(base, node[2])
        if kind == "var":
            return self.lookup_var(node[1])
        if kind == "pipeline":
            return self.pipeline(node[1], dot)
        if kind == "func":
            func = FUNCTIONS.get(node[1])
            if func is None:
                raise TemplateError(f'template: :1: function "{node[1]}" not defined')
            return func
        raise TemplateError("template: :1: bad operand")

    def command(self, operands: list[Any], dot: Any, final: Any) -> Any:
        first = operands[0]
        if first[0] == "func":
            func = self.operand(first, dot)
            args = [self.operand(op, dot) for op in operands[1:]]
            if final is not _NO_VALUE:
                args.append(final)
            try:
                return func(*args)
            except TemplateError:
                raise
            except Exception as exc:  # noqa: BLE001 - shown like Go's template errors
                raise TemplateError(f"template: :1: error calling {first[1]}: {exc}") from None
        if len(operands) > 1 or final is not _NO_VALUE:
            raise TemplateError("template: :1: can't give argument to non-function")
        return self.operand(first, dot)

    def pipeline(self, commands: list[list[Any]], dot: Any) -> Any:
        value: Any = _NO_VALUE
        for i, operands in enumerate(commands):
            if operands and operands[0] == ("func", "and"):
                args = [self.operand(op, dot) for op in operands[1:]]
                value = next((a for a in args if not _truth(a)), args[-1] if args else None)
                continue
            if operands and operands[0] == ("func", "or"):
                args = [self.operand(op, dot) for op in operands[1:]]
                value = next((a for a in args if _truth(a)), args[-1] if args else None)
                continue
            value = self.command(operands, dot, value if i > 0 else _NO_VALUE)
        return value

    def run(self, nodes: list[Any], dot: Any, out: list[str]) -> None:
        for node in nodes:
            kind = node[0]
            if kind == "text":
                out.append(node[1])
            elif kind == "action":
                value = self.pipeline(node[1], dot)
                out.append(go_string(value))
            elif kind == "if":
                value = self.pipeline(node[1], dot)
                self.run(node[2] if _truth(value) else node[3], dot, out)
            elif kind == "with":
                value = self.pipeline(node[1], dot)
                if _truth(value):
                    self.run(node[2], value, out)
                else:
                    self.run(node[3], dot, out)
            elif kind == "range":
                value = self.pipeline(node[1], dot)
                variables = node[4] if len(node) > 4 else []
                if isinstance(value, dict):
                    items = sorted(value.items(), key=lambda kv: str(kv[0]))
                elif isinstance(value, (list, tuple)):
                    items = list(enumerate(value))
                elif value in (None, _NO_VALUE):
                    items = []
                elif isinstance(value, int):
                    items = [(i, i) for i in range(value)]
                else:
                    raise TemplateError(f"template: :1: range can't iterate over "
                                        f"{go_string(value)}")
                if not items:
                    self.run(node[3], dot, out)
                for key, item in items:
                    scope: dict[str, Any] = {}
                    if len(variables) == 1:
                        scope[variables[0]] = item
                    elif len(variables) == 2:
                        scope[variables[0]], scope[variables[1]] = key, item
                    self.vars.append(scope)
                    try:
                        self.run(node[2], item, out)
                    finally:
                        self.vars.pop()


_CACHE: dict[str, list[Any]] = {}


def parse_template(template: str) -> list[Any]:
    nodes = _CACHE.get(template)
    if nodes is None:
        nodes, _, _ = _build(_lex(template), 0, ())
        _CACHE[template] = nodes
    return nodes


def render_template(template: str, obj: Any, strict: str | None = None) -> str:
    """Execute a Go template on `obj` (dicts and lists as decoded from JSON). "\\t" and
    "\\n" written literally in the template become tab and newline, as in the docker CLI.
    With `strict` (a Go type name for the message), unknown fields of `obj` are errors as
    they are for the docker CLI's list contexts; otherwise they print "<no value>"."""
    template = template.replace("\\t", "\t").replace("\\n", "\n")
    out: list[str] = []
    _Exec(obj, template, strict).run(parse_template(template), obj, out)
    return "".join(out)


# --- list output (--format) ---------------------------------------------------------------------

def is_table(fmt: str | None) -> bool:
    return fmt is None or fmt == "" or fmt.startswith("table")


def render_rows(fmt: str | None, rows: list[dict[str, Any]], headers: dict[str, str],
                default: str, context: str | None = None) -> str:
    """What the docker CLI prints for a list command:
    - "" or "table": the `default` table format ("table {{.A}}\\t{{.B}}");
    - "table <template>": a header row (the template run on the header names) and the rows,
      aligned by the tabwriter;
    - "json": one JSON object per row;
    - any other template: one line per row, no header.
    `context` names the Go type of a row for "can't evaluate field" errors."""
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


def render_table_template(template: str, rows: list[dict[str, Any]],
                          headers: dict[str, str]) -> str:
    """`table {{.A}}\\t{{.B}}` rows with their header (kept for older callers)."""
    return render_rows(template, rows, headers, template)
