"""The ``local`` driver's options (``-o type=..,device=..,o=..``) and the host mount they describe.

A volume without options is a plain directory. With options its ``_data`` directory is a mount
point: ``type=tmpfs,device=tmpfs,o=size=64m`` mounts a tmpfs, ``type=none,o=bind,device=/srv``
binds a host directory, any other type mounts ``device`` with that filesystem — as Docker's local
driver does. The mount is made on the host while at least one running container uses the volume.
"""
from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Mapping
from typing import Optional

from ..errors import BerthError, InvalidArgument

DRIVER = "local"
VALID_OPTIONS = ("type", "device", "o", "size")

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_SYNCHRONOUS, MS_DIRSYNC, MS_NOATIME, MS_NODIRATIME = 0x10, 0x80, 0x400, 0x800
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MS_RELATIME, MS_STRICTATIME = 0x200000, 0x1000000
MNT_DETACH = 0x2
_FLAGS = {  # option -> (clear, set)
    "ro": (0, MS_RDONLY), "rw": (MS_RDONLY, 0), "nosuid": (0, MS_NOSUID), "suid": (MS_NOSUID, 0),
    "nodev": (0, MS_NODEV), "dev": (MS_NODEV, 0), "noexec": (0, MS_NOEXEC), "exec": (MS_NOEXEC, 0),
    "sync": (0, MS_SYNCHRONOUS), "async": (MS_SYNCHRONOUS, 0), "dirsync": (0, MS_DIRSYNC),
    "noatime": (0, MS_NOATIME), "atime": (MS_NOATIME, 0), "nodiratime": (0, MS_NODIRATIME),
    "diratime": (MS_NODIRATIME, 0), "relatime": (0, MS_RELATIME),
    "strictatime": (0, MS_STRICTATIME),
    "bind": (0, MS_BIND), "rbind": (0, MS_BIND | MS_REC), "defaults": (0, 0),
}
_libc: Optional[ctypes.CDLL] = None


class VolumeMountError(BerthError):
    """The kernel refused to mount or unmount a volume's filesystem."""


def parse_mount_options(text: str) -> tuple[int, str]:
    """``o=`` of the local driver: ``ro,nosuid,size=64m`` -> (MS_* flags, data for the kernel)."""
    flags = 0
    data = []
    for opt in [o for o in (text or "").split(",") if o]:
        if opt in _FLAGS:
            clear, set_ = _FLAGS[opt]
            flags = (flags & ~clear) | set_
        else:
            data.append(opt)
    return flags, ",".join(data)


def validate_options(options: Mapping[str, str]) -> dict[str, str]:
    """Check ``-o`` keys and their combination; returns a clean copy."""
    for key in options:
        if key not in VALID_OPTIONS:
            raise InvalidArgument(f'invalid option key: "{key}"')
    opts = {k: str(v) for k, v in options.items()}
    if "size" in opts:
        raise InvalidArgument('quota size requested but no quota support ("size" needs an xfs '
                              "data root); use type=tmpfs,o=size=..")
    mtype, device = opts.get("type", ""), opts.get("device", "")
    flags = parse_mount_options(opts.get("o", ""))[0]
    if (mtype or "o" in opts) and not device:
        raise InvalidArgument('missing required option: "device"')
    if device and not mtype:
        raise InvalidArgument('missing required option: "type"')
    if flags & MS_BIND:
        if not device.startswith("/"):
            raise InvalidArgument(f"bind device must be an absolute path: {device!r}")
        if not os.path.isdir(device):
            raise InvalidArgument(f"bind device does not exist or is not a directory: {device}")
    elif mtype == "none":
        raise InvalidArgument('type "none" needs o=bind')
    return opts


def needs_mount(options: Mapping[str, str]) -> bool:
    return bool(options.get("type") or options.get("device"))


def _call(name: str, *args: object) -> int:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    result = getattr(_libc, name)(*args)
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def _b(text: Optional[str]) -> Optional[bytes]:
    return None if text is None else os.fsencode(text)


def mount_volume(options: Mapping[str, str], target: str) -> None:
    """Mount the filesystem ``options`` describe at ``target`` (the volume's ``_data``)."""
    flags, data = parse_mount_options(options.get("o", ""))
    mtype, device = options.get("type", ""), options.get("device", "")
    try:
        if flags & MS_BIND:
            _call("mount", _b(device), _b(target), None, MS_BIND | (flags & MS_REC), None)
            extra = flags & ~(MS_BIND | MS_REC)
            if extra:
                _call("mount", None, _b(target), None, MS_REMOUNT | MS_BIND | extra, None)
        else:
            _call("mount", _b(device), _b(target), _b(mtype), flags, _b(data or None))
        _call("mount", None, _b(target), None, MS_PRIVATE, None)
    except OSError as e:
        unmount_volume(target)
        raise VolumeMountError(f"failed to mount local volume: mount {device}:{target}, "
                               f"type {mtype or 'none'}: {e.strerror.lower()}") from None


def unmount_volume(target: str) -> None:
    """Unmount ``target`` lazily; nothing when it is not a mount point."""
    while is_mounted(target):
        try:
            _call("umount2", _b(target), MNT_DETACH)
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.ENOENT):
                return
            raise VolumeMountError(f"cannot unmount volume at {target}: {e.strerror}") from None


def is_mounted(path: str) -> bool:
    target = os.path.realpath(path)
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            point = line.split()[4].decode("unicode_escape", errors="replace")
            if point == target:
                return True
    return False
