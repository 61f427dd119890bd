"""OCI runtime-spec ``config.json`` with Docker's defaults, and helpers that apply run options.

The spec is a plain dict in the OCI layout, so the same bundle runs with berth's runtime or runc.
"""
from __future__ import annotations

import resource
from collections.abc import Iterable, Sequence
from typing import Any, Optional

from ..errors import InvalidArgument
from . import caps as _caps

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MASKED_PATHS = (
    "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = (
    "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
)
NAMESPACES = ("pid", "network", "ipc", "uts", "mount", "cgroup")

# (path, type, major, minor)
DEFAULT_DEVICES = (
    ("/dev/null", "c", 1, 3), ("/dev/zero", "c", 1, 5), ("/dev/full", "c", 1, 7),
    ("/dev/random", "c", 1, 8), ("/dev/urandom", "c", 1, 9), ("/dev/tty", "c", 5, 0),
)
# Docker's default device cgroup rules: deny all, then allow these (type, major, minor, access).
_ALLOWED_DEVICE_RULES = (
    ("c", None, None, "m"), ("b", None, None, "m"),
    ("c", 1, 3, "rwm"), ("c", 1, 5, "rwm"), ("c", 1, 7, "rwm"), ("c", 1, 8, "rwm"),
    ("c", 1, 9, "rwm"), ("c", 5, 0, "rwm"), ("c", 5, 1, "rwm"), ("c", 5, 2, "rwm"),
    ("c", 136, None, "rwm"), ("c", 10, 200, "rwm"),
)
NOFILE_DEFAULT = 1048576


def _mount(dest: str, fstype: str, source: str, options: Sequence[str]) -> dict[str, Any]:
    return {"destination": dest, "type": fstype, "source": source, "options": list(options)}


def default_mounts() -> list[dict[str, Any]]:
    return [
        _mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        _mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        _mount("/dev/pts", "devpts", "devpts",
               ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        _mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
        _mount("/sys/fs/cgroup", "cgroup", "cgroup", ["ro", "nosuid", "noexec", "nodev"]),
        _mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        _mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]),
    ]


def _device_rule(allow: bool, dtype: Optional[str], major: Optional[int], minor: Optional[int],
                 access: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"allow": allow, "access": access}
    if dtype is not None:
        rule["type"] = dtype
    if major is not None:
        rule["major"] = major
    if minor is not None:
        rule["minor"] = minor
    return rule


def parse_user(user: str) -> tuple[int, int]:
    """``"uid[:gid]"`` (numeric; names are resolved by the caller against the image) -> (uid, gid)."""
    uid_s, _sep, gid_s = str(user).partition(":")
    try:
        uid = int(uid_s or 0)
        gid = int(gid_s) if gid_s else 0
    except ValueError:
        raise InvalidArgument(f"user must be numeric uid[:gid], got {user!r}") from None
    if uid < 0 or gid < 0:
        raise InvalidArgument(f"user must be non-negative, got {user!r}")
    return uid, gid


def nofile_limit() -> int:
    """Docker's 1048576 open files, capped to this process's hard limit (it cannot be raised)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return NOFILE_DEFAULT if hard == resource.RLIM_INFINITY else min(NOFILE_DEFAULT, hard)


def default_spec(args: Sequence[str], env: Optional[Iterable[str]] = None, cwd: str = "/",
                 user: str = "0:0", hostname: str = "", rootfs_path: str = "rootfs",
                 terminal: bool = False, cgroups_path: Optional[str] = None) -> dict[str, Any]:
    """A runtime spec equivalent to ``docker run`` without options."""
    if not args:
        raise InvalidArgument("no command given")
    if not cwd.startswith("/"):
        raise InvalidArgument(f"working directory must be absolute, got {cwd!r}")
    uid, gid = parse_user(user)
    env_list = list(env or [])
    if not any(item.startswith("PATH=") for item in env_list):
        env_list.insert(0, DEFAULT_PATH)
    if terminal and not any(item.startswith("TERM=") for item in env_list):
        env_list.append("TERM=xterm")
    default_caps = list(_caps.DEFAULT_CAPS)
    nofile = nofile_limit()
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": terminal,
            "user": {"uid": uid, "gid": gid},
            "args": list(args),
            "env": env_list,
            "cwd": cwd,
            "capabilities": {"bounding": list(default_caps), "effective": list(default_caps),
                             "permitted": list(default_caps)},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile}],
            "noNewPrivileges": False,
        },
        "root": {"path": rootfs_path, "readonly": False},
        "hostname": hostname,
        "mounts": default_mounts(),
        "linux": {
            "namespaces": [{"type": ns} for ns in NAMESPACES],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
            "devices": [{"path": path, "type": dtype, "major": major, "minor": minor,
                         "fileMode": 0o666, "uid": 0, "gid": 0}
                        for path, dtype, major, minor in DEFAULT_DEVICES],
            "resources": {"devices": [_device_rule(False, None, None, None, "rwm")] +
                          [_device_rule(True, *rule) for rule in _ALLOWED_DEVICE_RULES]},
        },
    }
    if cgroups_path:
        spec["linux"]["cgroupsPath"] = cgroups_path
    return spec


def _set_caps(spec: dict[str, Any], names: Iterable[str]) -> None:
    ordered = list(dict.fromkeys(names))
    spec["process"]["capabilities"] = {"bounding": list(ordered), "effective": list(ordered),
                                       "permitted": list(ordered)}


def apply_caps(spec: dict[str, Any], cap_add: Iterable[str] = (), cap_drop: Iterable[str] = ()) -> None:
    """Docker's ``--cap-add``/``--cap-drop`` (``ALL`` allowed in both; drops apply first)."""
    add = [_caps.normalize(c) for c in cap_add]
    drop = [_caps.normalize(c) for c in cap_drop]
    current = list(spec["process"]["capabilities"]["bounding"])
    if "ALL" in drop:
        current = []
    else:
        current = [c for c in current if c not in drop]
    if "ALL" in add:
        current += [c for c in _caps.bounding_caps() if c not in drop]
    else:
        current += add
    _set_caps(spec, current)


def apply_privileged(spec: dict[str, Any]) -> None:
    """``--privileged``: every capability this host can grant, no masks, writable /sys and cgroups,
    all devices allowed."""
    _set_caps(spec, _caps.bounding_caps())
    linux = spec["linux"]
    linux["maskedPaths"] = []
    linux["readonlyPaths"] = []
    linux.setdefault("resources", {})["devices"] = [_device_rule(True, None, None, None, "rwm")]
    for mount in spec["mounts"]:
        if mount["destination"] in ("/sys", "/sys/fs/cgroup"):
            mount["options"] = [o for o in mount["options"] if o != "ro"]


def apply_read_only(spec: dict[str, Any], read_only: bool = True) -> None:
    spec["root"]["readonly"] = bool(read_only)


def apply_no_new_privileges(spec: dict[str, Any], on: bool = True) -> None:
    spec["process"]["noNewPrivileges"] = bool(on)


def apply_resources(spec: dict[str, Any], memory: Optional[int] = None,
                    memory_swap: Optional[int] = None, cpu_shares: Optional[int] = None,
                    cpus: Optional[float] = None, cpu_period: int = 100000,
                    cpuset_cpus: Optional[str] = None, cpuset_mems: Optional[str] = None,
                    pids_limit: Optional[int] = None) -> None:
    """Docker's ``--memory``, ``--memory-swap`` (memory+swap, -1 = unlimited), ``--cpu-shares``,
    ``--cpus`` (quota = cpus * period), ``--cpuset-cpus/-mems`` and ``--pids-limit`` (bytes/ints)."""
    res = spec["linux"].setdefault("resources", {})
    if memory is not None:
        if memory < 6 * 1024 * 1024:
            raise InvalidArgument("minimum memory limit allowed is 6MB")
        res.setdefault("memory", {})["limit"] = int(memory)
        if memory_swap is None:  # Docker's default: swap equal to memory
            memory_swap = 2 * int(memory)
    if memory_swap is not None:
        if memory is None:
            raise InvalidArgument("memory swap limit requires a memory limit")
        if memory_swap != -1 and memory_swap < memory:
            raise InvalidArgument("memory swap limit must be larger than the memory limit")
        res["memory"]["swap"] = int(memory_swap)
    cpu: dict[str, Any] = {}
    if cpu_shares is not None:
        if cpu_shares < 2:
            raise InvalidArgument("cpu shares must be at least 2")
        cpu["shares"] = int(cpu_shares)
    if cpus is not None:
        if cpus <= 0:
            raise InvalidArgument("cpus must be positive")
        cpu["quota"] = int(round(cpus * cpu_period))
        cpu["period"] = int(cpu_period)
    if cpuset_cpus:
        cpu["cpus"] = cpuset_cpus
    if cpuset_mems:
        cpu["mems"] = cpuset_mems
    if cpu:
        res.setdefault("cpu", {}).update(cpu)
    if pids_limit is not None:
        res["pids"] = {"limit": int(pids_limit) if pids_limit > 0 else -1}


def join_namespace(spec: dict[str, Any], ns_type: str, path: str) -> None:
    """Join an existing namespace (e.g. a bind-mounted netns file) instead of creating one."""
    namespaces = spec["linux"]["namespaces"]
    for ns in namespaces:
        if ns["type"] == ns_type:
            ns["path"] = path
            return
    namespaces.append({"type": ns_type, "path": path})


def add_user_namespace(spec: dict[str, Any], host_uid: int, host_gid: int, size: int = 65536) -> None:
    """Run in a new user namespace mapping container ids 0..size-1 to host_uid/host_gid onwards."""
    linux = spec["linux"]
    if not any(ns["type"] == "user" for ns in linux["namespaces"]):
        linux["namespaces"].append({"type": "user"})
    linux["uidMappings"] = [{"containerID": 0, "hostID": host_uid, "size": size}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": host_gid, "size": size}]
