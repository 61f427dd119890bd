"""Snapshots.ingest and LayerStream: one pass stores the blob, unpacks it and checks every digest.

Covers the fast paths (a plain blob hashed once, blocks decoded on their own thread, the blob
written on another) with the cases that must stay right: whiteouts, hard links, symlinks, bytes
after the tar, corrupt and short streams, announced digests that do not match.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import stat
import tarfile
import threading
import time
import zlib
from pathlib import Path

import pytest
from testlib import Trickle, tar_of

from berth.errors import DigestMismatch, InvalidArgument, UnsafeArchive
from berth.image import compression
from berth.image.layerstream import LayerStream
from berth.image.snapshots import Snapshots
from berth.store import Store

BIG = os.urandom(3 << 20) + b"tail"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "",
          mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.linkname, info.size = kind, mode, 1_600_000_000, link, len(data)
    return info, data


LAYER = tar_of(
    entry("etc/", tarfile.DIRTYPE, mode=0o755),
    entry("etc/big", data=BIG),
    entry("etc/hard", tarfile.LNKTYPE, link="etc/big"),
    entry("etc/link", tarfile.SYMTYPE, link="../etc/big"),
    entry("etc/.wh.gone"),
    entry("opaque/", tarfile.DIRTYPE, mode=0o755),
    entry("opaque/.wh..wh..opq"),
    entry("opaque/kept", data=b"k"),
)


def _berth_gzip(data: bytes) -> bytes:
    out = io.BytesIO()
    with compression.gzip_writer(out) as w:
        w.write(data)
    return out.getvalue()


COMPRESSORS = {
    "plain": lambda b: b,
    "gzip": gzip.compress,
    "berth gzip": _berth_gzip,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}


@pytest.fixture
def snapshots(tmp_path: Path) -> Snapshots:
    return Snapshots(Store(str(tmp_path / "root"), str(tmp_path / "run")))


def check_tree(root: str) -> None:
    etc = Path(root) / "etc"
    assert (etc / "big").read_bytes() == BIG
    assert os.stat(etc / "hard").st_ino == os.stat(etc / "big").st_ino
    assert os.readlink(etc / "link") == "../etc/big"
    gone = os.lstat(etc / "gone")
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0
    assert os.getxattr(Path(root) / "opaque", "trusted.overlay.opaque") == b"y"
    assert (Path(root) / "opaque/kept").read_bytes() == b"k"
    assert not any(name.startswith(".wh.") for _d, _s, files in os.walk(root) for name in files)


@pytest.mark.parametrize("kind", COMPRESSORS, ids=COMPRESSORS.keys())
def test_ingest_stores_the_blob_unpacks_and_verifies(snapshots: Snapshots, kind: str) -> None:
    blob = COMPRESSORS[kind](LAYER)
    with snapshots.store.writing():
        info = snapshots.ingest(Trickle(blob), None, "media", expected_blob=sha(blob),  # type: ignore[arg-type]
                                expected_size=len(blob), expected_diff_id=sha(LAYER))
    assert (info.blob_digest, info.blob_size, info.diff_id) == (sha(blob), len(blob), sha(LAYER))
    assert info.chain_id == sha(LAYER) and info.diff_size == len(LAYER)
    assert info.content_size == len(BIG) + 1
    assert snapshots.store.blobs.read(info.blob_digest) == blob
    check_tree(snapshots.path(info.chain_id))


def test_plain_import_without_announced_digests(snapshots: Snapshots, tmp_path: Path) -> None:
    """``berth import`` of a file: blob digest == DiffID, computed once."""
    path = tmp_path / "rootfs.tar"
    path.write_bytes(LAYER + b"\0" * 4096)  # tar padding after the end marker belongs to both
    with snapshots.store.writing(), open(path, "rb") as f:
        info = snapshots.ingest(f, None, "media")  # type: ignore[arg-type]
    assert info.blob_digest == info.diff_id == sha(path.read_bytes())
    assert info.diff_size == info.blob_size == path.stat().st_size
    check_tree(snapshots.path(info.chain_id))


def test_bytes_after_the_gzip_stream_belong_to_the_blob(snapshots: Snapshots) -> None:
    blob = gzip.compress(LAYER) + b"\0" * 100
    with snapshots.store.writing():
        info = snapshots.ingest(Trickle(blob), None, "media")  # type: ignore[arg-type]
    assert info.blob_digest == sha(blob) and info.diff_id == sha(LAYER)


def test_reingest_from_a_stored_blob_unpacks_again(snapshots: Snapshots) -> None:
    blob = gzip.compress(LAYER)
    with snapshots.store.writing():
        first = snapshots.ingest(io.BytesIO(blob), None, "media")  # type: ignore[arg-type]
        snapshots.remove(first.chain_id)
        again = snapshots.ingest(io.BytesIO(), None, "media", expected_blob=first.blob_digest,  # type: ignore[arg-type]
                                 expected_size=len(blob), expected_diff_id=first.diff_id)
    assert again.chain_id == first.chain_id
    check_tree(snapshots.path(again.chain_id))


@pytest.mark.parametrize("kind", ["plain", "gzip"])
def test_wrong_diff_id_registers_nothing(snapshots: Snapshots, kind: str) -> None:
    blob = COMPRESSORS[kind](LAYER)
    with snapshots.store.writing(), pytest.raises(DigestMismatch, match="expected DiffID"):
        snapshots.ingest(io.BytesIO(blob), None, "media", expected_blob=sha(blob),  # type: ignore[arg-type]
                         expected_diff_id=sha(b"other"))
    assert not snapshots.store.blobs.exists(sha(blob))
    assert snapshots.list() == [] and os.listdir(snapshots.dir) == []


def test_wrong_blob_digest_is_named_even_when_the_stream_is_corrupt(snapshots: Snapshots) -> None:
    blob = bytearray(gzip.compress(LAYER))
    blob[len(blob) // 2] ^= 0xFF
    with snapshots.store.writing(), pytest.raises(DigestMismatch, match="layer blob hashes to"):
        snapshots.ingest(Trickle(bytes(blob)), None, "media",  # type: ignore[arg-type]
                         expected_blob=sha(gzip.compress(LAYER)))
    assert list(snapshots.store.blobs.list()) == [] and os.listdir(snapshots.dir) == []


@pytest.mark.parametrize("cut", [100, len(LAYER) // 2])
def test_short_gzip_stream_is_an_invalid_layer(snapshots: Snapshots, cut: int) -> None:
    blob = gzip.compress(LAYER)[:cut]
    with snapshots.store.writing(), pytest.raises(InvalidArgument, match="^invalid layer"):
        snapshots.ingest(Trickle(blob), None, "media")  # type: ignore[arg-type]
    assert list(snapshots.store.blobs.list()) == [] and os.listdir(snapshots.dir) == []


def test_hostile_entry_in_a_gzip_layer_is_refused(snapshots: Snapshots) -> None:
    bad = gzip.compress(tar_of(entry("a", data=BIG), entry("../escape", data=b"x")))
    with snapshots.store.writing(), pytest.raises(UnsafeArchive):
        snapshots.ingest(Trickle(bad), None, "media")  # type: ignore[arg-type]
    assert list(snapshots.store.blobs.list()) == [] and os.listdir(snapshots.dir) == []


def test_blob_larger_than_announced_is_refused(snapshots: Snapshots) -> None:
    blob = gzip.compress(LAYER)
    with snapshots.store.writing(), pytest.raises(DigestMismatch, match="larger than"):
        snapshots.ingest(io.BytesIO(blob), None, "media", expected_size=len(blob) - 1)  # type: ignore[arg-type]
    assert list(snapshots.store.blobs.list()) == []


def test_zstd_is_refused_clearly(snapshots: Snapshots) -> None:
    with snapshots.store.writing(), pytest.raises(InvalidArgument, match="^zstd-compressed"):
        snapshots.ingest(io.BytesIO(b"\x28\xb5\x2f\xfd" + b"\0" * 100), None, "media")  # type: ignore[arg-type]


def test_empty_stream_is_an_empty_layer(snapshots: Snapshots) -> None:
    with snapshots.store.writing():
        info = snapshots.ingest(io.BytesIO(b""), None, "media")  # type: ignore[arg-type]
    assert info.diff_id == info.blob_digest == sha(b"") and os.listdir(snapshots.path(info.chain_id)) == []


# -- LayerStream on its own ----------------------------------------------------------------------

class Sink:
    def __init__(self) -> None:
        self.data = bytearray()
        self.hasher = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.data += data
        self.hasher.update(data)
        return len(data)

    def hexdigest(self) -> str:
        return self.hasher.hexdigest()


def test_stream_plain_reuses_the_sink_hash_and_hands_out_everything() -> None:
    sink = Sink()
    stream = LayerStream(Trickle(LAYER, 999), sink)  # type: ignore[arg-type]
    got = bytearray()
    while True:
        block = stream.read(4096)
        if not block:
            break
        got += block
    stream.drain_raw()
    assert bytes(got) == LAYER and bytes(sink.data) == LAYER
    assert stream.diff_id == sha(LAYER) and stream.size == len(LAYER)
    stream.close()


def test_stream_drain_raw_after_a_partial_read_copies_the_rest() -> None:
    blob = gzip.compress(LAYER)
    sink = Sink()
    stream = LayerStream(Trickle(blob), sink)  # type: ignore[arg-type]
    assert stream.read(10)
    stream.drain_raw()
    stream.close()
    assert bytes(sink.data) == blob


def test_stream_raises_decode_errors_in_the_reader() -> None:
    blob = bytearray(gzip.compress(os.urandom(1 << 20)))
    blob[500] ^= 0xFF
    sink = Sink()
    stream = LayerStream(io.BytesIO(bytes(blob)), sink)  # type: ignore[arg-type]
    with pytest.raises(zlib.error, match="incorrect data check"):
        stream.drain()
    stream.drain_raw()
    stream.close()
    assert bytes(sink.data) == bytes(blob)


def test_close_does_not_wait_for_a_stalled_source() -> None:
    """An interrupted pull: the source blocks, close() must still return at once."""
    release = threading.Event()

    class Stalling:
        def __init__(self) -> None:
            self.first = True

        def read(self, n: int = -1) -> bytes:
            if self.first:
                self.first = False
                return gzip.compress(b"x" * 100)[:20]
            release.wait(10)
            return b""

    stream = LayerStream(Stalling(), Sink())  # type: ignore[arg-type]
    started = time.monotonic()
    stream.close()
    assert time.monotonic() - started < 1
    release.set()


def test_sink_errors_reach_the_reader() -> None:
    class Full(Sink):
        def write(self, data: bytes) -> int:
            raise OSError(28, "No space left on device")

    stream = LayerStream(io.BytesIO(BIG), Full())  # type: ignore[arg-type]
    with pytest.raises(OSError, match="No space"):
        stream.drain()
        stream.drain_raw()
    stream.close()
