"""Resolve ``user[:group]`` against the container's own /etc/passwd and /etc/group (runc's rules)."""
from __future__ import annotations

from typing import NamedTuple, Optional

from ..errors import InvalidArgument
from ..runtime.mounts import secure_join


class ExecUser(NamedTuple):
    uid: int
    gid: int
    additional_gids: list[int]
    home: str


def _entries(rootfs: str, name: str) -> list[list[str]]:
    try:
        with open(secure_join(rootfs, f"/etc/{name}"), errors="replace") as f:
            return [ln.split(":") for ln in f.read().splitlines() if ln and not ln.startswith("#")]
    except OSError:
        return []


def _int(text: str) -> Optional[int]:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def resolve(rootfs: str, user: str) -> ExecUser:
    """Docker's ``-u``: ``name``, ``uid``, ``name:group``, ``uid:gid`` (names from the image)."""
    user_part, _sep, group_part = (user or "").partition(":")
    user_part = user_part or "0"
    passwd = _entries(rootfs, "passwd")
    uid_wanted = _int(user_part)
    entry = next((e for e in passwd if len(e) >= 4 and
                  (e[0] == user_part or (uid_wanted is not None and _int(e[2]) == uid_wanted))),
                 None)
    if entry is not None:
        uid, gid = _int(entry[2]) or 0, _int(entry[3]) or 0
        name, home = entry[0], (entry[5] if len(entry) > 5 and entry[5] else "/")
    elif _int(user_part) is not None:
        uid, gid, name, home = _int(user_part), 0, "", "/"  # type: ignore[assignment]
    else:
        raise InvalidArgument(f"unable to find user {user_part}: no matching entries in passwd file")
    groups = _entries(rootfs, "group")
    if group_part:
        found = next((g for g in groups if len(g) >= 3 and g[0] == group_part), None)
        if found is not None:
            gid = _int(found[2]) or 0
        elif _int(group_part) is not None:
            gid = _int(group_part)  # type: ignore[assignment]
        else:
            raise InvalidArgument(f"unable to find group {group_part}: no matching entries in "
                                  "group file")
    extra: list[int] = []
    if name:
        for g in groups:
            if len(g) >= 4 and name in g[3].split(","):
                number = _int(g[2])
                if number is not None and number != gid and number not in extra:
                    extra.append(number)
    return ExecUser(uid, gid, extra, home)  # type: ignore[arg-type]


def needs_rootfs(user: str) -> bool:
    """True when resolving ``user`` must read the image's files (names, or groups of a uid)."""
    return bool(user) and not all(_int(p) is not None for p in user.split(":") if p)


def home_env(env: list[str], home: str) -> list[str]:
    if any(item.startswith("HOME=") for item in env):
        return env
    return env + [f"HOME={home or '/'}"]
