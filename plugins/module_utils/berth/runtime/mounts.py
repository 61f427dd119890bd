"""Mount steps of the container init: spec mounts, /dev, pivot_root, masked and read-only paths.

Paths inside the root filesystem are resolved with ``secure_join`` so a hostile image cannot point
a mount or a device node outside its root through a symlink.
"""
from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from . import linux
from .cgroups import Layout

_FLAGS = {  # option -> (clear, set)
    "ro": (0, linux.MS_RDONLY), "rw": (linux.MS_RDONLY, 0),
    "nosuid": (0, linux.MS_NOSUID), "suid": (linux.MS_NOSUID, 0),
    "nodev": (0, linux.MS_NODEV), "dev": (linux.MS_NODEV, 0),
    "noexec": (0, linux.MS_NOEXEC), "exec": (linux.MS_NOEXEC, 0),
    "sync": (0, linux.MS_SYNCHRONOUS), "async": (linux.MS_SYNCHRONOUS, 0),
    "dirsync": (0, linux.MS_DIRSYNC), "remount": (0, linux.MS_REMOUNT),
    "mand": (0, linux.MS_MANDLOCK), "nomand": (linux.MS_MANDLOCK, 0),
    "atime": (linux.MS_NOATIME, 0), "noatime": (0, linux.MS_NOATIME),
    "diratime": (linux.MS_NODIRATIME, 0), "nodiratime": (0, linux.MS_NODIRATIME),
    "relatime": (0, linux.MS_RELATIME), "norelatime": (linux.MS_RELATIME, 0),
    "strictatime": (0, linux.MS_STRICTATIME), "nostrictatime": (linux.MS_STRICTATIME, 0),
    "bind": (0, linux.MS_BIND), "rbind": (0, linux.MS_BIND | linux.MS_REC),
}
_PROPAGATION = {
    "private": linux.MS_PRIVATE, "rprivate": linux.MS_PRIVATE | linux.MS_REC,
    "slave": linux.MS_SLAVE, "rslave": linux.MS_SLAVE | linux.MS_REC,
    "shared": linux.MS_SHARED, "rshared": linux.MS_SHARED | linux.MS_REC,
    "unbindable": linux.MS_UNBINDABLE, "runbindable": linux.MS_UNBINDABLE | linux.MS_REC,
}
# statvfs f_flag bits that mean the same as the MS_* flag of the same value
_KEEP_ON_REMOUNT = (linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC |
                    linux.MS_SYNCHRONOUS | linux.MS_MANDLOCK | linux.MS_NOATIME | linux.MS_NODIRATIME)


def parse_options(options: Sequence[str]) -> tuple[int, int, str]:
    """OCI mount options -> (flags, propagation flags, data string)."""
    flags = 0
    propagation = 0
    data = []
    for opt in options:
        if opt in _FLAGS:
            clear, set_ = _FLAGS[opt]
            flags = (flags & ~clear) | set_
        elif opt in _PROPAGATION:
            propagation |= _PROPAGATION[opt]
        else:
            data.append(opt)
    return flags, propagation, ",".join(data)


def secure_join(root: str, unsafe: str) -> str:
    """``root`` + ``unsafe`` with every symlink resolved as if ``root`` were ``/``."""
    parts = [p for p in unsafe.split("/") if p]
    resolved = ""
    links = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            resolved = resolved.rsplit("/", 1)[0]
            continue
        candidate = resolved + "/" + part
        try:
            target = os.readlink(root + candidate)
        except OSError:  # not a symlink, or does not exist (yet)
            resolved = candidate
            continue
        links += 1
        if links > 255:
            raise OSError(errno.ELOOP, f"too many symlinks in {unsafe}", unsafe)
        if target.startswith("/"):
            resolved = ""
        parts = [p for p in target.split("/") if p] + parts
    return root.rstrip("/") + resolved if resolved else root


def _make_target(path: str, is_dir: bool) -> None:
    if os.path.lexists(path):
        return
    if is_dir:
        os.makedirs(path, 0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))


def _remount_bind(dest: str, flags: int) -> None:
    existing = os.statvfs(dest).f_flag & _KEEP_ON_REMOUNT
    linux.mount(None, dest, None, linux.MS_REMOUNT | linux.MS_BIND | existing | flags)


def mount_one(rootfs: str, m: Mapping[str, Any], cgroup_layout: Optional[Layout],
              cgroup_dirs: Sequence[str] = ()) -> None:
    flags, propagation, data = parse_options(m.get("options") or ())
    fstype = m.get("type") or ""
    dest = secure_join(rootfs, m["destination"])
    source = m.get("source") or fstype
    if fstype == "bind" or flags & linux.MS_BIND:
        _make_target(dest, os.path.isdir(source))
        linux.mount(source, dest, None, linux.MS_BIND | (flags & linux.MS_REC))
        if flags & ~(linux.MS_BIND | linux.MS_REC):
            _remount_bind(dest, flags & ~(linux.MS_BIND | linux.MS_REC))
    elif fstype == "cgroup":
        _make_target(dest, True)
        mount_cgroups(dest, flags, cgroup_layout, cgroup_dirs)
    else:
        _make_target(dest, True)
        try:
            linux.mount(source, dest, fstype, flags, data or None)
        except OSError as e:
            if fstype != "sysfs" or e.errno != errno.EPERM:
                raise
            # sysfs of a network namespace we do not own: show the host's instead, as runc does
            linux.mount("/sys", dest, None, linux.MS_BIND | linux.MS_REC)
            _remount_bind(dest, flags)
    if propagation:
        linux.mount(None, dest, None, propagation)


def mount_cgroups(dest: str, flags: int, layout: Optional[Layout],
                  own_dirs: Sequence[str] = ()) -> None:
    """/sys/fs/cgroup: cgroup2 on v2 hosts; a tmpfs with one mount per v1 hierarchy otherwise (as
    runc does). In a cgroup namespace each hierarchy shows the container's group as its root; where
    the kernel refuses a fresh mount (v1 inside a user namespace) the group's directory is bound."""
    if layout is None or not layout.v1:
        _mount_or_bind("cgroup2", dest, "cgroup2", flags, None, layout.unified if layout else None,
                       own_dirs)
        return
    linux.mount("tmpfs", dest, "tmpfs", flags & ~linux.MS_RDONLY, "mode=755")
    for mountpoint, controllers in layout.v1:
        target = os.path.join(dest, os.path.basename(mountpoint))
        os.mkdir(target, 0o755)
        _mount_or_bind("cgroup", target, "cgroup", flags, ",".join(sorted(controllers)), mountpoint,
                       own_dirs)
    if flags & linux.MS_RDONLY:
        linux.mount(None, dest, None, linux.MS_REMOUNT | flags, "mode=755")


def _mount_or_bind(source: str, target: str, fstype: str, flags: int, data: Optional[str],
                   host_mountpoint: Optional[str], own_dirs: Sequence[str]) -> None:
    try:
        linux.mount(source, target, fstype, flags, data)
    except OSError as e:
        if e.errno != errno.EPERM or not host_mountpoint:
            raise
        own = [d for d in own_dirs if d.startswith(host_mountpoint + "/")]
        linux.mount(own[0] if own else host_mountpoint, target, None, linux.MS_BIND | linux.MS_REC)
        _remount_bind(target, flags)


def create_devices(rootfs: str, devices: Sequence[Mapping[str, Any]], bind: bool) -> None:
    """Device nodes from the spec; with ``bind`` (user namespaces) bind-mount the host's nodes."""
    for dev in devices:
        path = secure_join(rootfs, dev["path"])
        kind = stat.S_IFBLK if dev.get("type") == "b" else stat.S_IFCHR
        mode = dev.get("fileMode", 0o666) & 0o7777
        if os.path.lexists(path):
            os.unlink(path)
        os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
        if bind:
            _make_target(path, False)
            linux.mount(dev["path"], path, None, linux.MS_BIND)
            continue
        linux.mknod(path, kind | mode, dev["major"], dev["minor"])
        os.chmod(path, mode)
        os.chown(path, dev.get("uid", 0), dev.get("gid", 0))


def dev_symlinks(rootfs: str) -> None:
    links = [("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
             ("/proc/self/fd/2", "stderr")]
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "core"))
    if os.path.isdir(rootfs + "/dev/pts"):
        links.append(("pts/ptmx", "ptmx"))
    for target, name in links:
        path = rootfs + "/dev/" + name
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(target, path)


def bind_console(rootfs: str, pty_path: str) -> None:
    path = rootfs + "/dev/console"
    if os.path.lexists(path):
        os.unlink(path)
    _make_target(path, False)
    linux.mount(pty_path, path, None, linux.MS_BIND)


def pivot_root(rootfs: str) -> None:
    """Make ``rootfs`` the root and detach the old one (pivot_root(".", ".") as runc does)."""
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new_root = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new_root)
        linux.pivot_root(".", ".")
        os.fchdir(old_root)
        # keep unmount events of the old root from propagating back to the host
        linux.mount(None, ".", None, linux.MS_SLAVE | linux.MS_REC)
        linux.umount2(".", linux.MNT_DETACH)
    finally:
        os.close(old_root)
        os.close(new_root)
    os.chdir("/")


def remount_root_readonly() -> None:
    _remount_bind("/", linux.MS_RDONLY)


def mask_path(path: str) -> None:
    try:
        linux.mount("/dev/null", path, None, linux.MS_BIND)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return
        if e.errno != errno.ENOTDIR:
            raise
        linux.mount("tmpfs", path, "tmpfs", linux.MS_RDONLY)


def readonly_path(path: str) -> None:
    try:
        linux.mount(path, path, None, linux.MS_BIND | linux.MS_REC)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return
        raise
    _remount_bind(path, linux.MS_RDONLY)
