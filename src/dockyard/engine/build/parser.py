"""The Dockerfile grammar (moby's parser and instructions packages): parser directives,
comments, line continuations, heredocs, builder flags, exec (JSON) and shell forms, ARGs
before the first FROM and the split into stages. Every error names its line, in Docker's
words ("dockerfile parse error on line N: ...")."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ...errors import InvalidParameter

INSTRUCTIONS = ("add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from",
                "healthcheck", "label", "maintainer", "onbuild", "run", "shell",
                "stopsignal", "user", "volume", "workdir")
# the flags each instruction accepts (moby's BFlags per dispatcher)
# (not BuildKit's COPY --parents, ADD --keep-git-dir, RUN --security: refused, not ignored)
FLAGS: dict[str, set[str]] = {
    "from": {"platform"}, "run": {"mount", "network"},
    "copy": {"from", "chown", "chmod", "link", "exclude"},
    "add": {"chown", "chmod", "link", "checksum", "exclude"},
    "healthcheck": {"interval", "timeout", "start-period", "start-interval", "retries"}}
HEREDOC_INSTRUCTIONS = ("run", "copy", "add")
_DIRECTIVE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_.\-]*)\2")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")


class ParseError(InvalidParameter):
    """A malformed Dockerfile: the message carries the line, as Docker's does."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"dockerfile parse error on line {line}: {message}")
        self.line = line


@dataclass
class Heredoc:
    name: str
    content: str
    expand: bool          # an unquoted name: variables in the body are expanded


@dataclass
class Instruction:
    keyword: str          # lower case
    args: str             # the text after the flags
    original: str         # the line as the transcript shows it ("RUN echo hi")
    line: int
    flags: dict[str, list[str]] = field(default_factory=dict)
    heredocs: list[Heredoc] = field(default_factory=list)

    @property
    def exec_form(self) -> list[str] | None:
        """The arguments when written as a JSON array of strings (exec form)."""
        return json_array(self.args)

    def flag(self, name: str, default: str | None = None) -> str | None:
        values = self.flags.get(name)
        return values[-1] if values else default


@dataclass
class Stage:
    index: int
    base: str             # FROM's image (unexpanded)
    name: str             # AS name, lower case, or ""
    platform: str | None
    line: int
    original: str
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    escape: str = "\\"
    syntax: str = ""
    check: str = ""
    meta_args: list[Instruction] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def steps(self) -> int:
        """How many steps the transcript counts (Docker's M in "Step N/M")."""
        return len(self.meta_args) + sum(1 + len(s.instructions) for s in self.stages)


def json_array(text: str) -> list[str] | None:
    text = text.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _directives(lines: list[str], doc: Dockerfile) -> int:
    """Parser directives at the top; returns the index of the first other line."""
    seen: set[str] = set()
    for index, line in enumerate(lines):
        match = _DIRECTIVE.match(line.strip())
        if not match:
            return index
        key, value = match.group(1).lower(), match.group(2)
        if key not in ("escape", "syntax", "check"):
            return index         # an unknown directive is a comment: directives end
        if key in seen:
            raise ParseError(index + 1, f"only one {key} parser directive can be used")
        seen.add(key)
        if key == "escape":
            if value not in ("`", "\\"):
                raise ParseError(index + 1, f"invalid escape token '{value}' does not match "
                                            "` or \\")
            doc.escape = value
        else:
            setattr(doc, key, value)
    return len(lines)


def _continues(text: str, escape: str) -> tuple[str, bool]:
    stripped = text.rstrip(" \t\r")
    if stripped.endswith(escape):
        return stripped[:-1], True
    return text.rstrip("\r"), False


def _split_flags(keyword: str, rest: str, line: int) -> tuple[dict[str, list[str]], str]:
    flags: dict[str, list[str]] = {}
    while rest.startswith("--"):
        word, _, after = rest.partition(" ")
        if word == "--":
            rest = after.lstrip()
            break
        name, eq, value = word[2:].partition("=")
        if name not in FLAGS.get(keyword, set()):
            raise ParseError(line, f"unknown flag: {name}")
        flags.setdefault(name, []).append(value if eq else "true")
        rest = after.lstrip()
    return flags, rest


def _read_heredocs(args: str, lines: list[str], pos: int, line_no: int
                   ) -> tuple[list[Heredoc], int]:
    docs: list[Heredoc] = []
    for match in _HEREDOC.finditer(args):
        strip_tabs, quote, name = match.group(1) == "-", match.group(2), match.group(3)
        body: list[str] = []
        while True:
            if pos >= len(lines):
                raise ParseError(line_no, f"unterminated heredoc {name}")
            text = lines[pos].rstrip("\r")
            pos += 1
            if strip_tabs:
                text = text.lstrip("\t")
            if text == name:
                break
            body.append(text + "\n")
        docs.append(Heredoc(name, "".join(body), not quote))
    return docs, pos


def parse(text: str) -> Dockerfile:
    """The Dockerfile's stages and instructions; raises ParseError."""
    doc = Dockerfile()
    lines = text.split("\n")
    pos = _directives(lines, doc)
    logical: list[Instruction] = []
    while pos < len(lines):
        start = pos
        first = lines[pos].lstrip(" \t")
        pos += 1
        if not first.strip() or first.startswith("#"):
            continue
        joined, more = _continues(first, doc.escape)
        empty_continuation = False
        while more and pos < len(lines):
            nxt = lines[pos]
            pos += 1
            if nxt.lstrip(" \t").startswith("#"):
                continue     # comments inside a continuation are dropped
            if not nxt.strip():
                empty_continuation = True       # dropped too, with moby's warning
                continue
            part, more = _continues(nxt, doc.escape)
            joined += part
        joined = joined.strip()
        if empty_continuation:
            doc.warnings.append(f"[WARNING]: Empty continuation line found in:\n    {joined}")
        word, _, rest = joined.partition(" ")
        word, _, tab_rest = word.partition("\t")
        rest = (tab_rest + " " + rest).strip() if tab_rest else rest.strip()
        keyword = word.lower()
        if keyword not in INSTRUCTIONS:
            raise ParseError(start + 1, f"unknown instruction: {word}")
        flags, args = _split_flags(keyword, rest, start + 1)
        heredocs: list[Heredoc] = []
        if keyword in HEREDOC_INSTRUCTIONS:
            heredocs, pos = _read_heredocs(args, lines, pos, start + 1)
        logical.append(Instruction(keyword, args, joined, start + 1, flags, heredocs))
    if doc.warnings:
        doc.warnings.append("[WARNING]: Empty continuation lines will become errors in a "
                            "future release.")
    if not logical:
        raise InvalidParameter("the Dockerfile (Dockerfile) cannot be empty"
                               if not text.strip() else "file with no instructions")
    for instruction in logical:
        _check(instruction)
        if instruction.keyword == "from":
            doc.stages.append(_stage(instruction, len(doc.stages)))
        elif not doc.stages:
            if instruction.keyword != "arg":
                raise ParseError(instruction.line, "no build stage in current context")
            doc.meta_args.append(instruction)
        else:
            doc.stages[-1].instructions.append(instruction)
    seen: set[str] = set()
    for stage in doc.stages:
        if stage.name in seen:
            raise ParseError(stage.line, f"duplicate stage name {stage.name!r}")
        seen.add(stage.name or f"#{stage.index}")
    return doc


def _stage(instruction: Instruction, index: int) -> Stage:
    words = instruction.args.split()
    if len(words) not in (1, 3):
        raise ParseError(instruction.line, "FROM requires either one or three arguments")
    name = ""
    if len(words) == 3:
        if words[1].lower() != "as":
            raise ParseError(instruction.line, "FROM requires either one or three arguments")
        name = words[2].lower()
        if not _STAGE_NAME.match(name):
            raise ParseError(instruction.line, f"invalid name for build stage: {words[2]!r}, "
                                               "name can't start with a number or contain "
                                               "symbols")
    return Stage(index, words[0], name, instruction.flag("platform"), instruction.line,
                 instruction.original)


_EXACTLY_ONE = ("workdir", "user", "stopsignal", "maintainer")
_AT_LEAST_ONE = ("arg", "env", "label", "expose", "volume", "run", "onbuild", "cmd",
                 "entrypoint", "healthcheck")


def _check(ins: Instruction) -> None:
    """The argument-count and form rules moby checks while parsing."""
    key, upper, args = ins.keyword, ins.keyword.upper(), ins.args.strip()
    if key in _AT_LEAST_ONE and not args and not ins.heredocs and key not in ("cmd",
                                                                              "entrypoint"):
        raise ParseError(ins.line, f"{upper} requires at least one argument")
    if key in _EXACTLY_ONE and (not args or (key != "workdir" and key != "user"
                                             and len(args.split()) != 1)):
        raise ParseError(ins.line, f"{upper} requires exactly one argument")
    if key in ("copy", "add"):
        form = ins.exec_form
        count = len(form) if form is not None else len(args.split())
        if count < 2 and not (ins.heredocs and count >= 1):
            raise ParseError(ins.line, f"{upper} requires at least two arguments, but only "
                                       "one was provided. Destination could not be "
                                       "determined.")
    if key == "shell" and ins.exec_form is None:
        raise ParseError(ins.line, "SHELL requires the arguments to be in JSON form")
    if key == "onbuild":
        trigger = args.split(None, 1)[0].upper()
        if trigger in ("ONBUILD", "FROM", "MAINTAINER"):
            raise ParseError(ins.line, f"{trigger} isn't allowed as an ONBUILD trigger")
        if trigger.lower() not in INSTRUCTIONS:
            raise ParseError(ins.line, f"unknown instruction: {trigger}")
    if key in ("env", "label"):
        first = args.split(None, 1)
        if "=" not in args and len(first) < 2:
            raise ParseError(ins.line, f"{upper} must have two arguments")
    if key == "healthcheck":
        kind = args.split(None, 1)[0].upper()
        if kind not in ("CMD", "NONE"):
            raise ParseError(ins.line, f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
        if kind == "NONE" and (len(args.split()) > 1 or ins.flags):
            raise ParseError(ins.line, "HEALTHCHECK NONE takes no arguments")
