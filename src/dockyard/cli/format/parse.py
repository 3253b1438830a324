"""Go text/template parsing: actions and text split out ({{- and -}} trimmed), each
action's pipeline parsed into nodes that template.py executes."""
from __future__ import annotations

import json
import re
from typing import Any

from .govalue import TemplateError

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


def parse_action(text: str) -> list[list[Any]]:
    parser = _Parser(_tokenize(text))
    result = parser.pipeline()
    if parser.peek() is not None:
        extra = parser.peek()[1]  # type: ignore[index]
        raise TemplateError(f"template: :1: unexpected {extra!r} in command")
    return result


_ACTION_RE = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


def lex(template: str) -> list[tuple[str, str]]:
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


def build(pieces: list[tuple[str, str]], index: int, ends: tuple[str, ...]
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
            body, index, ender = build(pieces, index, ("end", "else"))
            else_body: list[Any] = []
            while ender.startswith("else"):
                tail = ender[4:].strip()
                if tail.startswith("if ") and word == "if":
                    branch, index, ender2 = build(pieces, index, ("end", "else"))
                    else_body = [("if", parse_action(tail[3:]), branch, [])]
                    target = else_body[0]
                    while ender2.startswith("else"):
                        tail2 = ender2[4:].strip()
                        branch2, index, ender2 = build(pieces, index, ("end", "else"))
                        if tail2.startswith("if "):
                            new = ("if", parse_action(tail2[3:]), branch2, [])
                            target[3].append(new)
                            target = new
                        else:
                            target[3].extend(branch2)
                    ender = ender2
                    break
                else_body, index, ender = build(pieces, index, ("end",))
            if ender != "end":
                raise TemplateError("template: :1: unexpected EOF")
            nodes.append((word, parse_action(rest), body, else_body, variables))
            continue
        if word in ("end", "else"):
            raise TemplateError(f"template: :1: unexpected {{{{{word}}}}}")
        if word in ("define", "template", "block"):
            raise TemplateError(f"template: :1: {word} is not supported")
        nodes.append(("action", parse_action(value)))
    if ends:
        raise TemplateError("template: :1: unexpected EOF")
    return nodes, index, ""
