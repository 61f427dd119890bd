"""Layer tars <-> overlayfs directories.

``apply_layer`` unpacks one uncompressed layer tar into an empty directory that then serves as an
overlayfs lowerdir holding only that layer's changes (Docker's overlay2 "diff" dirs): OCI whiteouts
become what overlayfs understands, a char device 0/0 for ``.wh.<name>`` and the xattr
``trusted.overlay.opaque=y`` for ``.wh..wh..opq``. The tar is hostile: see ``tarsafe`` for how
nothing outside the destination is ever written.

``write_diff`` is the reverse, for a container's upper dir; ``write_tree`` tars a plain directory.
Both give the same bytes for the same tree (sorted, PAX, numeric owners, whole-second mtimes).
"""
from __future__ import annotations

import base64
import errno
import io
import os
import stat
import tarfile
from typing import BinaryIO, Optional, Sequence
from urllib.parse import unquote

from ..errors import BerthError, InvalidArgument, UnsafeArchive
from . import compression, tarsafe
from .tarsafe import Tree, lstat_at, proc_path, remove_at, set_node_mode, set_xattrs, split_name

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
# xattrs overlayfs interprets: a layer that could set them could forge whiteouts or redirects.
_OVERLAY_XATTRS = ("trusted.overlay.", "user.overlay.")
# Upper-dir features whose meaning lives outside the upper dir: such a tree is not a layer.
_UNEXPORTABLE = ("trusted.overlay.redirect", "trusted.overlay.metacopy")
_SCHILY = "SCHILY.xattr."
_LIBARCHIVE = "LIBARCHIVE.xattr."
CHUNK = 1 << 20
# Errors of the machine, not of the archive: let them surface as what they are.
_SYSTEM_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EMFILE, errno.ENFILE,
                  errno.ENOMEM)


# ---------------------------------------------------------------------------------------------
# apply


def apply_layer(stream: BinaryIO, dest: str) -> int:
    """Unpack the uncompressed layer tar ``stream`` into the empty directory ``dest``.

    Reads strictly forwards and stops after the tar's end-of-archive marker. ``dest`` gets mode
    0755 (like Docker's diff dirs) unless the tar has a root entry ``./``, whose metadata it then
    takes. Returns the number of bytes of file content written. Raises UnsafeArchive for entries
    that try to leave ``dest`` or forge overlayfs metadata, InvalidArgument for a malformed tar.
    Needs root (ownership, device nodes, trusted.* xattrs).
    """
    with Tree(dest) as tree:
        if os.listdir(tree.fd):
            raise InvalidArgument(f"layer destination {dest} is not empty")
        os.fchmod(tree.fd, 0o755)
        head = compression.read_head(stream, 1)
        if not head:
            return 0  # a zero-byte stream is an empty layer, as for Docker
        applier = _Applier(tree)
        try:
            # Big reads: tarfile's stream mode otherwise pulls 10 KiB at a time through every layer.
            tar = tarfile.open(fileobj=_Resumed(head, stream), mode="r|", bufsize=CHUNK,  # type: ignore[arg-type]
                               errors="surrogateescape")
            while True:
                member = tar.next()
                if member is None:
                    break
                tar.members.clear()  # stream mode needs no index; keep memory flat
                applier.apply(tar, member)
        except BerthError:
            raise
        except (tarfile.TarError, EOFError, UnicodeError) as exc:
            raise InvalidArgument(f"invalid layer tar: {exc or type(exc).__name__}") from None
        except RecursionError:
            raise InvalidArgument("invalid layer tar: directory tree too deep") from None
        applier.finish()
        return applier.written


class _Resumed:
    """``head`` (already read to see whether the stream is empty), then the rest of ``stream``,
    read straight through: tarfile accepts short reads, so no buffering layer is needed."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head, self._stream = head, stream

    def read(self, n: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._stream.read(n)


class _Applier:
    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.written = 0
        self._buffer = bytearray(CHUNK)  # file content passes through this one buffer
        self.dir_times: list[tuple[list[str], int]] = []  # set last: entries change them

    def apply(self, tar: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        entry = m.name
        parts = split_name(entry)
        try:
            if not parts:
                self._root(m, entry)
            elif any(p.startswith(WHITEOUT_PREFIX) for p in parts[:-1]):
                raise UnsafeArchive(f"layer entry {entry!r} is inside a whiteout")
            elif parts[-1].startswith(WHITEOUT_PREFIX):
                self._whiteout(m, parts, entry)
            else:
                self._member(tar, m, parts, entry)
        except BerthError:
            raise
        except OSError as exc:
            if exc.errno in _SYSTEM_ERRNOS:
                raise
            raise InvalidArgument(f"layer entry {entry!r}: {exc.strerror or exc}") from None
        except (OverflowError, ValueError) as exc:
            raise InvalidArgument(f"layer entry {entry!r}: {exc}") from None

    def finish(self) -> None:
        for parts, mtime_ns in self.dir_times:
            fd = self.tree.try_open_dir(parts)
            if fd is None:  # replaced by a non-directory later in the tar
                continue
            try:
                os.utime(fd, ns=(mtime_ns, mtime_ns))
            finally:
                os.close(fd)

    # -- entry kinds ------------------------------------------------------------------------

    def _root(self, m: tarfile.TarInfo, entry: str) -> None:
        if not m.isdir():
            raise UnsafeArchive(f"layer entry {entry!r} names the root but is not a directory")
        self._own_fd(self.tree.fd, m, _xattrs(m, entry), entry)
        self.dir_times.append(([], _mtime_ns(m)))

    def _whiteout(self, m: tarfile.TarInfo, parts: list[str], entry: str) -> None:
        base = parts[-1]
        if base != OPAQUE_MARKER and base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            raise UnsafeArchive(f"layer entry {entry!r} is an unknown whiteout kind")
        name = base[len(WHITEOUT_PREFIX):]
        if base != OPAQUE_MARKER and name in ("", ".", ".."):
            raise UnsafeArchive(f"layer entry {entry!r} whites out its own directory")
        _xattrs(m, entry)  # not applied, but a forged overlay xattr is refused everywhere
        pfd = self.tree.open_parent(parts, entry)
        try:
            if base == OPAQUE_MARKER:
                os.setxattr(pfd, OPAQUE_XATTR, b"y")
                return
            st = lstat_at(pfd, name)
            if st is not None:
                # OCI: a whiteout hides lower layers only. What this layer wrote stays; a
                # directory of this layer must still hide the lower one's content.
                if stat.S_ISDIR(st.st_mode):
                    _set_opaque(pfd, name)
                return
            os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)
            os.chown(name, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
            mtime = _mtime_ns(m)
            os.utime(name, ns=(mtime, mtime), dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(pfd)

    def _member(self, tar: tarfile.TarFile, m: tarfile.TarInfo, parts: list[str],
                entry: str) -> None:
        xattrs = _xattrs(m, entry)
        if m.islnk():
            self._hardlink(m, parts, entry)
            return
        if not (m.isdir() or m.isreg() or m.issym() or m.ischr() or m.isblk() or m.isfifo()):
            raise InvalidArgument(f"layer entry {entry!r} has unsupported type {m.type!r}")
        pfd = self.tree.open_parent(parts, entry)
        try:
            name = parts[-1]
            st = lstat_at(pfd, name)
            replaces_whiteout = st is not None and _is_whiteout(st)
            if st is not None and not (m.isdir() and stat.S_ISDIR(st.st_mode)):
                remove_at(pfd, name)  # a later entry of the same path replaces the earlier one
            if m.isdir():
                self._directory(pfd, name, m, xattrs, parts, entry, merge=st is not None
                                and stat.S_ISDIR(st.st_mode), opaque=replaces_whiteout)
            elif m.isreg():
                self._regular(tar, pfd, name, m, xattrs, entry)
            elif m.issym():
                if "\x00" in m.linkname:
                    raise UnsafeArchive(f"layer entry {entry!r} has a NUL byte in its link target")
                os.symlink(m.linkname, name, dir_fd=pfd)
                self._own_at(pfd, name, m, xattrs, entry)
            else:
                kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
                dev = os.makedev(m.devmajor, m.devminor) if kind != stat.S_IFIFO else 0
                os.mknod(name, kind | 0o600, dev, dir_fd=pfd)
                self._own_at(pfd, name, m, xattrs, entry, kind=kind)
        finally:
            os.close(pfd)

    def _directory(self, pfd: int, name: str, m: tarfile.TarInfo, xattrs: list[tuple[str, bytes]],
                   parts: list[str], entry: str, merge: bool, opaque: bool) -> None:
        if not merge:
            os.mkdir(name, 0o700, dir_fd=pfd)
        try:
            fd = os.open(name, tarsafe.O_DIR, dir_fd=pfd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafeArchive(f"layer entry {entry!r} was replaced while it was written") from None
            raise
        try:
            self._own_fd(fd, m, xattrs, entry)
            if opaque:  # the whiteout deleted the lower dir; this layer's dir starts empty
                os.setxattr(fd, OPAQUE_XATTR, b"y")
        finally:
            os.close(fd)
        self.dir_times.append((parts, _mtime_ns(m)))

    def _regular(self, tar: tarfile.TarFile, pfd: int, name: str, m: tarfile.TarInfo,
                 xattrs: list[tuple[str, bytes]], entry: str) -> None:
        fd = os.open(name, tarsafe.O_NEWFILE, 0o600, dir_fd=pfd)
        try:
            source = tar.extractfile(m)
            if source is not None:
                buffer = memoryview(self._buffer)
                while True:
                    got = source.readinto(buffer)
                    if not got:
                        break
                    done = 0
                    while done < got:
                        done += os.write(fd, buffer[done:got])
                    self.written += got
            # Ownership, then mode (chown clears setuid), then xattrs (chown and writes clear
            # security.capability), then times.
            self._own_fd(fd, m, xattrs, entry)
            mtime = _mtime_ns(m)
            os.utime(fd, ns=(mtime, mtime))
        finally:
            os.close(fd)

    def _hardlink(self, m: tarfile.TarInfo, parts: list[str], entry: str) -> None:
        target = split_name(m.linkname, what=f"entry {entry!r} hard link target")
        if not target:
            raise UnsafeArchive(f"layer entry {entry!r} is a hard link to the root")
        if target == parts:
            raise UnsafeArchive(f"layer entry {entry!r} is a hard link to itself")
        try:
            tfd = self.tree.open_parent(target, entry, create=False)
        except FileNotFoundError:
            raise UnsafeArchive(f"layer entry {entry!r} links to missing {m.linkname!r}") from None
        try:
            st = lstat_at(tfd, target[-1])
            if st is None:
                raise UnsafeArchive(f"layer entry {entry!r} links to missing {m.linkname!r}")
            if not stat.S_ISREG(st.st_mode):
                raise UnsafeArchive(f"layer entry {entry!r} links to {m.linkname!r}, which is not a "
                                    "regular file")
            pfd = self.tree.open_parent(parts, entry)
            try:
                if lstat_at(pfd, parts[-1]) is not None:
                    remove_at(pfd, parts[-1])
                # linkat without AT_SYMLINK_FOLLOW: links the checked inode's name, never a target
                os.link(target[-1], parts[-1], src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
            finally:
                os.close(pfd)
        finally:
            os.close(tfd)

    # -- metadata -----------------------------------------------------------------------------

    @staticmethod
    def _own_fd(fd: int, m: tarfile.TarInfo, xattrs: list[tuple[str, bytes]], entry: str) -> None:
        os.fchown(fd, m.uid, m.gid)
        os.fchmod(fd, m.mode & 0o7777)
        set_xattrs(fd, xattrs, entry)

    @staticmethod
    def _own_at(pfd: int, name: str, m: tarfile.TarInfo, xattrs: list[tuple[str, bytes]],
                entry: str, kind: Optional[int] = None) -> None:
        """Metadata of a symlink (``kind`` None) or a device/fifo, by name in ``pfd``."""
        os.chown(name, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        if kind is not None:
            set_node_mode(pfd, name, m.mode & 0o7777, kind, entry)
        set_xattrs(proc_path(pfd, name), xattrs, entry, follow=False)
        mtime = _mtime_ns(m)
        os.utime(name, ns=(mtime, mtime), dir_fd=pfd, follow_symlinks=False)


def _xattrs(m: tarfile.TarInfo, entry: str) -> list[tuple[str, bytes]]:
    """The entry's xattrs from PAX records (``SCHILY.xattr.*``, or libarchive's form)."""
    found: dict[str, bytes] = {}
    for key, value in m.pax_headers.items():
        if key.startswith(_SCHILY):
            name, raw = key[len(_SCHILY):], value.encode("utf-8", "surrogateescape")
        elif key.startswith(_LIBARCHIVE):
            name = unquote(key[len(_LIBARCHIVE):], errors="surrogateescape")
            try:
                raw = base64.b64decode(value.encode("ascii", "surrogateescape"))
            except ValueError:
                raise InvalidArgument(f"layer entry {entry!r}: bad base64 in {key}") from None
        else:
            continue
        if not name or "\x00" in name:
            raise UnsafeArchive(f"layer entry {entry!r} has an invalid xattr name {name!r}")
        if name.startswith(_OVERLAY_XATTRS):
            raise UnsafeArchive(f"layer entry {entry!r} sets the overlayfs xattr {name}")
        found[name] = raw
    return sorted(found.items())


def _mtime_ns(m: tarfile.TarInfo) -> int:
    """The entry's mtime in ns, exact for PAX decimal times (a float loses the nanoseconds)."""
    text = m.pax_headers.get("mtime")
    if text:
        whole, _sep, frac = text.strip().partition(".")
        if whole.lstrip("-").isdigit() and (not frac or frac.isdigit()):
            sign = -1 if whole.startswith("-") else 1
            return int(whole) * 1_000_000_000 + sign * int((frac + "000000000")[:9])
    if isinstance(m.mtime, int):
        return m.mtime * 1_000_000_000
    return int(round(float(m.mtime) * 1_000_000_000))


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _set_opaque(pfd: int, name: str) -> None:
    fd = os.open(name, tarsafe.O_DIR, dir_fd=pfd)
    try:
        os.setxattr(fd, OPAQUE_XATTR, b"y")
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# write


def write_diff(upper_dir: str, out: BinaryIO, exclude: Sequence[str] = ()) -> None:
    """Write an overlayfs upper dir as an OCI layer tar (uncompressed) to ``out``.

    Char devices 0/0 become ``.wh.<name>`` entries and opaque dirs get a ``.wh..wh..opq`` entry
    right after their own. ``exclude`` lists paths (relative to ``upper_dir``) left out, with
    everything below them.
    """
    _write(upper_dir, out, overlay=True, mtime=None, exclude=exclude)


def write_tree(root_dir: str, out: BinaryIO, mtime: Optional[int] = None,
               exclude: Sequence[str] = ()) -> None:
    """Write a plain directory's content as a layer tar; ``mtime`` overrides every entry's mtime.

    The root itself is not an entry (as in Docker's layers): applying the tar leaves the target's
    own metadata alone.
    """
    _write(root_dir, out, overlay=False, mtime=mtime, exclude=exclude)


def _write(root: str, out: BinaryIO, overlay: bool, mtime: Optional[int],
           exclude: Sequence[str]) -> None:
    skip = {"/".join(split_name(p, what="exclude path")) for p in exclude}
    fd = os.open(root, tarsafe.O_DIR)
    try:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT,
                          encoding="utf-8", errors="surrogateescape") as tar:
            _Walker(tar, overlay, mtime, skip).walk(fd, "")
    except RecursionError:
        raise InvalidArgument(f"{root}: directory tree too deep to archive") from None
    finally:
        os.close(fd)


class _Walker:
    """Depth first, names in byte order; every directory opened from its parent's fd, no follow."""

    def __init__(self, tar: tarfile.TarFile, overlay: bool, mtime: Optional[int],
                 skip: set[str]) -> None:
        self.tar = tar
        self.overlay = overlay
        self.mtime = mtime
        self.skip = skip
        self.links: dict[tuple[int, int], str] = {}  # (dev, ino) -> first name, for hard links

    def walk(self, dir_fd: int, prefix: str) -> None:
        for name in sorted(os.listdir(dir_fd), key=os.fsencode):
            arc = prefix + name
            if arc in self.skip:
                continue
            if name.startswith(WHITEOUT_PREFIX):
                raise InvalidArgument(f"{arc}: names starting with {WHITEOUT_PREFIX} are reserved for "
                                      "whiteouts and cannot be stored in a layer")
            st = lstat_at(dir_fd, name)
            if st is None:
                continue  # removed since listed
            mode = st.st_mode
            if stat.S_ISDIR(mode):
                self._directory(dir_fd, name, arc)
            elif stat.S_ISREG(mode):
                self._regular(dir_fd, name, arc)
            elif stat.S_ISLNK(mode):
                info = self._info(arc, st, tarfile.SYMTYPE, self._xattrs_at(dir_fd, name, arc))
                info.linkname = os.readlink(name, dir_fd=dir_fd)
                self.tar.addfile(info)
            elif self.overlay and _is_whiteout(st):
                info = self._info(prefix + WHITEOUT_PREFIX + name, st, tarfile.REGTYPE, [])
                info.mode = 0o600  # as Docker writes them
                self.tar.addfile(info)
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
                kind = (tarfile.CHRTYPE if stat.S_ISCHR(mode) else
                        tarfile.BLKTYPE if stat.S_ISBLK(mode) else tarfile.FIFOTYPE)
                info = self._info(arc, st, kind, self._xattrs_at(dir_fd, name, arc))
                if kind != tarfile.FIFOTYPE:
                    info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
                self.tar.addfile(info)
            # sockets have no tar form (Docker skips them too)

    def _directory(self, dir_fd: int, name: str, arc: str) -> None:
        fd = os.open(name, tarsafe.O_DIR, dir_fd=dir_fd)
        try:
            st = os.fstat(fd)
            opaque = self.overlay and _getxattr(fd, OPAQUE_XATTR) == b"y"
            self.tar.addfile(self._info(arc, st, tarfile.DIRTYPE, self._xattrs(fd, arc)))
            if opaque:
                marker = self._info(arc + "/" + OPAQUE_MARKER, st, tarfile.REGTYPE, [])
                marker.mode = stat.S_IMODE(st.st_mode) & 0o777
                self.tar.addfile(marker)
            self.walk(fd, arc + "/")
        finally:
            os.close(fd)

    def _regular(self, dir_fd: int, name: str, arc: str) -> None:
        # O_NONBLOCK: a fifo swapped in after the lstat must not hang the walk
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise InvalidArgument(f"{arc} changed type while it was archived")
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                info = self._info(arc, st, tarfile.LNKTYPE, [])
                info.linkname = self.links[key]
                self.tar.addfile(info)
                return
            if st.st_nlink > 1:
                self.links[key] = arc
            info = self._info(arc, st, tarfile.REGTYPE, self._xattrs(fd, arc))
            info.size = st.st_size
            self.tar.addfile(info, io.FileIO(fd, "rb", closefd=False))
        finally:
            os.close(fd)

    def _info(self, arc: str, st: os.stat_result, kind: bytes,
              xattrs: list[tuple[str, bytes]]) -> tarfile.TarInfo:
        info = tarfile.TarInfo(arc)
        info.type = kind
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""
        info.mtime = self.mtime if self.mtime is not None else st.st_mtime_ns // 1_000_000_000
        info.size = 0
        if xattrs:
            info.pax_headers = {_SCHILY + k: v.decode("utf-8", "surrogateescape") for k, v in xattrs}
        return info

    def _xattrs(self, fd: int, arc: str) -> list[tuple[str, bytes]]:
        return self._collect(fd, True, arc)

    def _xattrs_at(self, dir_fd: int, name: str, arc: str) -> list[tuple[str, bytes]]:
        return self._collect(proc_path(dir_fd, name), False, arc)

    def _collect(self, target: object, follow: bool, arc: str) -> list[tuple[str, bytes]]:
        try:
            names = os.listxattr(target, follow_symlinks=follow)  # type: ignore[arg-type]
        except OSError as exc:
            if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
                return []
            raise
        result = []
        for name in sorted(names):
            if self.overlay and name.startswith(_UNEXPORTABLE):
                raise InvalidArgument(f"{arc} uses overlayfs {name[16:]}, which a layer cannot "
                                      "express (mount without redirect_dir/metacopy)")
            if name.startswith(_OVERLAY_XATTRS):
                continue
            try:
                value = os.getxattr(target, name, follow_symlinks=follow)  # type: ignore[arg-type]
            except OSError as exc:
                if exc.errno == errno.ENODATA:
                    continue  # removed since listed
                raise
            result.append((name, value))
        return result


def _getxattr(fd: int, name: str) -> Optional[bytes]:
    try:
        return os.getxattr(fd, name)
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
            return None
        raise
