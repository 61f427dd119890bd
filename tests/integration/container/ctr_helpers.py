"""What a container leaves on the host, counted from the kernel's point of view."""
from __future__ import annotations

import os

from testlib import mounts_under

__all__ = ["alive", "cgroup_dirs", "files_under", "mounts_under", "processes_mentioning",
           "shim_pids"]
CGROUP_ROOT = "/sys/fs/cgroup"


def cgroup_dirs() -> list[str]:
    """Every container cgroup (``.../berth/<id>``) in every hierarchy."""
    out = []
    for hierarchy in os.listdir(CGROUP_ROOT):
        parent = os.path.join(CGROUP_ROOT, hierarchy, "berth")
        if os.path.isdir(parent):
            out += [os.path.join(parent, d) for d in os.listdir(parent)
                    if os.path.isdir(os.path.join(parent, d))]
    return out


def alive(pid: int) -> bool:
    """A live process (a zombie has exited: only its parent, here often PID 1, must reap it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text``."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if text.encode() in cmdline and alive(int(name)):
            pids.append(int(name))
    return pids


def shim_pids(run_dir: str) -> list[int]:
    """Shims serving containers of this test (their command line names the test's run dir)."""
    return [pid for pid in processes_mentioning(run_dir) if pid != os.getpid()]


def files_under(path: str) -> int:
    return sum(len(files) + len(dirs) for _top, dirs, files in os.walk(path))
