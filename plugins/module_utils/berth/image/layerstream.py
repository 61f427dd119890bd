"""A layer blob read forwards once: copied into the blob store, decompressed and hashed on the way.

``LayerStream`` is what ``Snapshots.ingest`` hands to ``layers.apply_layer``. Everything moves in
blocks of up to 1 MiB, on three threads that overlap because file writes, sha256 and zlib release
the GIL: a decoder thread reads the source, passes each raw block to a blob-writer thread (the
blob writer hashes it), inflates it and hashes the result for the DiffID; the caller's thread
unpacks the tar. For an uncompressed blob the DiffID *is* the blob digest, so its bytes are
hashed once, by the blob writer.
"""
from __future__ import annotations

import bz2
import hashlib
import lzma
import queue
import threading
from typing import Any, BinaryIO, Callable, Optional, Protocol

from ..errors import InvalidArgument
from . import compression

BLOCK = compression.BLOCK
_DECODED_QUEUED = 4  # decoded blocks waiting for the unpacker
_POLL = 0.05  # seconds between checks while waiting for a thread that may have been told to stop


class BlobSink(Protocol):
    """What the raw bytes are copied into: a ``store.blobs.BlobWriter``."""

    def write(self, data: bytes) -> int: ...

    def hexdigest(self) -> str: ...


class _BackgroundSink:
    """Writes blocks to ``sink`` on a thread of its own, so storing (and hashing) the blob runs
    beside decompressing and unpacking it: file writes, sha256 and zlib all release the GIL.

    ``finish()`` waits until every block is written and re-raises what the sink raised. A sink
    error (no space, more bytes than announced) also surfaces at the next ``write``.
    """

    _QUEUED = 8  # blocks in flight: bounds memory to ~8 MiB

    def __init__(self, sink: BlobSink) -> None:
        self._sink = sink
        self._blocks: queue.Queue[Optional[bytes]] = queue.Queue(self._QUEUED)
        self._error: Optional[BaseException] = None
        self._open = True
        self._thread = threading.Thread(target=self._run, name="berth-blob-writer", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> None:
        while True:
            if self._error is not None or not self._open:
                self._raise()
            try:
                self._blocks.put(data, timeout=_POLL)
                return
            except queue.Full:
                continue  # re-check: the sink may have been abandoned meanwhile

    def finish(self) -> None:
        """Every block written (or the sink's error raised)."""
        if self._open:
            self._open = False
            self._blocks.put(None)
            self._thread.join()
        if self._error is not None:
            self._raise()

    def abandon(self) -> None:
        """Stop without caring for the result (the blob is being thrown away)."""
        if self._open:
            self._open = False
            self._error = self._error or _Abandoned()
            while True:  # make room for the stop marker without blocking on a full queue
                try:
                    self._blocks.put_nowait(None)
                    break
                except queue.Full:
                    try:
                        self._blocks.get_nowait()
                    except queue.Empty:
                        pass
            self._thread.join()

    def _raise(self) -> None:
        error = self._error
        if error is None or isinstance(error, _Abandoned):
            raise ValueError("blob copy already finished or abandoned")
        raise error

    def _run(self) -> None:
        while True:
            data = self._blocks.get()
            if data is None:
                return
            if self._error is not None:
                continue  # keep taking blocks so the reader never blocks on a full queue
            try:
                self._sink.write(data)
            except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
                self._error = exc


class _Abandoned(Exception):
    pass


class _Copying:
    """The raw source; every block read is also written to the blob being stored."""

    def __init__(self, source: BinaryIO, sink: Optional[_BackgroundSink]) -> None:
        self._source, self._sink = source, sink

    def read(self, n: int = -1) -> bytes:
        data = self._source.read(BLOCK if n is None or n < 0 else n)
        if data and self._sink is not None:
            self._sink.write(data)
        return data

    def readable(self) -> bool:
        return True


class LayerStream:
    """The uncompressed tar of ``source`` (gzip, bzip2, xz or plain), read forwards.

    A decoder thread reads ``source`` in blocks, hands each raw block to the blob copy, decodes it
    and hashes the result (the DiffID); ``read`` takes the decoded blocks. So reading the source,
    storing the blob, inflating and unpacking run side by side. Bytes read from ``source`` reach
    ``sink`` before they are decoded, so after ``drain_raw()`` the sink holds the whole blob even
    when the tar ended early or was corrupt.
    """

    def __init__(self, source: BinaryIO, sink: Optional[BlobSink] = None) -> None:
        self._sink = sink
        self._copy = _BackgroundSink(sink) if sink is not None else None
        self._raw = _Copying(source, self._copy)
        self.size = 0  # uncompressed bytes read so far
        self._decoded: queue.Queue[Any] = queue.Queue(_DECODED_QUEUED)
        self._block, self._pos, self._ended = b"", 0, False
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        try:
            head = compression.read_head(self._raw)  # type: ignore[arg-type]
            self.kind = compression.detect(head)
            # A plain blob copied into a hashing sink needs no second hash of the same bytes.
            self._hasher: Any = None if (self.kind == compression.NONE and sink is not None) \
                else hashlib.sha256()
            next_block = self._decoder(head)
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._decode, args=(next_block,),
                                        name="berth-layer-decoder", daemon=True)
        self._thread.start()

    def _decoder(self, head: bytes) -> Callable[[], bytes]:
        """A function returning the next decoded block, b"" at the end."""
        if self.kind == compression.NONE:
            pending = [head] if head else []

            def plain() -> bytes:
                return pending.pop() if pending else self._raw.read(BLOCK)
            return plain
        if self.kind == compression.GZIP:
            inflating = compression.Inflating(self._raw, head)  # type: ignore[arg-type]
            return lambda: inflating.read(BLOCK)
        if self.kind == compression.ZSTD:
            raise InvalidArgument("zstd-compressed layers are not supported")
        source = compression.prefixed(head, self._raw)  # type: ignore[arg-type]
        library = bz2.BZ2File(source, mode="rb") if self.kind == compression.BZIP2 \
            else lzma.LZMAFile(source, mode="rb")
        return lambda: library.read(BLOCK)

    def _decode(self, next_block: Callable[[], bytes]) -> None:
        """The decoder thread: blocks (or the error that ended them) into the queue, then b""."""
        try:
            while not self._stop.is_set():
                block = next_block()
                if self._hasher is not None:
                    self._hasher.update(block)
                self._decoded.put(block)
                if not block:
                    return
        except BaseException as exc:  # noqa: BLE001 - raised again by read() in the reader
            self._decoded.put(exc)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (a short read is not the end; b"" is)."""
        if n is None or n < 0:
            n = BLOCK
        if self._pos >= len(self._block):
            if self._ended:
                return b""
            item = self._decoded.get()
            if isinstance(item, BaseException):
                self._ended = True
                raise item
            if not item:
                self._ended = True
                return b""
            self._block, self._pos = item, 0
        if self._pos == 0 and n >= len(self._block):
            data, self._block = self._block, b""  # the whole block: no copy
        else:
            data = self._block[self._pos:self._pos + n]
            self._pos += len(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        """Read the uncompressed stream to its end (the DiffID covers bytes after the tar too)."""
        while self.read(BLOCK):
            pass
        self._join()

    def drain_raw(self) -> None:
        """Copy what is left of the raw source into the sink without decoding it, and wait until
        the sink has it all: only then are the sink's size and digest final."""
        self._stop_decoder(wait=True)
        while self._raw.read(BLOCK):
            pass
        if self._copy is not None:
            self._copy.finish()

    @property
    def diff_id(self) -> str:
        """sha256 of the uncompressed stream; valid after ``drain()`` and ``drain_raw()``."""
        self._join()
        if self._hasher is None:
            return "sha256:" + self._sink.hexdigest()  # type: ignore[union-attr]
        return "sha256:" + self._hasher.hexdigest()

    def close(self) -> None:
        """Stop decoding and the blob copy (after an error: the blob is thrown away).

        Does not wait for a decoder blocked on a slow source: it stops after that read."""
        self._stop_decoder(wait=False)
        if self._copy is not None:
            self._copy.abandon()

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def _stop_decoder(self, wait: bool) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        while True:
            self._empty_queue()  # a decoder blocked on a full queue gets room to see the stop
            thread.join(_POLL if wait else 0)
            if not thread.is_alive() or not wait:
                break
        self._empty_queue()
        self._ended = True

    def _empty_queue(self) -> None:
        while True:
            try:
                self._decoded.get_nowait()
            except queue.Empty:
                return
