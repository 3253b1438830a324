"""The docker CLI's command-line rules (spf13/pflag as cobra drives it), in plain Python so
that a command starts without a CLI framework's import cost.

- `-abc` is a cluster of short flags; a short flag that takes a value takes the rest of the
  cluster (`-p8080:80`), `=value` (`-t=false`) or the next argument;
- `--flag=value` and `--flag value`; a bool flag takes a value only with `=`;
- a repeated list flag collects every value in order; other flags keep the last one;
- `--` ends the flags; flags may follow positional arguments, except for commands that stop
  at the first one (run, create, exec: what follows the image or container is the command);
- errors carry Docker's texts: flag errors exit 125, argument-count errors exit 1.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


class UsageError(Exception):
    """A command line the docker CLI refuses before doing anything. Printed by main with the
    command's usage line and `hint` ("Run"/"See" '... --help' for more information)."""

    def __init__(self, message: str, code: int = 125, hint: str = "Run",
                 prefixed: bool = False, usage: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint
        self.prefixed = prefixed     # "dockyard: " before the message, as docker does
        self.usage = usage           # print the Usage: line


class HelpRequested(Exception):
    """--help (or -h where the command has no -h flag of its own) was given."""

    def __init__(self, deprecated_h: bool = False) -> None:
        super().__init__("help")
        self.deprecated_h = deprecated_h


def go_quote(text: str) -> str:
    """Go's %q for the texts a command line holds."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def parse_bool(text: str) -> bool:
    """strconv.ParseBool."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"strconv.ParseBool: parsing {go_quote(text)}: invalid syntax")


def parse_int(text: str) -> int:
    """strconv.ParseInt(text, 0, 64): sign, then 0x/0o/0b or a leading 0 (octal), or
    decimal; underscores only after a base prefix."""
    body = text[1:] if text[:1] in "+-" else text
    base, digits = 10, body
    lowered = body.lower()
    if lowered.startswith(("0x", "0o", "0b")):
        base, digits = {"x": 16, "o": 8, "b": 2}[lowered[1]], body[2:].replace("_", "")
    elif len(body) > 1 and body[0] == "0":
        base, digits = 8, body[1:].replace("_", "")
    try:
        if not digits or "_" in digits or not digits.isalnum() or not digits.isascii():
            raise ValueError
        value = int(digits, base)
    except ValueError:
        raise ValueError(f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax") \
            from None
    value = -value if text.startswith("-") else value
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f"strconv.ParseInt: parsing {go_quote(text)}: value out of range")
    return value


class Flag:
    """One flag. `kind` is bool, str, int or list; `meta` is the type word the help shows
    ("string", "list", "bytes", ...); `check` turns a value into what the command gets and
    raises ValueError with Docker's reason; flags sharing a `dest` are aliases."""

    __slots__ = ("long", "short", "kind", "help", "default", "meta", "hidden", "dest", "check")

    def __init__(self, names: str, kind: str, help: str = "", default: Any = None,
                 meta: str = "", hidden: bool = False, dest: str | None = None,
                 check: Callable[[str], Any] | None = None) -> None:
        short, long = "", ""
        for name in (n.strip() for n in names.split(",")):
            if name.startswith("--"):
                long = name[2:]
            elif name.startswith("-"):
                short = name[1:]
        self.long = long
        self.short = short
        self.kind = kind
        self.help = help
        self.default = default
        self.meta = meta
        self.hidden = hidden
        self.dest = dest or long.replace("-", "_")
        self.check = check

    @property
    def label(self) -> str:
        """How Docker names the flag in errors: "-a, --all" or "--no-trunc"."""
        return f"-{self.short}, --{self.long}" if self.short else f"--{self.long}"

    def initial(self) -> Any:
        return list(self.default or ()) if self.kind == "list" else self.default


def Bool(names: str, help: str = "", default: bool | None = False, **kw: Any) -> Flag:
    return Flag(names, "bool", help, default, **kw)


def Str(names: str, help: str = "", default: str | None = None, meta: str = "string",
        **kw: Any) -> Flag:
    return Flag(names, "str", help, default, meta, **kw)


def Int(names: str, help: str = "", default: int | None = None, meta: str = "int",
        **kw: Any) -> Flag:
    return Flag(names, "int", help, default, meta, **kw)


def List(names: str, help: str = "", meta: str = "list", **kw: Any) -> Flag:
    return Flag(names, "list", help, None, meta, **kw)


class Opts(dict):  # type: ignore[type-arg]
    """Parsed flag values by dest, readable as attributes (`o.all`) and as keys."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _assign(opts: Opts, flag: Flag, value: str, given: set[str]) -> None:
    try:
        if flag.kind == "bool":
            converted: Any = parse_bool(value)
        elif flag.kind == "int":
            converted = parse_int(value)
        else:
            converted = value
        if flag.check is not None:
            converted = flag.check(converted)
    except ValueError as exc:
        raise UsageError(f"invalid argument {go_quote(value)} for {go_quote(flag.label)} "
                         f"flag: {exc}") from None
    if flag.kind == "list":
        opts[flag.dest].append(converted)
    else:
        opts[flag.dest] = converted
    given.add(flag.dest)


def parse(flags: Sequence[Flag], argv: Sequence[str], interspersed: bool = True
          ) -> tuple[Opts, list[str]]:
    """Flag values and positional arguments of `argv`, as pflag parses them. Raises
    UsageError for a bad flag and HelpRequested for --help (after the whole line parsed)."""
    long = {f.long: f for f in flags if f.long}
    short = {f.short: f for f in flags if f.short}
    opts = Opts()
    for f in flags:
        opts.setdefault(f.dest, f.initial())
    given: set[str] = set()
    args: list[str] = []
    help_wanted: HelpRequested | None = None
    i, n = 0, len(argv)
    while i < n:
        arg = argv[i]
        i += 1
        if arg == "--":
            args.extend(argv[i:])
            break
        if len(arg) < 2 or arg[0] != "-":
            args.append(arg)
            if not interspersed:
                args.extend(argv[i:])
                break
            continue
        if arg[1] == "-":
            name, eq, value = arg[2:].partition("=")
            if not name or name[0] in "-=":
                raise UsageError(f"bad flag syntax: {arg}")
            flag = long.get(name)
            if flag is None and name == "help":
                if not eq or _help_value(value):
                    help_wanted = help_wanted or HelpRequested()
                continue
            if flag is None:
                raise UsageError(f"unknown flag: --{name}")
            if eq:
                _assign(opts, flag, value, given)
            elif flag.kind == "bool":
                _assign(opts, flag, "true", given)
            elif i < n:
                _assign(opts, flag, argv[i], given)
                i += 1
            else:
                raise UsageError(f"flag needs an argument: --{name}")
            continue
        shorts = arg[1:]
        while shorts:
            char = shorts[0]
            flag = short.get(char)
            if flag is None:
                if char == "h":
                    help_wanted = HelpRequested(deprecated_h=True)
                    shorts = shorts[1:]
                    continue
                raise UsageError(f"unknown shorthand flag: '{char}' in -{shorts}")
            if len(shorts) > 2 and shorts[1] == "=":
                _assign(opts, flag, shorts[2:], given)
                shorts = ""
            elif flag.kind == "bool":
                _assign(opts, flag, "true", given)
                shorts = shorts[1:]
            elif len(shorts) > 1:
                _assign(opts, flag, shorts[1:], given)
                shorts = ""
            elif i < n:
                _assign(opts, flag, argv[i], given)
                i += 1
                shorts = ""
            else:
                raise UsageError(f"flag needs an argument: '{char}' in -{shorts}")
    if help_wanted is not None:
        raise help_wanted
    return opts, args


def _help_value(value: str) -> bool:
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise UsageError(f'invalid argument {go_quote(value)} for "-h, --help" flag: {exc}'
                         ) from None


def check_args(path: str, args: Sequence[str], low: int, high: int | None) -> None:
    """cobra's argument-count rules with the docker CLI's texts (exit 1)."""
    count = len(args)
    if low <= count and (high is None or count <= high):
        return

    def plural(k: int) -> str:
        return f"{k} argument" + ("" if k == 1 else "s")

    if high == 0:
        raise UsageError(f"'{path}' accepts no arguments", 1, prefixed=True)
    if high is None:
        raise UsageError(f"'{path}' requires at least {plural(low)}", 1, "See", prefixed=True)
    if low == high:
        raise UsageError(f"'{path}' requires {plural(low)}", 1, prefixed=True)
    if low == 0:
        raise UsageError(f"'{path}' requires at most {plural(high)}", 1, prefixed=True)
    raise UsageError(f"'{path}' requires at least {low} and at most {plural(high)}", 1,
                     prefixed=True)


Handler = Callable[[Any, Opts, list[str]], None]


class Command:
    """A command's usage text, flags and argument rule, and the function that runs it as
    `func(ctx, opts, args)`. Its name and summary live in the table of cli/commands.py."""

    __slots__ = ("func", "usage", "flags", "args", "interspersed", "complete")

    def __init__(self, func: Handler, usage: str, flags: Iterable[Flag],
                 args: tuple[int, int | None], interspersed: bool, complete: str) -> None:
        self.func = func
        self.usage = usage
        self.flags = tuple(flags)
        self.args = args
        self.interspersed = interspersed
        self.complete = complete     # what positional arguments name: container, image

    def parse(self, path: str, argv: Sequence[str]) -> tuple[Opts, list[str]]:
        """Flags and checked arguments; HelpRequested wins over a wrong argument count."""
        opts, args = parse(self.flags, argv, self.interspersed)
        check_args(path, args, *self.args)
        return opts, args


def command(usage: str, *flags: Flag, args: tuple[int, int | None] = (0, 0),
            interspersed: bool = True, complete: str = "") -> Callable[[Handler], Command]:
    """Decorate `func(ctx, opts, args)` into a Command."""
    def wrap(func: Handler) -> Command:
        return Command(func, usage, flags, args, interspersed, complete)
    return wrap
