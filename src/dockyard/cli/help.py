"""--help output in the docker CLI's layout (Usage:, summary, Aliases:, Options: or
Commands:), imported only when help is asked for."""
from __future__ import annotations

from . import commands
from .flags import Command, Flag

WIDTH = 80


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return lines


def _default_text(flag: Flag) -> str:
    value = flag.default
    if flag.kind == "bool":
        return " (default true)" if value else ""
    if flag.kind == "int":
        return f" (default {value})" if value not in (None, 0) else ""
    if flag.kind == "str" and value:
        return f' (default "{value}")'
    return ""


def options_block(flags: tuple[Flag, ...]) -> list[str]:
    """pflag's FlagUsages: sorted by long name, "-a, --all" or "    --name string", the
    descriptions aligned and wrapped to the terminal width."""
    shown = sorted((f for f in flags if not f.hidden), key=lambda f: f.long)
    heads = []
    for f in shown:
        head = f"  -{f.short}, --{f.long}" if f.short else f"      --{f.long}"
        heads.append(head + (f" {f.meta}" if f.meta and f.kind != "bool" else ""))
    column = max((len(h) for h in heads), default=0) + 3
    lines = []
    for head, f in zip(heads, shown):
        text = _wrap(f.help + _default_text(f), max(WIDTH - column, 20))
        lines.append(head.ljust(column) + text[0])
        lines.extend(" " * column + rest for rest in text[1:])
    return lines


def command_help(path: str, names: tuple[str, ...], summary: str, cmd: Command) -> str:
    prog = path.split(" ", 1)[0]
    out = [f"Usage:  {path} {cmd.usage}".rstrip(), "", summary]
    if len(names) > 1:
        out += ["", "Aliases:", "  " + ", ".join(f"{prog} {n}" for n in names)]
    block = options_block(cmd.flags)
    if block:
        out += ["", "Options:", *block]
    return "\n".join(out) + "\n"


def group_help(prog: str, group: str) -> str:
    out = [f"Usage:  {prog} {group} COMMAND", "", commands.GROUPS[group], "", "Commands:"]
    out += [f"  {name:<11} {summary}" for name, summary in commands.listing(group)]
    out += ["", f"Run '{prog} {group} COMMAND --help' for more information on a command."]
    return "\n".join(out) + "\n"


def root_help(prog: str, flags: tuple[Flag, ...]) -> str:
    entries = dict(commands.listing(""))
    out = [f"Usage:  {prog} [OPTIONS] COMMAND", "",
           "A self-sufficient runtime for containers", "", "Common Commands:"]
    out += [f"  {name:<11} {entries[name]}" for name in commands.COMMON]
    out += ["", "Management Commands:"]
    out += [f"  {name:<11} {summary}" for name, summary in sorted(commands.GROUPS.items())]
    out += ["", "Commands:"]
    out += [f"  {name:<11} {summary}" for name, summary in entries.items()
            if name not in commands.COMMON]
    out += ["", "Global Options:", *options_block(flags), "",
            f"Run '{prog} COMMAND --help' for more information on a command."]
    return "\n".join(out) + "\n"
