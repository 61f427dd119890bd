"""cgroup v1 backend: one directory per mounted hierarchy (cpu, memory, pids, freezer, ...)."""
from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from . import cgroupfs as fs


class V1Group:
    def __init__(self, hierarchies: Sequence[tuple[str, frozenset]], path: str) -> None:
        self.path = path
        #: mount point of each hierarchy -> this group's directory in it
        self.dirs = {mnt: os.path.join(mnt, path) for mnt, _controllers in hierarchies}
        #: controller name -> this group's directory in the hierarchy holding it
        self.by_controller = {c: os.path.join(mnt, path) for mnt, ctrls in hierarchies for c in ctrls}

    def create(self, resources: Mapping[str, Any]) -> list[str]:
        created: list[str] = []
        for mnt in self.dirs:
            created += fs.make_dirs(mnt, self.path)
        cpuset = self.by_controller.get("cpuset")
        if cpuset:
            self._inherit_cpuset(cpuset)
        self.apply(resources)
        return created

    def _inherit_cpuset(self, leaf: str) -> None:
        # A new v1 cpuset starts with empty cpus/mems and refuses tasks until they are set.
        parent = leaf[:len(leaf) - len(self.path)].rstrip("/")
        for part in self.path.split("/"):
            child = os.path.join(parent, part)
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not fs.read(child, name):
                    fs.write(child, name, fs.read(parent, name))
            parent = child

    def apply(self, resources: Mapping[str, Any]) -> None:
        mem = resources.get("memory") or {}
        memdir = self.by_controller.get("memory")
        if memdir and mem.get("limit") is not None:
            fs.write(memdir, "memory.limit_in_bytes", str(mem["limit"]))
            swap = mem.get("swap")
            if swap is not None and os.path.exists(os.path.join(memdir, "memory.memsw.limit_in_bytes")):
                fs.write(memdir, "memory.memsw.limit_in_bytes", str(swap))
        cpu = resources.get("cpu") or {}
        cpudir = self.by_controller.get("cpu")
        if cpudir:
            if cpu.get("shares") is not None:
                fs.write(cpudir, "cpu.shares", str(cpu["shares"]))
            if cpu.get("period") is not None:
                fs.write(cpudir, "cpu.cfs_period_us", str(cpu["period"]))
            if cpu.get("quota") is not None:
                fs.write(cpudir, "cpu.cfs_quota_us", str(cpu["quota"]))
        setdir = self.by_controller.get("cpuset")
        if setdir:
            if cpu.get("cpus"):
                fs.write(setdir, "cpuset.cpus", cpu["cpus"])
            if cpu.get("mems"):
                fs.write(setdir, "cpuset.mems", cpu["mems"])
        pids = resources.get("pids") or {}
        pidsdir = self.by_controller.get("pids")
        if pidsdir and pids.get("limit") is not None:
            limit = int(pids["limit"])
            fs.write(pidsdir, "pids.max", str(limit) if limit > 0 else "max")
        devdir = self.by_controller.get("devices")
        if devdir:
            for rule in resources.get("devices") or ():
                fs.write(devdir, "devices.allow" if rule.get("allow") else "devices.deny",
                         device_rule(rule))

    def add(self, pid: int) -> None:
        for d in self.dirs.values():
            fs.write(d, "cgroup.procs", str(pid))

    def has_freezer(self) -> bool:
        return "freezer" in self.by_controller

    def set_frozen(self, frozen: bool, timeout: float = 5.0) -> None:
        d = self.by_controller["freezer"]
        want = "FROZEN" if frozen else "THAWED"
        fs.write(d, "freezer.state", want)
        deadline = time.monotonic() + timeout
        while fs.read(d, "freezer.state") != want:
            if time.monotonic() > deadline:
                raise OSError(0, f"freezer.state did not become {want}", d)
            time.sleep(0.001)
            fs.write(d, "freezer.state", want)

    def pids(self) -> list[int]:
        d = self.by_controller.get("pids") or self.by_controller.get("freezer") or \
            next(iter(self.dirs.values()), None)
        return fs.procs(d) if d else []

    def stats(self) -> dict[str, Optional[int]]:
        memdir = self.by_controller.get("memory")
        pidsdir = self.by_controller.get("pids")
        acctdir = self.by_controller.get("cpuacct")
        oom = fs.read_keyed(memdir, "memory.oom_control") if memdir else {}
        limit = fs.read_int(memdir, "memory.limit_in_bytes") if memdir else None
        return {
            "memory_usage": fs.read_int(memdir, "memory.usage_in_bytes") if memdir else None,
            "memory_limit": None if limit is None or limit >= 1 << 62 else limit,
            "oom_kills": oom.get("oom_kill"),
            "pids": fs.read_int(pidsdir, "pids.current") if pidsdir else None,
            "cpu_usage_ns": fs.read_int(acctdir, "cpuacct.usage") if acctdir else None,
        }

    def destroy(self, timeout: float) -> None:
        for d in self.dirs.values():
            fs.remove_tree(d, timeout)


def device_rule(rule: Mapping[str, Any]) -> str:
    """OCI device cgroup rule -> the v1 ``devices.allow`` syntax (``c 1:3 rwm``, ``a`` for all)."""
    dtype = rule.get("type", "a")
    major, minor = rule.get("major"), rule.get("minor")
    if dtype == "a" and major is None and minor is None:
        return "a"
    major_s = "*" if major is None or major < 0 else str(major)
    minor_s = "*" if minor is None or minor < 0 else str(minor)
    return f"{dtype} {major_s}:{minor_s} {rule.get('access', 'rwm')}"
