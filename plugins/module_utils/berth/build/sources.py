"""COPY/ADD sources as the cache sees them: what a source is, and the checksum of its content.

Apart from ``copy`` (which writes into a mounted rootfs and unpacks archives): a COPY that hits
the cache only selects its sources and checksums them.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from typing import Callable, Iterator, Optional, Sequence, Tuple

from ..errors import InvalidArgument
from ..values import Value

Included = Callable[[str], bool]
CHUNK = 1 << 20


class Source(Value, frozen=True):
    """One selected source: ``host`` is its path on the host, ``rel`` its path in ``tree``."""

    host: str
    rel: str
    included: Optional[Included] = None   # the context's .dockerignore filter
    preserve_owner: bool = False
    archive: bool = False                  # ADD: a local tar to unpack at the destination
    mode: Optional[int] = None             # forced mode (ADD from a URL: 0600)

    @property
    def name(self) -> str:
        return posixpath.basename(self.rel.rstrip("/")) or "."

    @property
    def is_dir(self) -> bool:
        return os.path.isdir(self.host) and not os.path.islink(self.host)


def parse_chmod(text: str) -> int:
    if not text or any(c not in "01234567" for c in text) or int(text, 8) > 0o7777:
        raise InvalidArgument(f"invalid chmod parameter {text!r}: must be an octal mode")
    return int(text, 8)


# -- checksums ------------------------------------------------------------------------------------

def _walk(source: Source) -> Iterator[Tuple[str, str, os.stat_result]]:
    """(name below the source, host path, lstat) of every entry, sorted, filter applied."""
    top = os.lstat(source.host)
    yield "", source.host, top
    if stat.S_ISDIR(top.st_mode):
        yield from _walk_dir(source, source.host, source.rel, "")


def _walk_dir(source: Source, host: str, rel: str, below: str
              ) -> Iterator[Tuple[str, str, os.stat_result]]:
    for name, child_rel, child, st in included_children(source, host, rel):
        child_below = below + "/" + name if below else name
        yield child_below, child, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk_dir(source, child, child_rel, child_below)


def included_children(source: Source, host: str, rel: str
                      ) -> Iterator[Tuple[str, str, str, os.stat_result]]:
    """(name, path in the context, host path, lstat) of each entry of directory ``host`` (``rel``
    in the context) that the source's filter keeps, in byte order of the names."""
    with os.scandir(host) as it:
        names = sorted((e.name for e in it), key=os.fsencode)
    for name in names:
        child_rel = name if rel in ("", ".") else rel + "/" + name
        if source.included is not None and not source.included(child_rel):
            continue
        child = os.path.join(host, name)
        yield name, child_rel, child, os.lstat(child)


def checksum(sources: Sequence[Source]) -> str:
    """Digest of the selected sources: names, types, modes, owners, sizes, link targets,
    devices and content. Never mtimes: touching a file keeps the cache valid."""
    total = hashlib.sha256()
    for source in sources:
        total.update(b"\0source\0" + source.name.encode("utf-8", "surrogateescape"))
        total.update(b"archive" if source.archive else b"plain")
        for below, host, st in _walk(source):
            mode = source.mode if (source.mode is not None and not below) else st.st_mode
            head = "%s\0%o\0%d\0%d\0" % (below, mode, st.st_uid, st.st_gid)
            total.update(head.encode("utf-8", "surrogateescape"))
            if stat.S_ISREG(st.st_mode):
                total.update(b"%d\0" % st.st_size)
                total.update(_file_digest(host))
            elif stat.S_ISLNK(st.st_mode):
                total.update(os.fsencode(os.readlink(host)) + b"\0")
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                total.update(b"%d:%d\0" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
    return total.hexdigest()


def _file_digest(path: str) -> bytes:
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        while True:
            chunk = os.read(fd, CHUNK)
            if not chunk:
                break
            h.update(chunk)
    finally:
        os.close(fd)
    return h.digest()
