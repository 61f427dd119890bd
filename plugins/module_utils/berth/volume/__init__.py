"""berth.volume: named and anonymous volumes (``local`` driver), container mount points, copy-up.

    vols = VolumeStore()
    v = vols.create("data", labels={"app": "web"})             # <root>/volumes/data/_data
    vols.create("scratch", options={"type": "tmpfs", "device": "tmpfs", "o": "size=64m"})
    vols.add_user("data", "container:<id>"); vols.remove("data")  # -> Conflict: in use
    path = vols.mount("scratch", "container:<id>")  # host mount while a container runs
    copy_up(rootfs, "/data", v.mountpoint)          # seed an empty volume with image content

``parse_volume`` (``-v``), ``parse_mount`` (``--mount``) and ``parse_tmpfs`` (``--tmpfs``) turn
Docker's flags into MountPoints; the container service resolves and mounts them.

The names below are imported on first use (PEP 562): a container without volumes needs only the
mount point parsers, not the store (sqlite schema, datetime) or the mount syscalls (ctypes). The
imports stay static ``from .x import y`` lines: Ansible's module packer finds the files to ship
by reading them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import lazy

if TYPE_CHECKING:  # at run time these come from __getattr__, on first use
    from .copyup import CopyUpError, copy_up
    from .local import VolumeMountError
    from .mountpoints import (MountPoint, mount_point, parse_mount, parse_tmpfs, parse_volume,
                              tmpfs_point)
    from .store import (ANONYMOUS_LABEL, LIST_FILTERS, PRUNE_FILTERS, Volume, VolumeStore,
                        check_name, parse_filters)

__all__ = [
    "ANONYMOUS_LABEL", "CopyUpError", "LIST_FILTERS", "MountPoint", "PRUNE_FILTERS", "Volume",
    "VolumeMountError", "VolumeStore", "check_name", "copy_up", "mount_point", "parse_filters",
    "parse_mount", "parse_tmpfs", "parse_volume", "tmpfs_point",
]
_COPYUP_NAMES = frozenset({"CopyUpError", "copy_up"})
_MOUNTPOINT_NAMES = frozenset({"MountPoint", "mount_point", "parse_mount", "parse_tmpfs",
                               "parse_volume", "tmpfs_point"})
_STORE_NAMES = frozenset({"ANONYMOUS_LABEL", "LIST_FILTERS", "PRUNE_FILTERS", "Volume",
                          "VolumeStore", "check_name", "parse_filters"})


def __getattr__(name: str) -> Any:
    """A public name of the package, imported on first use and then kept in the package."""
    if name in _COPYUP_NAMES:
        from . import copyup as module
    elif name in _MOUNTPOINT_NAMES:
        from . import mountpoints as module
    elif name in _STORE_NAMES:
        from . import store as module
    elif name == "VolumeMountError":
        from . import local as module
    else:
        raise lazy.no_such_name(__name__, name)
    return lazy.keep(globals(), module, name)
