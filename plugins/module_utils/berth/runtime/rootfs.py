"""Mount and unmount a container's overlay root filesystem (done by the caller before ``start``)."""
from __future__ import annotations

import errno
import os
import shutil
import threading
from collections.abc import Sequence

from ..errors import BerthError, InvalidArgument
from . import linux

# mount(2) copies at most one page of options; the kernel truncates (and fails) beyond it.
_MAX_OPTIONS = 4095
_chdir_lock = threading.Lock()


class MountError(BerthError):
    """The kernel refused to mount or unmount a container root filesystem."""


def _check_dir(path: str, what: str) -> None:
    if "," in path or ":" in path:
        raise InvalidArgument(f"{what} path must not contain ',' or ':': {path}")
    if not os.path.isdir(path):
        raise InvalidArgument(f"{what} is not a directory: {path}")


def _options(lowerdirs: Sequence[str], upperdir: str, workdir: str, readonly: bool,
             volatile: bool) -> str:
    opts = "lowerdir=" + ":".join(lowerdirs)
    if not readonly:
        opts += f",upperdir={upperdir},workdir={workdir}"
        if volatile:
            opts += ",volatile"
    return opts


def mount_rootfs(lowerdirs: Sequence[str], upperdir: str, workdir: str, target: str,
                 readonly: bool = False, volatile: bool = False) -> None:
    """Mount an overlay of ``lowerdirs`` (topmost first) with ``upperdir``/``workdir`` at ``target``.

    ``readonly`` mounts the lower layers alone (no upper layer, the mount is read-only).
    ``volatile`` is for an upper layer that is thrown away (``run --rm``, build steps): overlayfs
    then never syncs it, so the unmount does not wait for a sync of the whole host filesystem
    (5-200 ms, more on a busy host). Kernels before 5.10 lack the option; the mount then goes
    without it.
    When the absolute lowerdir list does not fit in one page, the layers are given relative to their
    common parent directory, with that directory as the working directory during the mount.
    """
    if not lowerdirs:
        raise InvalidArgument("an overlay root filesystem needs at least one lower directory")
    lowers = [os.path.abspath(d) for d in lowerdirs]
    for d in lowers:
        _check_dir(d, "lowerdir")
    if not readonly:
        _check_dir(upperdir, "upperdir")
        _check_dir(workdir, "workdir")
        upperdir, workdir = os.path.abspath(upperdir), os.path.abspath(workdir)
    _check_dir(target, "mount target")
    if readonly and len(lowers) == 1:
        # overlayfs without an upper layer needs two distinct lower layers: bind the one read-only.
        try:
            linux.mount(lowers[0], target, None, linux.MS_BIND, None)
            linux.mount(None, target, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY, None)
        except OSError as e:
            unmount_rootfs(target)
            raise MountError(f"cannot mount the root filesystem at {target}: {e.strerror}") from None
        return
    volatile = volatile and not readonly
    if volatile:
        # a volatile mount leaves work/incompat/volatile behind, and overlayfs refuses to mount
        # that upper/work pair again (for a restart) while it is there
        shutil.rmtree(os.path.join(workdir, "work", "incompat"), ignore_errors=True)
    try:
        _mount_overlay(lowers, upperdir, workdir, target, readonly, volatile)
    except OSError as e:
        if not (volatile and e.errno == errno.EINVAL):
            raise MountError(f"cannot mount the root filesystem at {target}: {e.strerror}") from None
        try:
            _mount_overlay(lowers, upperdir, workdir, target, readonly, False)
        except OSError as e2:
            raise MountError(f"cannot mount the root filesystem at {target}: "
                             f"{e2.strerror}") from None


def _mount_overlay(lowers: Sequence[str], upperdir: str, workdir: str, target: str,
                   readonly: bool, volatile: bool) -> None:
    flags = linux.MS_RDONLY if readonly else 0
    opts = _options(lowers, upperdir, workdir, readonly, volatile)
    if len(opts) <= _MAX_OPTIONS:
        linux.mount("overlay", target, "overlay", flags, opts)
        return
    base = os.path.commonpath(lowers)
    rel = [os.path.relpath(d, base) for d in lowers]
    opts = _options(rel, upperdir, workdir, readonly, volatile)
    if len(opts) > _MAX_OPTIONS:
        raise InvalidArgument(f"too many image layers to mount ({len(lowers)})")
    with _chdir_lock:
        saved = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.chdir(base)
            linux.mount("overlay", target, "overlay", flags, opts)
        finally:
            os.fchdir(saved)
            os.close(saved)


def unmount_rootfs(target: str) -> None:
    """Unmount ``target``; lazily if it is busy; no error when it is not mounted."""
    try:
        linux.umount2(target, 0)
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.ENOENT):
            return
        if e.errno != errno.EBUSY:
            raise MountError(f"cannot unmount {target}: {e.strerror}") from None
        try:
            linux.umount2(target, linux.MNT_DETACH)
        except OSError as e2:
            raise MountError(f"cannot unmount {target}: {e2.strerror}") from None
