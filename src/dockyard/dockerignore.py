""".dockerignore: Docker's pattern rules (moby/patternmatcher), shared by the CLI (which
leaves the files out of the context tar it sends) and the daemon (which applies them to a
context it is given as it is, e.g. by docker-py or curl).

Patterns are cleaned paths relative to the context root; `*` and `?` stay inside one path
element, `**` spans any number of them, `[...]` is a class, `\\` escapes; a pattern also
excludes everything below a directory it matches; `!pattern` re-includes, and the last
matching pattern decides.
"""
from __future__ import annotations

import os
import posixpath
import re


def read(text: str) -> list[str]:
    """The patterns of a .dockerignore file: comments and blank lines dropped, each
    cleaned (a leading '/' removed) as Docker's ReadAll does."""
    patterns = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = posixpath.normpath(line).lstrip("/") or "."
            if line == ".":
                line = ""
        if not line and not invert:
            continue
        patterns.append(("!" if invert else "") + line)
    return patterns


def _regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):     # "**/": zero or more directories
                    i += 1
                    out.append("(?:.*/)?")
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ValueError(f"syntax error in pattern: {pattern}")
            body = pattern[i + 1:end]
            if body.startswith("^") or body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


class Matcher:
    """Compiled patterns; `excluded(path)` for a slash-separated path relative to the root."""

    def __init__(self, patterns: list[str]) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for pattern in patterns:
            invert = pattern.startswith("!")
            self.rules.append((invert, _regex(pattern[1:] if invert else pattern)))
        self.has_exceptions = any(invert for invert, _ in self.rules)

    def excluded(self, path: str) -> bool:
        path = path.strip("/")
        parents = []
        parent = posixpath.dirname(path)
        while parent:
            parents.append(parent)
            parent = posixpath.dirname(parent)
        result = False
        for invert, regex in self.rules:
            if regex.match(path) or any(regex.match(p) for p in parents):
                result = not invert
        return result

    def walk(self, root: str) -> list[str]:
        """The context's kept paths (relative, sorted, directories too), not descending into
        excluded directories unless an exception could re-include something below."""
        kept: list[str] = []

        def visit(directory: str, prefix: str) -> None:
            for name in sorted(os.listdir(directory)):
                rel = prefix + name
                full = os.path.join(directory, name)
                is_dir = os.path.isdir(full) and not os.path.islink(full)
                if self.excluded(rel):
                    if is_dir and self.has_exceptions:
                        visit(full, rel + "/")
                    continue
                kept.append(rel)
                if is_dir:
                    visit(full, rel + "/")
        visit(root, "")
        return kept
