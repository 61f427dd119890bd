"""cgroup v2 backend: one directory in the unified hierarchy."""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Mapping
from typing import Any, Optional

from . import cgroupfs as fs

_WANTED = ("cpu", "cpuset", "memory", "pids", "io")


class V2Group:
    def __init__(self, mountpoint: str, path: str, manage_resources: bool = True) -> None:
        self.mountpoint = mountpoint
        self.path = path
        self.dir = os.path.join(mountpoint, path)
        #: False in hybrid mode, where v2 only tracks membership and v1 holds the controllers
        self.manage_resources = manage_resources

    def create(self, resources: Mapping[str, Any]) -> list[str]:
        if self.manage_resources:
            self._enable_controllers()
        created = fs.make_dirs(self.mountpoint, self.path)
        if self.manage_resources:
            self.apply(resources)
        return created

    def _enable_controllers(self) -> None:
        """Delegate the controllers we use down to the parent of our group."""
        current = self.mountpoint
        for part in self.path.split("/")[:-1] + [None]:  # type: ignore[list-item]
            try:
                available = fs.read(current, "cgroup.controllers").split()
                enabled = fs.read(current, "cgroup.subtree_control").split()
            except OSError:
                return
            missing = [c for c in _WANTED if c in available and c not in enabled]
            if missing:
                fs.write(current, "cgroup.subtree_control", " ".join("+" + c for c in missing))
            if part is None:
                break
            current = os.path.join(current, part)
            if not os.path.isdir(current):
                os.mkdir(current)

    def apply(self, resources: Mapping[str, Any]) -> None:
        d = self.dir
        mem = resources.get("memory") or {}
        if mem.get("limit") is not None:
            fs.write(d, "memory.max", str(mem["limit"]))
            swap = mem.get("swap")
            if swap is not None and os.path.exists(os.path.join(d, "memory.swap.max")):
                fs.write(d, "memory.swap.max", "max" if swap < 0 else str(max(swap - mem["limit"], 0)))
        cpu = resources.get("cpu") or {}
        if cpu.get("shares") is not None:
            fs.write(d, "cpu.weight", str(shares_to_weight(int(cpu["shares"]))))
        if cpu.get("quota") is not None:
            period = cpu.get("period") or 100000
            quota = "max" if cpu["quota"] < 0 else str(cpu["quota"])
            fs.write(d, "cpu.max", f"{quota} {period}")
        if cpu.get("cpus"):
            fs.write(d, "cpuset.cpus", cpu["cpus"])
        if cpu.get("mems"):
            fs.write(d, "cpuset.mems", cpu["mems"])
        pids = resources.get("pids") or {}
        if pids.get("limit") is not None:
            limit = int(pids["limit"])
            fs.write(d, "pids.max", str(limit) if limit > 0 else "max")
        # Device rules on v2 need an eBPF program; they are not enforced by this backend.

    def add(self, pid: int) -> None:
        fs.write(self.dir, "cgroup.procs", str(pid))

    def has_freezer(self) -> bool:
        return os.path.exists(os.path.join(self.dir, "cgroup.freeze"))

    def set_frozen(self, frozen: bool, timeout: float = 5.0) -> None:
        fs.write(self.dir, "cgroup.freeze", "1" if frozen else "0")
        want = 1 if frozen else 0
        deadline = time.monotonic() + timeout
        while fs.read_keyed(self.dir, "cgroup.events").get("frozen", want) != want:
            if time.monotonic() > deadline:
                raise OSError(0, f"cgroup.freeze did not reach {want}", self.dir)
            time.sleep(0.001)

    def pids(self) -> list[int]:
        return fs.procs(self.dir)

    def kill(self, sig: int) -> bool:
        """SIGKILL through cgroup.kill (Linux 5.14+); False when the caller must signal each pid."""
        if sig == signal.SIGKILL and os.path.exists(os.path.join(self.dir, "cgroup.kill")):
            fs.write(self.dir, "cgroup.kill", "1")
            return True
        return False

    def stats(self) -> dict[str, Optional[int]]:
        d = self.dir
        usage = fs.read_keyed(d, "cpu.stat").get("usage_usec")
        return {
            "memory_usage": fs.read_int(d, "memory.current"),
            "memory_limit": fs.read_int(d, "memory.max"),
            "oom_kills": fs.read_keyed(d, "memory.events").get("oom_kill"),
            "pids": fs.read_int(d, "pids.current"),
            "cpu_usage_ns": None if usage is None else usage * 1000,
        }

    def destroy(self, timeout: float) -> None:
        fs.remove_tree(self.dir, timeout)


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares [2, 262144] -> v2 cpu.weight [1, 10000] (the runc formula)."""
    return 1 + ((shares - 2) * 9999) // 262142
