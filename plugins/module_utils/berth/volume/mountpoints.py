"""Mount points of a container and Docker's three ways to ask for them.

``-v [SOURCE:]DEST[:MODE]`` (a host path binds, a name is a named volume, no source is an anonymous
volume), ``--mount type=bind|volume|tmpfs,source=..,target=..,readonly,...`` (kept structured in
the container spec) and ``--tmpfs DEST[:OPTIONS]``. Parsing checks syntax only; the host is looked
at when the container is created.
"""
from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping
from typing import Any, Optional

from ..errors import InvalidArgument
from ..values import Value, asdict, field, fields

MOUNT_TYPES = ("bind", "volume", "tmpfs")
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
DEFAULT_PROPAGATION = "rprivate"
_CONSISTENCY = ("consistent", "cached", "delegated", "default")
_TMPFS_FLAGS = ("ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync", "async",
                "dirsync", "noatime", "atime", "nodiratime", "diratime", "relatime", "strictatime")
_TMPFS_DATA = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol", "huge")
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtb]?)b?$", re.IGNORECASE)


class MountPoint(Value):
    """One mount of a container, resolved at create (Docker's MountPoint, plus how to set it up)."""

    type: str                      # bind | volume | tmpfs
    destination: str
    source: str = ""               # bind: host path; volume: the volume's _data (set at create)
    name: str = ""                 # volume: its name ("" until an anonymous one is created)
    driver: str = ""               # volume: "local"
    rw: bool = True
    mode: str = ""                 # as written after the second ':' of -v
    propagation: str = ""          # bind only
    copy: bool = False             # seed an empty volume with the image's content at DEST
    anonymous: bool = False
    create_source: bool = False    # -v /host:/ctr creates a missing host dir (as Docker does)
    tmpfs_options: list[str] = field(default_factory=list)
    volume_options: dict[str, str] = field(default_factory=dict)  # for a volume made on first use
    volume_labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MountPoint":
        known = set(fields(cls))
        return cls(**{k: v for k, v in data.items() if k in known})

    def docker(self) -> dict[str, Any]:
        """The entry of ``Mounts`` in ``inspect``."""
        out: dict[str, Any] = {"Type": self.type}
        if self.type == "volume":
            out["Name"] = self.name
        out.update({"Source": self.source, "Destination": self.destination})
        if self.type == "volume":
            out["Driver"] = self.driver or "local"
        out.update({"Mode": self.mode, "RW": self.rw, "Propagation": self.propagation})
        return out


def check_destination(dest: str, what: str) -> str:
    if not dest:
        raise InvalidArgument(f"invalid mount config: {what}: the target is required")
    if not dest.startswith("/"):
        raise InvalidArgument(f"invalid mount config: {what}: the target {dest!r} is not an "
                              "absolute path")
    norm = os.path.normpath(dest)
    if norm == "/":
        raise InvalidArgument(f"invalid specification: destination can't be '/' in '{what}'")
    return "/" + norm.lstrip("/")


def parse_volume(text: str) -> MountPoint:
    """``-v``: ``DEST``, ``SOURCE:DEST`` or ``SOURCE:DEST:MODE`` (MODE: ro|rw, nocopy,
    a propagation for binds, z/Z and consistency words are accepted and ignored)."""
    parts = text.split(":")
    bad = InvalidArgument(f"invalid volume specification: '{text}'")
    if len(parts) > 3 or not all(parts[:2]):
        raise bad
    if len(parts) == 1:
        return MountPoint("volume", check_destination(parts[0], text), rw=True, copy=True,
                          anonymous=True, driver="local")
    if len(parts) == 2 and _is_mode(parts[1]):
        raise bad
    source, dest = parts[0], check_destination(parts[1], text)
    mode = parts[2] if len(parts) == 3 else ""
    words = [w for w in mode.split(",") if w] if mode else []
    if mode and not words:
        raise bad
    rw, propagation, nocopy = True, "", False
    for word in words:
        if word in ("ro", "rw"):
            rw = word == "rw"
        elif word in PROPAGATIONS:
            propagation = word
        elif word == "nocopy":
            nocopy = True
        elif word in ("z", "Z") or word in _CONSISTENCY:
            pass
        else:
            raise InvalidArgument(f"invalid mode: {mode}")
    if sum(w in ("ro", "rw") for w in words) > 1 or sum(w in PROPAGATIONS for w in words) > 1:
        raise InvalidArgument(f"invalid mode: {mode}")
    if source.startswith("/"):
        if nocopy:
            raise InvalidArgument(f"invalid mode: {mode}: nocopy applies to volumes only")
        return MountPoint("bind", dest, source=os.path.normpath(source), rw=rw, mode=mode,
                          propagation=propagation or DEFAULT_PROPAGATION, create_source=True)
    if propagation:
        raise InvalidArgument(f"invalid mode: {mode}: propagation applies to bind mounts only")
    from .store import check_name

    check_name(source)
    return MountPoint("volume", dest, name=source, driver="local", rw=rw, mode=mode,
                      copy=not nocopy)


def _is_mode(text: str) -> bool:
    words = text.split(",")
    return all(w in ("ro", "rw", "nocopy", "z", "Z") or w in PROPAGATIONS or w in _CONSISTENCY
               for w in words)


def _bool(key: str, value: Optional[str]) -> bool:
    if value is None:
        return True
    low = value.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise InvalidArgument(f"invalid value for {key}: {value}")


def _pair(key: str, value: Optional[str], into: dict[str, str]) -> None:
    k, sep, v = (value or "").partition("=")
    if not value or not k:
        raise InvalidArgument(f"invalid value for {key}: {value!r}, expected KEY=VALUE")
    into[k] = v


def parse_size(text: str) -> int:
    m = _SIZE.match(str(text).strip())
    if not m:
        raise InvalidArgument(f"invalid size: {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def parse_mount(text: str) -> dict[str, Any]:
    """``--mount`` CSV -> the structured form kept in the container spec (checked)."""
    try:
        fields = next(csv.reader([text]))
    except (csv.Error, StopIteration):
        raise InvalidArgument(f"invalid --mount value: {text!r}") from None
    out: dict[str, Any] = {"type": "volume", "source": "", "target": "", "read_only": False,
                           "propagation": "", "no_copy": False, "volume_driver": "",
                           "volume_labels": {}, "volume_options": {}, "tmpfs_size": None,
                           "tmpfs_mode": None}
    for item in fields:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        val: Optional[str] = value if sep else None
        if key in ("readonly", "ro"):
            out["read_only"] = _bool(key, val)
            continue
        if key == "volume-nocopy":
            out["no_copy"] = _bool(key, val)
            continue
        if val is None:
            raise InvalidArgument(f"invalid field '{item}' must be a key=value pair")
        if key == "type":
            out["type"] = val
        elif key in ("source", "src"):
            out["source"] = val
        elif key in ("target", "destination", "dst"):
            out["target"] = val
        elif key == "bind-propagation":
            out["propagation"] = val
        elif key == "volume-driver":
            out["volume_driver"] = val
        elif key == "volume-label":
            _pair(key, val, out["volume_labels"])
        elif key == "volume-opt":
            _pair(key, val, out["volume_options"])
        elif key == "tmpfs-size":
            out["tmpfs_size"] = parse_size(val)
        elif key == "tmpfs-mode":
            try:
                out["tmpfs_mode"] = int(val, 8)
            except ValueError:
                raise InvalidArgument(f"invalid value for tmpfs-mode: {val}") from None
        elif key == "consistency":
            pass
        else:
            raise InvalidArgument(f"unexpected key '{key}' in '{item}'")
    mount_point(out)
    return out


def mount_point(m: Mapping[str, Any]) -> MountPoint:
    """The structured ``--mount`` (as kept in the spec) -> a MountPoint, checking field by field
    what Docker's daemon checks for the type."""
    mtype = m.get("type") or "volume"
    what = f'type "{mtype}"'
    if mtype not in MOUNT_TYPES:
        raise InvalidArgument(f"invalid mount config: mount type unknown: {mtype!r}")
    dest = check_destination(m.get("target") or "", what)
    source = m.get("source") or ""
    rw = not m.get("read_only")

    def forbid(*keys: str) -> None:
        for key in keys:
            if m.get(key):
                raise InvalidArgument(f"invalid mount config for {what}: field {key} must not be "
                                      "specified")

    if mtype == "bind":
        forbid("no_copy", "volume_driver", "volume_labels", "volume_options", "tmpfs_size",
               "tmpfs_mode")
        if not source:
            raise InvalidArgument(f"invalid mount config for {what}: field Source must not be "
                                  "empty")
        if not source.startswith("/"):
            raise InvalidArgument(f"invalid mount config for {what}: invalid mount path: "
                                  f"'{source}' mount path must be absolute")
        propagation = m.get("propagation") or DEFAULT_PROPAGATION
        if propagation not in PROPAGATIONS:
            raise InvalidArgument(f"invalid propagation mode: {propagation}")
        return MountPoint("bind", dest, source=os.path.normpath(source), rw=rw,
                          propagation=propagation)
    if mtype == "volume":
        forbid("propagation", "tmpfs_size", "tmpfs_mode")
        if m.get("volume_driver") not in (None, "", "local"):
            raise InvalidArgument(f"invalid mount config for {what}: only the local volume driver "
                                  "is available")
        if source:
            from .store import check_name

            check_name(source)
        from . import local

        if m.get("volume_options"):
            local.validate_options(m["volume_options"])
        return MountPoint("volume", dest, name=source, driver="local", rw=rw,
                          copy=not m.get("no_copy"), anonymous=not source,
                          volume_options=dict(m.get("volume_options") or {}),
                          volume_labels=dict(m.get("volume_labels") or {}))
    forbid("source", "propagation", "no_copy", "volume_driver", "volume_labels", "volume_options")
    options = [] if rw else ["ro"]
    if m.get("tmpfs_size"):
        options.append(f"size={int(m['tmpfs_size'])}")
    if m.get("tmpfs_mode") is not None:
        options.append(f"mode={int(m['tmpfs_mode']):o}")
    return MountPoint("tmpfs", dest, rw=rw, tmpfs_options=options)


def parse_tmpfs(text: str) -> tuple[str, str]:
    """``--tmpfs DEST[:OPTIONS]`` -> (DEST, OPTIONS), e.g. ``/run:size=64m,mode=1777,noexec``."""
    dest, options = text.split(":", 1) if ":" in text else (text, "")
    dest = check_destination(dest, text)
    for opt in [o for o in options.split(",") if o]:
        key, sep, value = opt.partition("=")
        if (sep and key in _TMPFS_DATA and value) or (not sep and key in _TMPFS_FLAGS):
            if key == "size":
                parse_size(value)
            if key == "mode" and not re.match(r"^[0-7]{1,4}$", value):
                raise InvalidArgument(f"invalid tmpfs mode: {value}")
            continue
        raise InvalidArgument(f"invalid tmpfs option {opt!r} in '{text}'")
    return dest, options


def tmpfs_point(dest: str, options: str) -> MountPoint:
    opts = [o for o in options.split(",") if o]
    modes = [o for o in opts if o in ("ro", "rw")]
    rw = not modes or modes[-1] == "rw"  # the last one wins, as mount(8) reads them
    return MountPoint("tmpfs", dest, rw=rw, tmpfs_options=opts)
