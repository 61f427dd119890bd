"""Compression of layer blobs: sniffing, transparent decompression, reproducible gzip.

Streams here are read strictly forwards (a registry response, a tee into the blob store), so the
format is sniffed from the first bytes and those bytes are then handed back in front of the rest.
"""
from __future__ import annotations

import bz2
import io
import lzma
import os
import struct
import zlib
from collections import deque
from functools import lru_cache
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import InvalidArgument

if TYPE_CHECKING:  # concurrent.futures comes with the first writer: few of the commands that import this compress
    from concurrent.futures import Future

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
# Unit of parallel compression and of forward reads: few Python calls per megabyte.
BLOCK = 1 << 20
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib parses and checks the gzip header and trailer itself
_WINDOW = 32 << 10  # deflate's window: a block may refer back this far into the one before
# A block whose samples shrink by less than this at level 1 is stored, not compressed: random or
# already compressed data costs 10x the CPU at any level and saves nothing.
_INCOMPRESSIBLE = 0.97
_SAMPLES, _SAMPLE_SIZE = 4, 16 << 10
MAX_WORKERS = 4
_MAX_INFLATE = 4 * BLOCK  # most bytes one inflate call may produce


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
    if kind == GZIP:
        return Inflating(fileobj, head)  # type: ignore[return-value]
    source = prefixed(head, fileobj)
    if kind == BZIP2:
        return bz2.BZ2File(source, mode="rb")  # type: ignore[return-value]
    if kind == XZ:
        return lzma.LZMAFile(source, mode="rb")  # type: ignore[return-value]
    if kind == ZSTD:
        raise InvalidArgument("zstd-compressed layers are not supported")
    return source


class Inflating:
    """Forward-only gzip reader (one or more members, NUL padding after a member allowed, as for
    Python's GzipFile) that inflates in blocks of up to 1 MiB: few Python calls per megabyte.

    Every member's CRC32 and size trailer is checked by zlib; a stream cut short raises EOFError.
    """

    def __init__(self, source: BinaryIO, head: bytes = b"") -> None:
        self._source = source
        self._input = head  # compressed bytes not yet handed to the decompressor
        self._inflate: Any = zlib.decompressobj(_GZIP_WBITS)
        self._out = b""  # inflated bytes not yet returned
        self._pos = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = [self.read(BLOCK)]
            while parts[-1]:
                parts.append(self.read(BLOCK))
            return b"".join(parts)
        if self._pos >= len(self._out):
            self._out, self._pos = self._next_block(), 0
        if self._pos == 0 and n >= len(self._out):
            data, self._out = self._out, b""  # the whole block: no copy
            return data
        data = self._out[self._pos:self._pos + n]
        self._pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._out, self._input = b"", b""

    def _next_block(self) -> bytes:
        """The next non-empty run of inflated bytes, or b"" at the end of the last member."""
        while not self._eof:
            inflate = self._inflate
            if inflate.eof:
                self._start_member()
                continue
            data = inflate.unconsumed_tail or self._input or self._source.read(BLOCK)
            self._input = b""
            if not data:
                raise EOFError("Compressed file ended before the end-of-stream marker was reached")
            block = inflate.decompress(data, _MAX_INFLATE)  # bounded: a small blob may inflate hugely
            if block:
                return block
        return b""

    def _start_member(self) -> None:
        """After a member: NUL padding, then the end of the stream or another member."""
        rest = self._inflate.unused_data
        while True:
            rest = rest.lstrip(b"\x00")
            if len(rest) >= 2:
                break
            more = self._source.read(BLOCK)
            if not more:
                if rest:
                    raise OSError("Not a gzipped file: trailing garbage after the last member")
                self._eof = True
                return
            rest += more
        if rest[:2] != b"\x1f\x8b":
            raise OSError(f"Not a gzipped file ({rest[:2]!r})")
        self._inflate = zlib.decompressobj(_GZIP_WBITS)
        self._input = rest


def gzip_writer(fileobj: BinaryIO, level: int = GZIP_LEVEL,
                workers: int | None = None) -> ParallelGzipWriter:
    """A gzip stream into ``fileobj`` whose bytes depend on the content (and ``level``) only.

    The header carries mtime 0 and no file name, so the same layer tar always gives the same blob
    digest. Close the returned writer to flush the trailer; ``fileobj`` itself stays open. See
    ``ParallelGzipWriter`` for how it compresses.
    """
    return ParallelGzipWriter(fileobj, level, workers)


class ParallelGzipWriter:
    """One gzip member compressed in 1 MiB blocks on a few threads (zlib releases the GIL), as pigz
    does: each block is a raw deflate run primed with the previous block's last 32 KiB and ended by
    a sync flush (the last one by Z_FINISH), so the runs concatenate into one valid deflate stream
    behind one header and one CRC32 + size trailer. Any gunzip and Go's gzip reader accept it.

    A block whose samples do not compress is stored (deflate level 0) instead. The output depends
    only on the input and ``level``: block size, priming and that choice are all fixed.
    """

    def __init__(self, fileobj: BinaryIO, level: int = GZIP_LEVEL, workers: int | None = None) -> None:
        self._out = fileobj
        self._level = level
        self._pending = bytearray()
        self._window = b""  # the last 32 KiB of input handed to a block
        self._crc = 0
        self._size = 0
        from concurrent.futures import ThreadPoolExecutor

        count = workers or min(MAX_WORKERS, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="berth-gzip")
        self._queue: deque[Future[tuple[bytes, int, int]]] = deque()
        self._max_queued = 2 * count  # bounds memory: about this many MiB in flight
        self._closed = False
        # XFL 0, OS 255 (unknown): no trace of the host in the bytes
        fileobj.write(b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x00\xff")

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._closed:
            raise ValueError("write to a closed gzip writer")
        if not self._pending and isinstance(data, bytes) and len(data) == BLOCK:
            self._submit(data, last=False)  # the usual 1 MiB read: no copy
            return BLOCK
        self._pending += data
        if len(self._pending) >= BLOCK:
            view = memoryview(self._pending)
            whole = len(view) - len(view) % BLOCK
            for start in range(0, whole, BLOCK):
                self._submit(bytes(view[start:start + BLOCK]), last=False)
            view.release()
            del self._pending[:whole]
        return len(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._submit(bytes(self._pending), last=True)
            self._pending = bytearray()
            while self._queue:
                self._write_next()
            self._out.write(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ParallelGzipWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:  # the output is being thrown away: stop the workers, write no trailer
            self._closed = True
            self._queue.clear()
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _submit(self, block: bytes, last: bool) -> None:
        self._queue.append(self._pool.submit(_deflate_block, block, self._window, self._level, last))
        self._window = (self._window + block)[-_WINDOW:] if len(block) < _WINDOW else block[-_WINDOW:]
        while len(self._queue) > self._max_queued:
            self._write_next()

    def _write_next(self) -> None:
        deflated, crc, size = self._queue.popleft().result()
        self._out.write(deflated)
        self._crc = crc32_combine(self._crc, crc, size)
        self._size += size


def _deflate_block(block: bytes, window: bytes, level: int, last: bool) -> tuple[bytes, int, int]:
    """A raw deflate run of ``block`` (ending byte-aligned unless ``last``), its CRC32, its size."""
    if level and _incompressible(block):
        level = 0
    deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, 8, zlib.Z_DEFAULT_STRATEGY,
                               window) if window else \
        zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    out = deflate.compress(block) + deflate.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
    return out, zlib.crc32(block), len(block)


def _incompressible(block: bytes) -> bool:
    """Whether a few samples spread over ``block`` shrink by less than 3 % at level 1."""
    if len(block) < _SAMPLES * _SAMPLE_SIZE:
        return False  # small blocks: compressing them costs little anyway
    step = len(block) // _SAMPLES
    raw = packed = 0
    for i in range(_SAMPLES):
        sample = block[i * step:i * step + _SAMPLE_SIZE]
        raw += len(sample)
        packed += len(zlib.compress(sample, 1))
    return packed >= raw * _INCOMPRESSIBLE


# -- CRC32 of a concatenation (zlib's crc32_combine, which Python does not expose) -----------------

def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC32 of A + B from crc1 = CRC32(A), crc2 = CRC32(B) and len2 = len(B)."""
    if len2 <= 0:
        return crc1
    return _gf2_times(_zeros_operator(len2), crc1) ^ crc2


@lru_cache(maxsize=8)
def _zeros_operator(length: int) -> tuple[int, ...]:
    """The GF(2) matrix that advances a CRC32 register over ``length`` zero bytes."""
    # The operator for one zero bit: shift right, feeding the polynomial back in.
    power = [0xEDB88320] + [1 << (n - 1) for n in range(1, 32)]
    for _doubling in range(3):  # 1 -> 2 -> 4 -> 8 bits: one zero byte
        power = _gf2_square(power)
    result: list[int] | None = None
    while length:
        if length & 1:
            result = power if result is None else [_gf2_times(power, v) for v in result]
        length >>= 1
        if length:
            power = _gf2_square(power)
    return tuple(result or ())


def _gf2_times(matrix: Any, vector: int) -> int:
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, column) for column in matrix]
