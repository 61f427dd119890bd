"""Copy-up: seed an empty volume with what the image has at the mount's destination.

Everything goes through directory file descriptors with ``O_NOFOLLOW``: the destination is resolved
inside the root filesystem as if it were ``/`` (a symlink in a hostile image cannot point outside
it), no symlink is ever followed while copying, and entries are created with ``O_EXCL``. Owners,
modes (setuid included), timestamps, xattrs, symlinks, hard links, device nodes and FIFOs are kept.
"""
from __future__ import annotations

import errno
import os
import stat
from typing import Optional

from ..errors import BerthError

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PATH = getattr(os, "O_PATH", 0o10000000)
_MAX_LINKS = 40
_SKIP_XATTR = ("trusted.overlay.",)  # overlayfs's own bookkeeping, never user data


class CopyUpError(BerthError):
    """The image content could not be copied into a volume."""


def open_in_root(root_fd: int, path: str) -> Optional[int]:
    """An O_PATH-or-dir fd of ``path`` resolved inside ``root_fd`` (symlinks and ``..`` cannot
    leave it, as RESOLVE_IN_ROOT); None when a component does not exist."""
    parts = [p for p in path.split("/") if p]
    stack = [os.dup(root_fd)]
    links = 0
    try:
        while parts:
            part = parts.pop(0)
            if part == ".":
                continue
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            try:
                fd = os.open(part, _PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            except FileNotFoundError:
                return None
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(part, dir_fd=stack[-1])
                os.close(fd)
                links += 1
                if links > _MAX_LINKS:
                    raise CopyUpError(f"too many levels of symbolic links in {path}")
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts = [p for p in target.split("/") if p] + parts
                continue
            if parts and not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                return None
            stack.append(fd)
        result = stack.pop()
        return result
    finally:
        for fd in stack:
            os.close(fd)


def _copy_xattrs(src: int, dst: int) -> None:
    try:
        names = os.listxattr(src)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return
        raise
    for name in names:
        if name.startswith(_SKIP_XATTR):
            continue
        try:
            os.setxattr(dst, name, os.getxattr(src, name))
        except OSError as e:
            if e.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
                raise


def _apply_meta(src: int, dst: int, st: os.stat_result) -> None:
    os.fchown(dst, st.st_uid, st.st_gid)
    os.fchmod(dst, stat.S_IMODE(st.st_mode))  # after chown, which clears setuid/setgid
    _copy_xattrs(src, dst)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def _copy_file(name: str, sdir: int, ddir: int, st: os.stat_result) -> None:
    sfd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=sdir)
    try:
        dfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o600, dir_fd=ddir)
        try:
            remaining = os.fstat(sfd).st_size
            while remaining > 0:
                sent = os.sendfile(dfd, sfd, None, min(remaining, 1 << 30))
                if sent == 0:
                    break
                remaining -= sent
            _apply_meta(sfd, dfd, st)
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)


def _copy_entry(name: str, sdir: int, ddir: int, st: os.stat_result) -> None:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        _copy_file(name, sdir, ddir, st)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(name, dir_fd=sdir), name, dir_fd=ddir)
        os.chown(name, st.st_uid, st.st_gid, dir_fd=ddir, follow_symlinks=False)
        os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=ddir, follow_symlinks=False)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
        os.mknod(name, mode, st.st_rdev, dir_fd=ddir)
        fd = os.open(name, _PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=ddir)
        try:
            os.chown(f"/proc/self/fd/{fd}", st.st_uid, st.st_gid)
            os.chmod(f"/proc/self/fd/{fd}", stat.S_IMODE(mode))
            os.utime(f"/proc/self/fd/{fd}", ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(fd)
    # sockets are not copied (tar and Docker skip them too)


def _copy_tree(src_root: int, dst_root: int) -> None:
    """Copy the contents of ``src_root`` into the empty ``dst_root`` (iterative, post-order
    metadata so directory times survive the copy of their children)."""
    links: dict[tuple[int, int], str] = {}
    # frame: (src fd, dst fd, relative path, names left, stat of the dir)
    stack = [(src_root, dst_root, "", sorted(os.listdir(src_root)), None)]
    try:
        _walk(stack, links, dst_root)
    finally:
        for frame in stack:
            if frame[4] is not None:  # not the caller's root fds
                os.close(frame[0])
                os.close(frame[1])


def _walk(stack: list, links: dict, dst_root: int) -> None:
    while stack:
        sdir, ddir, rel, names, dst_st = stack[-1]
        if not names:
            stack.pop()
            if dst_st is not None:
                try:
                    _apply_meta(sdir, ddir, dst_st)
                finally:
                    os.close(sdir)
                    os.close(ddir)
            continue
        name = names.pop(0)
        st = os.stat(name, dir_fd=sdir, follow_symlinks=False)
        child = f"{rel}/{name}" if rel else name
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(name, 0o700, dir_fd=ddir)
            s = os.open(name, _DIR, dir_fd=sdir)
            try:
                d = os.open(name, _DIR, dir_fd=ddir)
            except BaseException:
                os.close(s)
                raise
            frame_names: list[str] = []
            stack.append((s, d, child, frame_names, st))
            frame_names += sorted(os.listdir(s))
            continue
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            _link(dst_root, links[key], name, ddir)
            continue
        _copy_entry(name, sdir, ddir, st)
        if st.st_nlink > 1:
            links[key] = child


def _link(dst_root: int, first: str, name: str, ddir: int) -> None:
    """Hard-link ``name`` in ``ddir`` to the copy made first at ``first`` (relative to the
    volume), walking to it without following any symlink a running user of the volume could
    have swapped in."""
    parent, base = first.rsplit("/", 1) if "/" in first else ("", first)
    fd = os.dup(dst_root)
    try:
        for part in [p for p in parent.split("/") if p]:
            nxt = os.open(part, _DIR, dir_fd=fd)
            os.close(fd)
            fd = nxt
        os.link(base, name, src_dir_fd=fd, dst_dir_fd=ddir, follow_symlinks=False)
    finally:
        os.close(fd)


def copy_up(rootfs: str, destination: str, volume_dir: str) -> bool:
    """Seed ``volume_dir`` with ``rootfs``'s content at ``destination`` if the volume is empty and
    the image has a directory there. True when something was copied."""
    root_fd = os.open(rootfs, _DIR)
    src = dst = -1
    try:
        found = open_in_root(root_fd, destination)
        if found is None:
            return False
        try:
            # the O_PATH fd is known not to be a symlink: reopening it through /proc is safe
            src = os.open(f"/proc/self/fd/{found}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            if e.errno == errno.ENOTDIR:
                return False  # a file in the image: nothing to seed a directory with
            raise
        finally:
            os.close(found)
        dst = os.open(volume_dir, _DIR)
        if os.listdir(dst):
            return False
        try:
            _copy_tree(src, dst)
            _apply_meta(src, dst, os.fstat(src))
        except OSError as e:
            raise CopyUpError(f"cannot copy the image content at {destination} into the volume: "
                              f"{e.strerror}") from None
        return True
    finally:
        for fd in (src, dst, root_fd):
            if fd >= 0:
                os.close(fd)
