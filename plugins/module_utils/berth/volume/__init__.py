"""berth.volume: named and anonymous volumes (``local`` driver), container mount points, copy-up.

    vols = VolumeStore()
    v = vols.create("data", labels={"app": "web"})             # <root>/volumes/data/_data
    vols.create("scratch", options={"type": "tmpfs", "device": "tmpfs", "o": "size=64m"})
    vols.add_user("data", "container:<id>"); vols.remove("data")  # -> Conflict: in use
    path = vols.mount("scratch", "container:<id>")  # host mount while a container runs
    copy_up(rootfs, "/data", v.mountpoint)          # seed an empty volume with image content

``parse_volume`` (``-v``), ``parse_mount`` (``--mount``) and ``parse_tmpfs`` (``--tmpfs``) turn
Docker's flags into MountPoints; the container service resolves and mounts them.
"""
from __future__ import annotations

from .copyup import CopyUpError, copy_up
from .local import VolumeMountError
from .mountpoints import (MountPoint, mount_point, parse_mount, parse_tmpfs, parse_volume,
                          tmpfs_point)
from .store import (ANONYMOUS_LABEL, LIST_FILTERS, PRUNE_FILTERS, Volume, VolumeStore, check_name,
                    parse_filters)

__all__ = [
    "ANONYMOUS_LABEL", "CopyUpError", "LIST_FILTERS", "MountPoint", "PRUNE_FILTERS", "Volume",
    "VolumeMountError", "VolumeStore", "check_name", "copy_up", "mount_point", "parse_filters",
    "parse_mount", "parse_tmpfs", "parse_volume", "tmpfs_point",
]
