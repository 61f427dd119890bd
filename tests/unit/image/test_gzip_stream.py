"""The parallel gzip writer and the block inflater: valid for every reader, reproducible, bounded."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
import struct
import subprocess
import zlib

import pytest
from testlib import Trickle

from berth.image import compression
from berth.image.compression import BLOCK

RANDOM = random.Random(9)


def noise(size: int) -> bytes:
    return RANDOM.randbytes(size)


def text(size: int) -> bytes:
    line = b"".join(b"%d a line of a config file, mostly the same\n" % i for i in range(size // 40 + 1))
    return line[:size]


def gz(data: bytes, level: int = compression.GZIP_LEVEL, workers: int | None = None,
       piece: int = 0) -> bytes:
    out = io.BytesIO()
    with compression.gzip_writer(out, level, workers) as w:
        if piece:
            for start in range(0, len(data), piece):
                w.write(data[start:start + piece])
        else:
            w.write(data)
    return out.getvalue()


CASES = {
    "empty": b"",
    "one byte": b"x",
    "under a block": text(300_000),
    "exactly one block": text(BLOCK),
    "exactly two blocks": noise(2 * BLOCK),
    "text, many blocks": text(5 * BLOCK + 12345),
    "random, many blocks": noise(3 * BLOCK + 7),
    "random then text then random": noise(BLOCK + 100) + text(2 * BLOCK) + noise(70_000),
}


@pytest.mark.parametrize("data", CASES.values(), ids=CASES.keys())
def test_round_trip_through_every_reader(data: bytes) -> None:
    blob = gz(data)
    assert gzip.decompress(blob) == data
    assert subprocess.run(["gzip", "-dc"], input=blob, capture_output=True,
                          check=True).stdout == data
    assert subprocess.run(["gzip", "-t"], input=blob, capture_output=True, check=False).returncode == 0
    assert zlib.decompress(blob, 31) == data  # one member: zlib alone reads it to the end
    assert compression.open_decompressed(io.BytesIO(blob)).read() == data
    crc, size = struct.unpack("<II", blob[-8:])
    assert crc == zlib.crc32(data) and size == len(data) & 0xFFFFFFFF


def test_header_names_no_file_no_time_no_host() -> None:
    blob = gz(b"abc")
    assert blob[:4] == b"\x1f\x8b\x08\x00"  # deflate, no flags (no FNAME, no FEXTRA)
    assert blob[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert blob[9] == 0xFF  # OS unknown


@pytest.mark.parametrize("data", [CASES["text, many blocks"], CASES["random then text then random"]],
                         ids=["text", "mixed"])
def test_output_depends_on_the_content_only(data: bytes) -> None:
    """Same bytes whatever the write sizes and the number of threads: digests are recorded."""
    reference = gz(data)
    assert gz(data, piece=7_777) == reference
    assert gz(data, piece=BLOCK) == reference
    assert gz(data, workers=1) == reference
    assert gz(data, workers=4, piece=3 * BLOCK + 1) == reference


def test_incompressible_blocks_are_stored_and_the_rest_compressed() -> None:
    random_part, text_part = noise(2 * BLOCK), text(2 * BLOCK)
    stored = gz(random_part)
    assert len(stored) < len(random_part) * 1.001  # stored blocks: ~5 bytes per 64 KiB
    squeezed = gz(text_part)
    assert len(squeezed) < len(text_part) // 5
    # Priming each block with the previous one's tail keeps the ratio of one plain gzip stream.
    assert len(squeezed) <= len(gzip.compress(text_part, compression.GZIP_LEVEL)) * 1.02


def test_level_is_honoured() -> None:
    data = text(2 * BLOCK)
    assert len(gz(data, level=1)) > len(gz(data, level=9))
    assert gzip.decompress(gz(data, level=0)) == data


def test_an_error_inside_the_with_block_writes_no_trailer() -> None:
    out = io.BytesIO()
    with pytest.raises(RuntimeError):
        with compression.gzip_writer(out) as w:
            w.write(noise(3 * BLOCK))
            raise RuntimeError("caller failed")
    with pytest.raises((EOFError, OSError)):
        gzip.decompress(out.getvalue())


def test_writing_after_close_is_refused() -> None:
    w = compression.gzip_writer(io.BytesIO())
    w.close()
    w.close()  # twice is harmless
    with pytest.raises(ValueError):
        w.write(b"late")


@pytest.mark.parametrize("len1, len2", [(0, 0), (5, 0), (0, 9), (1, 1), (1000, BLOCK), (BLOCK, 3),
                                        (77, 65_537)])
def test_crc32_combine_matches_zlib(len1: int, len2: int) -> None:
    a, b = noise(len1), noise(len2)
    assert compression.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


# -- Inflating: the reader side ----------------------------------------------------------------

def inflate_all(blob: bytes, chunk: int = 1000, n: int = 100_000) -> bytes:
    reader = compression.Inflating(Trickle(blob, chunk))  # type: ignore[arg-type]
    parts = []
    while True:
        block = reader.read(n)
        if not block:
            return b"".join(parts)
        assert len(block) <= n
        parts.append(block)


def test_inflating_reads_members_and_nul_padding_like_gzipfile() -> None:
    blob = gzip.compress(b"first ") + gzip.compress(b"second") + b"\x00" * 600 + gzip.compress(b"!")
    assert inflate_all(blob + b"\x00" * 10, chunk=3) == b"first second!"
    assert gzip.decompress(blob) == b"first second!"


@pytest.mark.parametrize("tail", [b"garbage", b"\x00\x00x", b"\x1f"])
def test_inflating_refuses_trailing_garbage(tail: bytes) -> None:
    with pytest.raises(OSError):
        inflate_all(gzip.compress(b"data") + tail)


def test_inflating_refuses_a_truncated_stream() -> None:
    blob = gz(text(3 * BLOCK))
    with pytest.raises(EOFError):
        inflate_all(blob[:-20])


def test_inflating_checks_the_crc() -> None:
    blob = bytearray(gzip.compress(text(200_000)))
    blob[-8] ^= 0x01  # the CRC32 of the trailer
    with pytest.raises(zlib.error):
        inflate_all(bytes(blob))


def test_inflating_bounds_each_block_of_a_bomb() -> None:
    """100 MiB of zeros in ~100 KB: no single inflate call returns more than a few MiB."""
    bomb = gz(b"\x00" * (100 << 20), level=9)
    assert len(bomb) < 200_000
    reader = compression.Inflating(io.BytesIO(bomb))  # type: ignore[arg-type]
    total, digest = 0, hashlib.sha256()
    while True:
        block = reader.read(1 << 30)
        if not block:
            break
        assert len(block) <= 4 * BLOCK
        total += len(block)
        digest.update(block)
    assert total == 100 << 20
    assert digest.hexdigest() == hashlib.sha256(b"\x00" * (100 << 20)).hexdigest()


def test_inflating_read_all_and_readinto() -> None:
    data = os.urandom(5000)
    assert compression.Inflating(io.BytesIO(gzip.compress(data))).read() == data  # type: ignore[arg-type]
    reader = compression.Inflating(io.BytesIO(gzip.compress(data)))  # type: ignore[arg-type]
    buffer = bytearray(3000)
    assert reader.readinto(buffer) == 3000 and bytes(buffer) == data[:3000]
