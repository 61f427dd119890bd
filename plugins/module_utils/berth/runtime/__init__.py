"""berth.runtime: run OCI bundles (containerd/runc split: the caller prepares, the runtime runs).

    spec = default_spec(["sh"], hostname="web", rootfs_path="/mnt/rootfs", cgroups_path="/berth/ID")
    mount_rootfs(lowerdirs, upper, work, "/mnt/rootfs")      # the caller owns the rootfs mount
    write config.json into the bundle directory
    started = start(bundle, 0, 1, 2)                          # caller: a child subreaper
    os.waitpid(started.pid, 0); delete(bundle); unmount_rootfs("/mnt/rootfs")

``runtime_for("runc")`` gives the same start/exec_in/delete backed by runc.
"""
from __future__ import annotations

from types import ModuleType

from ..errors import InvalidArgument
from .cgroups import Cgroup, CgroupError, Layout, detect
from .launch import (StartError, Started, container_cgroup, delete, exec_in, load_spec, start)
from .linux import is_child_subreaper, set_child_subreaper
from .rootfs import MountError, mount_rootfs, unmount_rootfs
from .spec import (add_user_namespace, apply_caps, apply_no_new_privileges, apply_privileged,
                   apply_read_only, apply_resources, default_spec, join_namespace)

__all__ = [
    "Cgroup", "CgroupError", "Layout", "MountError", "StartError", "Started", "add_user_namespace",
    "apply_caps", "apply_no_new_privileges", "apply_privileged", "apply_read_only",
    "apply_resources", "container_cgroup", "default_spec", "delete", "detect", "exec_in",
    "is_child_subreaper", "join_namespace", "load_spec", "mount_rootfs", "runtime_for",
    "set_child_subreaper", "start", "unmount_rootfs",
]


def runtime_for(name: str) -> ModuleType:
    """The runtime called ``name`` ("berth" or "runc"): a module with start/exec_in/delete."""
    if name in ("berth", "", None):
        from . import launch
        return launch
    if name == "runc":
        from . import runc
        return runc
    raise InvalidArgument(f"unknown runtime {name!r} (known: berth, runc)")
