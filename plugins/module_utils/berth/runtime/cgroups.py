"""Container cgroups on v1, v2 and hybrid hosts behind one small class.

Layouts: pure v2 (``/sys/fs/cgroup`` is cgroup2): one directory in the unified tree holds limits.
v1 or hybrid (controllers on v1 hierarchies, maybe a cgroup2 tree at ``/sys/fs/cgroup/unified``):
limits go to the v1 hierarchies; in hybrid mode the process also joins the unified tree so every
view of ``/proc/<pid>/cgroup`` names the container's group.
"""
from __future__ import annotations

import ctypes
import errno
import os
import signal
import time
from collections.abc import Mapping
from typing import Any, Optional, Union

from ..errors import BerthError, InvalidArgument
from .cgroups_v1 import V1Group
from .cgroups_v2 import V2Group

CGROUP2_SUPER_MAGIC = 0x63677270
CGROUP_ROOT = "/sys/fs/cgroup"


class CgroupError(BerthError):
    """Creating, changing or removing a container's cgroup failed."""


class Layout:
    """Where the cgroup hierarchies of this host are mounted."""

    def __init__(self, unified: Optional[str], v1: list[tuple[str, frozenset]]) -> None:
        self.unified = unified
        self.v1 = v1

    @property
    def mode(self) -> str:
        if self.v1:
            return "hybrid" if self.unified else "v1"
        return "v2"

    def __repr__(self) -> str:
        return f"Layout(mode={self.mode!r}, unified={self.unified!r}, v1={self.v1!r})"


def _fs_type(path: str) -> int:
    buf = ctypes.create_string_buffer(256)  # struct statfs; f_type is its first word
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.statfs(os.fsencode(path), buf) != 0:
        return 0
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF


def _v1_hierarchies() -> list[tuple[str, frozenset]]:
    out = []
    seen = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _sep, right = line.partition(" - ")
            fields = right.split()
            if not fields or fields[0] != "cgroup":
                continue
            parts = left.split()
            if parts[3] != "/":  # a bind of a sub-group (we are inside a container)
                continue
            mountpoint = parts[4].encode().decode("unicode_escape")
            opts = set(fields[2].split(",")) if len(fields) > 2 else set()
            controllers = frozenset(o for o in opts if o not in ("rw", "ro", "relatime", "noatime",
                                                                 "nosuid", "nodev", "noexec",
                                                                 "clone_children", "xattr")
                                    and "=" not in o or o.startswith("name="))
            if mountpoint not in seen:
                seen.add(mountpoint)
                out.append((mountpoint, controllers))
    return out


_layout: Optional[Layout] = None


def detect(refresh: bool = False) -> Layout:
    """The host's cgroup layout (cached for the life of the process)."""
    global _layout
    if _layout is None or refresh:
        if _fs_type(CGROUP_ROOT) == CGROUP2_SUPER_MAGIC:
            _layout = Layout(CGROUP_ROOT, [])
        else:
            unified = CGROUP_ROOT + "/unified"
            has_unified = _fs_type(unified) == CGROUP2_SUPER_MAGIC
            _layout = Layout(unified if has_unified else None, _v1_hierarchies())
    return _layout


def _normalize(path: str) -> str:
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise InvalidArgument(f"invalid cgroup path: {path!r}")
    return "/".join(parts)


class Cgroup:
    """A container's cgroup, e.g. ``Cgroup("berth/<id>")`` (relative to each hierarchy's root)."""

    def __init__(self, path: str, layout: Optional[Layout] = None) -> None:
        self.path = _normalize(path)
        self.layout = layout or detect()
        self.v1: Optional[V1Group] = V1Group(self.layout.v1, self.path) if self.layout.v1 else None
        self.v2: Optional[V2Group] = None
        if self.layout.unified:
            self.v2 = V2Group(self.layout.unified, self.path, manage_resources=self.v1 is None)
        self._groups: list[Union[V1Group, V2Group]] = [g for g in (self.v1, self.v2) if g]

    @classmethod
    def create(cls, path: str, resources: Optional[Mapping[str, Any]] = None,
               layout: Optional[Layout] = None) -> "Cgroup":
        group = cls(path, layout)
        created: list[str] = []
        try:
            for g in group._groups:
                created += g.create(resources or {})
        except OSError as e:
            for d in reversed(created):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            raise CgroupError(f"cannot create cgroup {group.path}: {e.strerror}") from None
        return group

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self.directories())

    def directories(self) -> list[str]:
        dirs = list(self.v1.dirs.values()) if self.v1 else []
        if self.v2:
            dirs.append(self.v2.dir)
        return dirs

    def update(self, resources: Mapping[str, Any]) -> None:
        try:
            (self.v1 or self.v2).apply(resources)  # type: ignore[union-attr]
        except OSError as e:
            raise CgroupError(f"cannot update cgroup {self.path}: {e.strerror}") from None

    def add(self, pid: int) -> None:
        """Move process ``pid`` (0 = the caller) into the group in every hierarchy."""
        for g in self._groups:
            g.add(pid)

    def _freezer(self) -> Union[V1Group, V2Group]:
        for g in self._groups:
            if g.has_freezer():
                return g
        raise CgroupError(f"no freezer available for cgroup {self.path}")

    def freeze(self) -> None:
        try:
            self._freezer().set_frozen(True)
        except OSError as e:
            raise CgroupError(f"cannot freeze cgroup {self.path}: {e.strerror}") from None

    def thaw(self) -> None:
        try:
            self._freezer().set_frozen(False)
        except OSError as e:
            raise CgroupError(f"cannot thaw cgroup {self.path}: {e.strerror}") from None

    def pids(self) -> list[int]:
        return self._groups[0].pids() if self._groups else []

    def stats(self) -> dict[str, Optional[int]]:
        """memory_usage/memory_limit (bytes), oom_kills, pids, cpu_usage_ns; None if unknown."""
        return (self.v1 or self.v2).stats() if self._groups else {}  # type: ignore[union-attr]

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to every process in the group (frozen meanwhile, so none can fork away)."""
        if self.v2 and self.v2.manage_resources and self.v2.kill(sig):
            return
        frozen = False
        try:
            self._freezer().set_frozen(True)
            frozen = True
        except (CgroupError, OSError):
            pass
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if frozen:
                self._freezer().set_frozen(False)

    def destroy(self, timeout: float = 5.0) -> None:
        """Wait until the group is empty, then remove it from every hierarchy."""
        deadline = time.monotonic() + timeout
        while self.pids():
            if time.monotonic() > deadline:
                raise CgroupError(f"cgroup {self.path} still has processes {self.pids()}")
            time.sleep(0.002)
        try:
            for g in self._groups:
                g.destroy(max(deadline - time.monotonic(), 0.1))
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise CgroupError(f"cannot remove cgroup {self.path}: {e}") from None


def directories_of(pid: int, layout: Optional[Layout] = None) -> list[str]:
    """The cgroup directories process ``pid`` is in, one per hierarchy (paths as the caller sees
    them), for joining a running container's groups."""
    layout = layout or detect()
    mounts = {ctrls: mnt for mnt, ctrls in layout.v1}
    dirs = []
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            if hid == "0" and not ctrls:
                mnt = layout.unified
            else:
                mnt = mounts.get(frozenset(ctrls.split(",")))
            if mnt and path.startswith("/") and path != "/":
                dirs.append(os.path.join(mnt, path.lstrip("/")))
    return dirs
