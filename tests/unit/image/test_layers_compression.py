"""compression: sniffing, forward-only decompression, reproducible gzip."""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import zlib

import pytest

from berth.errors import InvalidArgument
from berth.image import compression

PAYLOAD = os.urandom(1000) + b"layer" * 50_000


class ForwardOnly:
    """A stream that can only be read, like a registry response or a tee: no seek, no peek."""

    def __init__(self, data: bytes, chunk: int = 7) -> None:
        self._data, self._pos, self._chunk = data, 0, chunk

    def read(self, n: int = -1) -> bytes:
        n = self._chunk if n < 0 else min(n, self._chunk)  # short reads, as sockets give
        out = self._data[self._pos:self._pos + n]
        self._pos += len(out)
        return out

    def readable(self) -> bool:
        return True


@pytest.mark.parametrize("data, kind", [
    (gzip.compress(b"x"), "gzip"),
    (bz2.compress(b"x"), "bzip2"),
    (lzma.compress(b"x"), "xz"),
    (b"\x28\xb5\x2f\xfd\x00\x00", "zstd"),
    (b"ustar-ish plain tar bytes", "none"),
    (b"", "none"),
    (b"\x1f", "none"),  # a lone first magic byte is not gzip
])
def test_detect(data: bytes, kind: str) -> None:
    assert compression.detect(data[:6]) == kind


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress, lambda b: b],
                         ids=["gzip", "bzip2", "xz", "none"])
def test_open_decompressed_reads_forwards_only(compress) -> None:
    stream = compression.open_decompressed(ForwardOnly(compress(PAYLOAD)))  # type: ignore[arg-type]
    assert stream.read() == PAYLOAD


def test_multi_member_gzip_is_read_whole() -> None:
    data = gzip.compress(b"first ") + gzip.compress(b"second")
    assert compression.open_decompressed(ForwardOnly(data)).read() == b"first second"  # type: ignore[arg-type]


def test_tiny_and_empty_streams() -> None:
    assert compression.open_decompressed(ForwardOnly(b"")).read() == b""  # type: ignore[arg-type]
    assert compression.open_decompressed(ForwardOnly(b"ab")).read() == b"ab"  # type: ignore[arg-type]


def test_zstd_is_refused_clearly() -> None:
    with pytest.raises(InvalidArgument, match="^zstd-compressed layers are not supported$"):
        compression.open_decompressed(io.BytesIO(b"\x28\xb5\x2f\xfd" + b"\x00" * 20))


def test_corrupt_gzip_raises() -> None:
    bad = bytearray(gzip.compress(PAYLOAD))
    bad[len(bad) // 2] ^= 0xFF
    with pytest.raises((OSError, zlib.error, EOFError)):
        compression.open_decompressed(io.BytesIO(bytes(bad))).read()


def _gz(data: bytes) -> bytes:
    out = io.BytesIO()
    with compression.gzip_writer(out) as w:  # type: ignore[attr-defined]
        w.write(data)
    assert not out.closed  # the caller's file stays open
    return out.getvalue()


def test_gzip_writer_is_reproducible() -> None:
    first, second = _gz(PAYLOAD), _gz(PAYLOAD)
    assert first == second
    assert first[:2] == b"\x1f\x8b"
    assert first[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert first[3] & 0x08 == 0  # FNAME flag clear: no file name in the header
    assert gzip.decompress(first) == PAYLOAD


def test_gzip_writer_ignores_the_file_name_of_its_target(tmp_path) -> None:
    with open(tmp_path / "blob-name", "wb") as f:
        with compression.gzip_writer(f) as w:  # type: ignore[attr-defined]
            w.write(b"abc")
    raw = (tmp_path / "blob-name").read_bytes()
    assert b"blob-name" not in raw and raw == _gz(b"abc")
