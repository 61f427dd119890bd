"""Compression of layer blobs: sniffing, transparent decompression, reproducible gzip.

Streams here are read strictly forwards (a registry response, a tee into the blob store), so the
format is sniffed from the first bytes and those bytes are then handed back in front of the rest.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
from typing import BinaryIO

from ..errors import InvalidArgument

GZIP, BZIP2, XZ, ZSTD, NONE = "gzip", "bzip2", "xz", "zstd", "none"

# No magic is a prefix of another, so the order of this table does not matter.
_MAGIC = (
    (b"\x1f\x8b", GZIP),
    (b"BZh", BZIP2),
    (b"\xfd7zXZ\x00", XZ),
    (b"\x28\xb5\x2f\xfd", ZSTD),
)
HEAD_SIZE = max(len(m) for m, _fmt in _MAGIC)  # 6 bytes are enough to tell every format apart

# Level of Go's and Docker's default gzip writer: much faster than 9 for a few percent of size.
GZIP_LEVEL = 6


def detect(head: bytes) -> str:
    """The compression of a stream that starts with ``head`` (pass at least 6 bytes)."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return NONE


class _Prefixed(io.RawIOBase):
    """``head`` followed by the rest of ``source``: undoes a read without needing seek."""

    def __init__(self, head: bytes, source: BinaryIO) -> None:
        super().__init__()
        self._head = head
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        want = len(buffer)
        if self._head:
            n = min(want, len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._source.read(want)
        n = len(data)
        buffer[:n] = data
        return n


def read_head(source: BinaryIO, size: int = HEAD_SIZE) -> bytes:
    """Up to ``size`` bytes from the start of ``source`` (fewer only at end of stream)."""
    head = b""
    while len(head) < size:
        chunk = source.read(size - len(head))
        if not chunk:
            break
        head += chunk
    return head


def prefixed(head: bytes, source: BinaryIO) -> BinaryIO:
    """A buffered stream yielding ``head`` and then whatever ``source`` has left."""
    return io.BufferedReader(_Prefixed(head, source))  # type: ignore[return-value]


def open_decompressed(fileobj: BinaryIO) -> BinaryIO:
    """The uncompressed bytes of ``fileobj`` (gzip, bzip2, xz or plain), read forwards only.

    The caller keeps ownership of ``fileobj``; closing the returned stream does not close it.
    """
    head = read_head(fileobj)
    kind = detect(head)
    source = prefixed(head, fileobj)
    if kind == GZIP:
        return gzip.GzipFile(fileobj=source, mode="rb")  # type: ignore[return-value]
    if kind == BZIP2:
        return bz2.BZ2File(source, mode="rb")  # type: ignore[return-value]
    if kind == XZ:
        return lzma.LZMAFile(source, mode="rb")  # type: ignore[return-value]
    if kind == ZSTD:
        raise InvalidArgument("zstd-compressed layers are not supported")
    return source


def gzip_writer(fileobj: BinaryIO, level: int = GZIP_LEVEL) -> BinaryIO:
    """A gzip stream into ``fileobj`` whose bytes depend on the content only.

    The header carries mtime 0 and no file name, so the same layer tar always gives the same blob
    digest. Close the returned writer to flush the trailer; ``fileobj`` itself stays open.
    """
    return gzip.GzipFile(filename="", mode="wb", fileobj=fileobj, mtime=0,  # type: ignore[return-value]
                         compresslevel=level)
