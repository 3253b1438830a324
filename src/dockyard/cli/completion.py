"""Shell completion: `dockyard completion bash|zsh` prints a script that asks the hidden
`dockyard __complete -- WORD...` for candidates, cobra's scheme. Candidates are commands from
the table, a command's flags, and container or image names from the daemon for commands
whose arguments name them; with none the shell completes file names."""
from __future__ import annotations

import sys

from . import commands
from .common import Context
from .flags import Command, Opts, command

_BASH = r"""# bash completion for dockyard: source <(dockyard completion bash)
_dockyard() {
    local IFS=$'\n'
    COMPREPLY=($(dockyard __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _dockyard dockyard
"""

_ZSH = r"""#compdef dockyard
# zsh completion for dockyard: dockyard completion zsh > "${fpath[1]}/_dockyard"
_dockyard() {
    local -a candidates
    candidates=("${(@f)$(dockyard __complete -- "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    if (( ${#candidates} )) && [[ -n "${candidates[1]}" ]]; then
        compadd -- "${candidates[@]}"
    else
        _files
    fi
}
compdef _dockyard dockyard
"""


@command("")
def bash(ctx: Context, o: Opts, args: list[str]) -> None:
    sys.stdout.write(_BASH)


@command("")
def zsh(ctx: Context, o: Opts, args: list[str]) -> None:
    sys.stdout.write(_ZSH)


def _load(target: str) -> Command:
    from importlib import import_module

    module, _, name = target.partition(":")
    return getattr(import_module(f"{__package__}.{module}"), name)


def _names(ctx: Context, kind: str) -> list[str]:
    """Container names, volume names or image references the daemon knows (none if it is
    unreachable)."""
    try:
        if kind == "volume":
            answer = ctx.api.get("/volumes") or {}
            return [v["Name"] for v in answer.get("Volumes") or []]
        if kind == "container":
            items = ctx.api.get("/containers/json", {"all": True}) or []
            return [n.lstrip("/") for c in items for n in c.get("Names") or []]
        items = ctx.api.get("/images/json") or []
        return [t for i in items for t in i.get("RepoTags") or [] if t != "<none>:<none>"]
    except Exception:  # noqa: BLE001 - completion must never fail loudly
        return []


def candidates(ctx: Context, words: list[str]) -> list[str]:
    """What may replace the last of `words` (the word being typed, maybe "")."""
    current, before = words[-1] if words else "", words[:-1]
    path: list[str] = []
    cmd: Command | None = None
    positional = 0
    skip = False
    for word in before:
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            skip = word in ("-H", "--host", "--config") and not path
            continue
        if cmd is None and (not path and (word in commands.GROUPS or commands.lookup(word))
                            or path and commands.lookup(f"{path[0]} {word}")):
            path.append(word)
            row = commands.lookup(" ".join(path))
            cmd = _load(row[1]) if row else None
            continue
        positional += 1
    if cmd is None:
        group = path[0] if path else ""
        if current.startswith("-") and not path:
            return [f for f in ("--config", "--help", "--host", "--version")
                    if f.startswith(current)]
        return [name for name, _ in commands.listing(group) if name.startswith(current)] + \
            ([g for g in sorted(commands.GROUPS) if g.startswith(current)] if not path else [])
    if current.startswith("-"):
        names = [f"--{f.long}" for f in cmd.flags if not f.hidden] + ["--help"]
        names += [f"-{f.short}" for f in cmd.flags if f.short and not f.hidden]
        return sorted(n for n in names if n.startswith(current))
    if cmd.complete and (positional == 0 or cmd.args[1] is None and cmd.interspersed):
        return sorted(n for n in set(_names(ctx, cmd.complete)) if n.startswith(current))
    return []


@command("[WORD...]", args=(0, None), interspersed=False)
def complete(ctx: Context, o: Opts, args: list[str]) -> None:
    for candidate in candidates(ctx, list(args)):
        print(candidate)
