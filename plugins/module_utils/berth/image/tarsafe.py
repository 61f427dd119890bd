"""Filesystem primitives for writing hostile archives into a directory without ever leaving it.

Nothing here resolves a path by name from ``/``: every path is walked component by component from
an open directory fd with ``O_NOFOLLOW | O_DIRECTORY``, new files are created with ``O_EXCL`` (which
never follows a symlink), and the last component is only ever touched through ``*at`` calls that do
not follow it. A symlink planted anywhere, by the archive or by a concurrent process, makes the walk
fail instead of leading outside the tree.
"""
from __future__ import annotations

import errno
import os
import stat
from typing import Optional

from ..errors import InvalidArgument, UnsafeArchive

O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
O_NEWFILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
O_NODE = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
PATH_MAX = 4096  # longer names could not be used by any program in the container anyway


def split_name(name: str, what: str = "entry") -> list[str]:
    """The components of an archive member name, normalised; ``[]`` names the root itself.

    Strips ``./``, collapses ``//`` and drops ``.`` components. Rejects NUL bytes, absolute paths
    and any ``..`` component (even one that would stay inside: no legitimate tool writes them).
    """
    if "\x00" in name:
        raise UnsafeArchive(f"layer {what} {name!r} contains a NUL byte")
    if not name:
        raise UnsafeArchive(f"layer {what} has an empty name (or is the absolute path '/')")
    if name.startswith("/"):
        raise UnsafeArchive(f"layer {what} {name!r} is an absolute path")
    if len(os.fsencode(name)) > PATH_MAX:
        raise UnsafeArchive(f"layer {what} {name[:60]!r}... is longer than {PATH_MAX} bytes")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"layer {what} {name!r} has a '..' component")
    return parts


def lstat_at(dir_fd: int, name: str) -> Optional[os.stat_result]:
    """``lstat`` of ``name`` in ``dir_fd``; None when it does not exist."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def proc_path(fd: int, name: str = "") -> str:
    """A path that reaches ``fd`` (and ``name`` in it) without resolving any name from ``/``.

    ``/proc/self/fd/N`` is a kernel link to the open file itself, so calls that only take paths
    (xattrs, chmod of special files) can still be made race-free.
    """
    return f"/proc/self/fd/{fd}/{name}" if name else f"/proc/self/fd/{fd}"


class Tree:
    """An open destination directory: every operation stays below it."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.fd = os.open(root, O_DIR)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Tree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open_dir(self, parts: list[str], entry: str, create: bool = False) -> int:
        """An fd of the directory ``parts`` (relative to the root); the caller closes it.

        Missing components are created (mode 0755, like Docker's implicit parents) when ``create``
        is set. A component that is a symlink, or not a directory, raises UnsafeArchive.
        """
        fd = os.dup(self.fd)
        try:
            for i, part in enumerate(parts):
                try:
                    nxt = os.open(part, O_DIR, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(part, 0o700, dir_fd=fd)
                    nxt = os.open(part, O_DIR, dir_fd=fd)
                    os.fchmod(nxt, 0o755)
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    where = "/".join(parts[:i + 1])
                    st = lstat_at(fd, part)
                    if st is not None and stat.S_ISLNK(st.st_mode):
                        raise UnsafeArchive(f"layer entry {entry!r} passes through the symlink "
                                            f"{where!r}") from None
                    raise UnsafeArchive(f"layer entry {entry!r}: {where!r} is not a directory") from None
                os.close(fd)
                fd = nxt
            return fd
        except BaseException:
            os.close(fd)
            raise

    def open_parent(self, parts: list[str], entry: str, create: bool = True) -> int:
        """An fd of the directory that holds the last component of ``parts``."""
        return self.open_dir(parts[:-1], entry, create=create)

    def try_open_dir(self, parts: list[str]) -> Optional[int]:
        """Like ``open_dir`` without creating, but None when the path is no longer a directory."""
        try:
            return self.open_dir(parts, "/".join(parts) or ".")
        except (UnsafeArchive, FileNotFoundError, NotADirectoryError):
            return None


def remove_at(dir_fd: int, name: str) -> None:
    """Remove ``name`` from ``dir_fd``: a whole tree for a directory, never following a symlink."""
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    fd = os.open(name, O_DIR, dir_fd=dir_fd)
    try:
        for child in os.listdir(fd):
            remove_at(fd, child)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def set_node_mode(dir_fd: int, name: str, mode: int, kind: int, entry: str) -> None:
    """chmod a fifo or device node without following a symlink swapped in for it.

    Linux has no lchmod, so the node is opened with O_PATH (which neither follows a symlink nor opens
    the device), checked to be of the expected type, and changed through its /proc fd link.
    """
    fd = os.open(name, O_NODE, dir_fd=dir_fd)
    try:
        if stat.S_IFMT(os.fstat(fd).st_mode) != kind:
            raise UnsafeArchive(f"layer entry {entry!r} changed type while it was written")
        os.chmod(proc_path(fd), mode)
    finally:
        os.close(fd)


# Errors a filesystem gives for xattrs it cannot store (no xattr support, user.* on a symlink or a
# device node): Docker skips those too instead of failing the pull.
_XATTR_UNSUPPORTED = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM)


def set_xattrs(target: object, xattrs: list[tuple[str, bytes]], entry: str,
               follow: bool = True) -> None:
    """Set ``xattrs`` on an fd, or on a /proc path with ``follow=False`` (never follows the last)."""
    for name, value in xattrs:
        try:
            os.setxattr(target, name, value, follow_symlinks=follow)  # type: ignore[arg-type]
        except OSError as exc:
            if exc.errno in _XATTR_UNSUPPORTED:
                continue
            raise InvalidArgument(f"layer entry {entry!r}: cannot set xattr {name}: "
                                  f"{exc.strerror}") from None
