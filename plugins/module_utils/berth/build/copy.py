"""COPY/ADD: writing the selected sources into a rootfs (``sources`` selects and checksums them).

Sources come from a tree on the host (the build context, another stage's or image's read-only
rootfs, or a staging dir for heredocs, downloads and unpacked archives). The destination is the
step's overlay-mounted rootfs: every destination directory is resolved with symlinks followed
*inside* that rootfs (``secure_join``), so an image's symlink can never lead a write to the host.

Docker's rules: a directory source copies its *content*; several sources (or a wildcard) need a
destination ending in ``/``; a file goes *into* the destination when it ends in ``/`` or is an
existing directory; missing parents are created (root-owned, or ``--chown``'s owner). Files from
the context become root-owned, ``--from`` keeps the source ownership, ``--chown`` overrides both.
"""
from __future__ import annotations

import os
import posixpath
import shutil
import stat
from typing import List, Optional, Sequence, Tuple

from ..errors import InvalidArgument
from ..image import compression, layers
from ..runtime.mounts import secure_join
from .sources import CHUNK, Included, Source, checksum, included_children, parse_chmod

__all__ = ["CHUNK", "Included", "Source", "Writer", "checksum", "glob_rootfs", "is_archive",
           "parse_chmod", "resolve_chown", "set_tree_mtime", "unpack_archive"]


# -- ownership and modes ------------------------------------------------------------------------

def _entries(rootfs: str, name: str) -> List[List[str]]:
    try:
        with open(secure_join(rootfs, "/etc/" + name), errors="replace") as f:
            return [ln.split(":") for ln in f.read().splitlines() if ln and not ln.startswith("#")]
    except OSError:
        return []


def _lookup(rootfs: str, table: str, text: str, what: str) -> int:
    if text.isdigit():
        return int(text)
    for entry in _entries(rootfs, table):
        if len(entry) >= 3 and entry[0] == text and entry[2].isdigit():
            return int(entry[2])
    raise InvalidArgument(f"unable to convert {what} {text!r} to an ID: no such {what} in "
                          f"/etc/{table} of the image")


def resolve_chown(rootfs: str, text: str) -> Tuple[int, int]:
    """``--chown=user[:group]``: names from the image's /etc/passwd and /etc/group; without a
    group the GID is the same number as the UID (Docker's rule)."""
    user, sep, group = text.partition(":")
    if not user or (sep and not group):
        raise InvalidArgument(f"invalid --chown value {text!r}")
    uid = _lookup(rootfs, "passwd", user, "user")
    gid = _lookup(rootfs, "group", group, "group") if group else uid
    return uid, gid


# -- archives -------------------------------------------------------------------------------------

def is_archive(path: str) -> bool:
    """A local tar, plain or gzip/bzip2/xz-compressed, judged by content (not by name)."""
    try:
        with open(path, "rb") as f:
            head = compression.read_head(f, 6)
            f.seek(0)
            if compression.detect(head) == compression.ZSTD:
                return False
            try:
                block = compression.read_head(compression.open_decompressed(f), 512)
            except (OSError, EOFError, ValueError, InvalidArgument):
                return False
    except OSError:
        return False
    return len(block) == 512 and block[257:262] == b"ustar"


def unpack_archive(path: str, staging: str) -> None:
    """Unpack a (hostile) tarball with the layer applier, which never writes outside ``staging``."""
    with open(path, "rb") as f:
        layers.apply_layer(compression.open_decompressed(f), staging)


# -- writing into the rootfs ----------------------------------------------------------------------

class Writer:
    """Writes sources into ``rootfs`` (a mounted overlay) at in-image paths."""

    def __init__(self, rootfs: str, owner: Optional[Tuple[int, int]], chmod: Optional[int],
                 staging: str) -> None:
        self.rootfs = rootfs
        self.owner = owner
        self.chmod = chmod
        self.staging = staging

    def _host(self, path: str) -> str:
        """The host path of in-image ``path``; symlinks resolved inside the rootfs."""
        return secure_join(self.rootfs, path)

    def is_dir(self, path: str) -> bool:
        host = self._host(path)
        return os.path.isdir(host) and not os.path.islink(host)

    def makedirs(self, path: str) -> str:
        """``mkdir -p`` in the image; new dirs are 0755 and owned by ``--chown`` or root."""
        parts = [p for p in path.split("/") if p]
        current = "/"
        for part in parts:
            current = posixpath.join(current, part)
            host = self._host(current)
            if os.path.lexists(host):
                if not os.path.isdir(host) or os.path.islink(host):
                    raise InvalidArgument(f"cannot create directory {current}: a file is in the way")
                continue
            os.mkdir(host, 0o755)
            os.chown(host, *(self.owner or (0, 0)))
            os.chmod(host, 0o755)
        return self._host(path)

    def copy(self, sources: Sequence[Source], dest: str, dest_is_dir: bool) -> None:
        """Copy ``sources`` to ``dest`` (absolute, in the image) with Docker's rules."""
        for source in sources:
            if source.archive:
                staged = self._unpack(source)
                self._merge_dir(Source(staged, ".", preserve_owner=True), self.makedirs(dest))
            elif source.is_dir:
                self._merge_dir(source, self.makedirs(dest))
            else:
                into_dir = dest_is_dir or self.is_dir(dest)
                target = posixpath.join(dest, source.name) if into_dir else dest
                parent = self.makedirs(posixpath.dirname(target) or "/")
                self._entry(source, source.host, os.lstat(source.host), parent,
                            posixpath.basename(target), top=True)

    def _unpack(self, source: Source) -> str:
        staged = os.path.join(self.staging, "unpacked-%d" % len(os.listdir(self.staging)))
        os.mkdir(staged, 0o700)
        unpack_archive(source.host, staged)
        return staged

    def _merge_dir(self, source: Source, target_dir: str) -> None:
        """The content of directory ``source`` into the existing host dir ``target_dir``."""
        self._copy_children(source, source.host, source.rel, target_dir)

    def _copy_children(self, source: Source, host: str, rel: str, target_dir: str) -> None:
        for name, child_rel, child, st in included_children(source, host, rel):
            made = self._entry(source, child, st, target_dir, name, top=False)
            if made is not None:
                self._copy_children(source, child, child_rel, made)
                self._own(made, source, st, directory=True)

    def _entry(self, source: Source, host: str, st: os.stat_result, parent: str, name: str,
               top: bool) -> Optional[str]:
        """Create one entry ``name`` in host dir ``parent``; returns the path of a new dir."""
        target = os.path.join(parent, name)
        mode = st.st_mode
        existing = _lstat(target)
        if stat.S_ISDIR(mode):
            if existing is not None and not stat.S_ISDIR(existing.st_mode):
                os.unlink(target)
                existing = None
            if existing is None:
                os.mkdir(target, 0o700)
            return target
        if existing is not None:
            if stat.S_ISDIR(existing.st_mode):
                shutil.rmtree(target)
            else:
                os.unlink(target)
        if stat.S_ISREG(mode):
            self._copy_file(host, target)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(host), target)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            if stat.S_ISCHR(mode) and st.st_rdev == 0:
                return None  # an overlay whiteout of an unpacked layer-like archive: not content
            os.mknod(target, stat.S_IFMT(mode) | 0o600, st.st_rdev)
        elif stat.S_ISFIFO(mode):
            os.mkfifo(target, 0o600)
        else:
            return None  # sockets have no place in an image
        self._own(target, source, st, directory=False, top=top)
        return None

    def _own(self, target: str, source: Source, st: os.stat_result, directory: bool,
             top: bool = False) -> None:
        if self.owner is not None:
            uid, gid = self.owner
        elif source.preserve_owner:
            uid, gid = st.st_uid, st.st_gid
        else:
            uid, gid = 0, 0
        os.chown(target, uid, gid, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            return
        if self.chmod is not None:
            mode = self.chmod
        elif source.mode is not None and top:
            mode = source.mode
        else:
            mode = stat.S_IMODE(st.st_mode)
        os.chmod(target, mode)  # after chown, which clears setuid bits

    @staticmethod
    def _copy_file(host: str, target: str) -> None:
        src = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW |
                          os.O_CLOEXEC, 0o600)
            try:
                size = os.fstat(src).st_size
                copied = 0
                while copied < size:
                    n = os.sendfile(dst, src, copied, min(size - copied, 1 << 30))
                    if n == 0:
                        break
                    copied += n
            finally:
                os.close(dst)
        finally:
            os.close(src)


def _lstat(path: str) -> Optional[os.stat_result]:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def set_tree_mtime(root: str, mtime: int = 0) -> None:
    """Give every entry below ``root`` the same mtime: a COPY layer depends on content only."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)


def glob_rootfs(root: str, pattern: str) -> List[str]:
    """Paths below ``root`` (an image rootfs) matching a wildcard source, component by component."""
    from .context import match_path

    found = [""]
    for part in [p for p in pattern.split("/") if p and p != "."]:
        nxt = []
        for base in found:
            host = secure_join(root, base)
            if not os.path.isdir(host):
                continue
            for name in sorted(os.listdir(host)):
                if match_path(part, name):
                    nxt.append(base + "/" + name if base else name)
        found = nxt
    return found
