"""Resolve `-u name[:group]` against the image's /etc/passwd and /etc/group (Docker's rules),
reading them through secure_join so a hostile image cannot point them at host files."""
from __future__ import annotations

from ..errors import InvalidParameter
from ..linux.securejoin import secure_join


def _read_table(rootfs: str, path: str) -> list[list[str]]:
    try:
        with open(secure_join(rootfs, path), encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f
                    if line.strip() and not line.startswith("#")]
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []


def resolve_user(rootfs: str, user: str, group_add: list[str]
                 ) -> tuple[int, int, list[int], str]:
    """Return (uid, gid, additional gids, home)."""
    passwd = _read_table(rootfs, "/etc/passwd")
    groups = _read_table(rootfs, "/etc/group")
    name, _, group = (user or "0").partition(":")
    entry = next((p for p in passwd if len(p) >= 7 and (p[0] == name or
                                                         (name.isdigit() and p[2] == name))),
                 None)
    if entry is not None:
        uid, gid, home, user_name = int(entry[2]), int(entry[3]), entry[5], entry[0]
    elif name.isdigit():
        uid, gid, home, user_name = int(name), 0, "/", ""
    else:
        raise InvalidParameter(f"unable to find user {name}: no matching entries in passwd "
                               "file")
    if group:
        gid = _group_id(groups, group)
    additional = []
    if user_name:
        for g in groups:
            if len(g) >= 4 and user_name in g[3].split(",") and int(g[2]) != gid:
                additional.append(int(g[2]))
    for extra in group_add:
        number = _group_id(groups, extra)
        if number not in additional:
            additional.append(number)
    return uid, gid, additional, home or "/"


def _group_id(groups: list[list[str]], group: str) -> int:
    for g in groups:
        if len(g) >= 3 and (g[0] == group or (group.isdigit() and g[2] == group)):
            return int(g[2])
    if group.isdigit():
        return int(group)
    raise InvalidParameter(f"unable to find group {group}: no matching entries in group file")
