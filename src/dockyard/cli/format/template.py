"""Executes a parsed Go template over dicts and lists as decoded from JSON: a pragmatic
text/template subset for --format (fields, variables, pipelines, if/else/range/with)."""
from __future__ import annotations

from typing import Any

from .funcs import FUNCTIONS
from .govalue import NO_VALUE, TemplateError, go_string, truth
from .parse import build, lex

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
            if value is NO_VALUE or value is None:
                return NO_VALUE
            if isinstance(value, dict):
                if part not in value and self.strict and value is self.root:
                    col = max(self.template.find("." + part), 0)
                    raise TemplateError(f'template: :1:{col}: executing "" at <.{part}>: '
                                        f"can't evaluate field {part} in type {self.strict}")
                value = value[part] if part in value else NO_VALUE
            else:
                attr = getattr(value, part, NO_VALUE)
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
            if final is not NO_VALUE:
                args.append(final)
            try:
                return func(*args)
            except TemplateError:
                raise
            except Exception as exc:  # noqa: BLE001 - shown like Go's template errors
                raise TemplateError(f"template: :1: error calling {first[1]}: {exc}") from None
        if len(operands) > 1 or final is not NO_VALUE:
            raise TemplateError("template: :1: can't give argument to non-function")
        return self.operand(first, dot)

    def pipeline(self, commands: list[list[Any]], dot: Any) -> Any:
        value: Any = NO_VALUE
        for i, operands in enumerate(commands):
            if operands and operands[0] == ("func", "and"):
                args = [self.operand(op, dot) for op in operands[1:]]
                value = next((a for a in args if not truth(a)), args[-1] if args else None)
                continue
            if operands and operands[0] == ("func", "or"):
                args = [self.operand(op, dot) for op in operands[1:]]
                value = next((a for a in args if truth(a)), args[-1] if args else None)
                continue
            value = self.command(operands, dot, value if i > 0 else NO_VALUE)
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
                self.run(node[2] if truth(value) else node[3], dot, out)
            elif kind == "with":
                value = self.pipeline(node[1], dot)
                if truth(value):
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
                elif value in (None, NO_VALUE):
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
        nodes, _, _ = build(lex(template), 0, ())
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
