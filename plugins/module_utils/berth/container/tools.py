"""``top`` and ``stats``: what runs in a container's cgroup and what it uses."""
from __future__ import annotations

import os
import pwd
import time
from typing import Any, Optional

from .. import runtime
from ..errors import Conflict
from .records import Container
from .service import ContainerService

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _boot_time() -> float:
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


def _proc_row(pid: int, boot: float) -> Optional[list[str]]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    comm = stat[stat.find("(") + 1:stat.rfind(")")]
    fields = stat[stat.rfind(")") + 2:].split()
    ppid = fields[1]
    cpu_seconds = (int(fields[11]) + int(fields[12])) // _CLK_TCK
    started = boot + int(fields[19]) / _CLK_TCK
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    tty = "?" if fields[4] == "0" else "pts/" + str(int(fields[4]) & 0xFF)
    return [user, str(pid), ppid, "0", time.strftime("%H:%M", time.localtime(started)), tty,
            time.strftime("%H:%M:%S", time.gmtime(cpu_seconds)), cmdline or f"[{comm}]"]


TOP_TITLES = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]


def top(service: ContainerService, ref: str) -> dict[str, Any]:
    """Docker's ContainerTop shape: {"Titles": [...], "Processes": [[...], ...]} (host pids)."""
    c = service.resolve(ref)
    if c.status not in ("running", "paused"):
        raise Conflict(f"Container {c.id} is not running")
    boot = _boot_time()
    pids = sorted(runtime.Cgroup(service.paths(c.id).cgroup_path).pids())
    rows = [r for r in (_proc_row(p, boot) for p in pids) if r]
    return {"Titles": TOP_TITLES, "Processes": rows}


def stats(service: ContainerService, c: Container, interval: float = 0.2) -> dict[str, Any]:
    """One sample: memory usage/limit, pids, and CPU % over ``interval`` seconds."""
    zero = {"CPUPerc": 0.0, "MemUsage": 0, "MemLimit": 0, "MemPerc": 0.0, "PIDs": 0}
    if c.status not in ("running", "paused"):
        return zero
    group = runtime.Cgroup(service.paths(c.id).cgroup_path)
    first = group.stats()
    t0 = time.monotonic()
    time.sleep(interval)
    second = group.stats()
    elapsed = time.monotonic() - t0
    cpu = 0.0
    if first.get("cpu_usage_ns") is not None and second.get("cpu_usage_ns") is not None:
        cpu = (second["cpu_usage_ns"] - first["cpu_usage_ns"]) / (elapsed * 1e9) * 100  # type: ignore[operator]
    usage = second.get("memory_usage") or 0
    limit = second.get("memory_limit") or _host_memory()
    if limit and limit > _host_memory():
        limit = _host_memory()
    return {"CPUPerc": cpu, "MemUsage": usage, "MemLimit": limit,
            "MemPerc": (usage / limit * 100) if limit else 0.0, "PIDs": second.get("pids") or 0}


def _host_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0
