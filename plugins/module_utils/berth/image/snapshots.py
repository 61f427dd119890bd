"""Snapshots: each layer unpacked once into its own directory, keyed by ChainID.

A snapshot dir holds only its layer's changes with whiteouts in overlayfs form, like Docker's overlay2
diff dirs, so an image's root filesystem is an overlay mount of its snapshots as lowerdirs. A snapshot
dir appears under its final name only by an atomic rename after the layer was fully applied; a killed
unpack leaves a ``.tmp-*`` dir that garbage collection removes.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import zlib
from typing import TYPE_CHECKING, BinaryIO

from ..errors import BerthError, DigestMismatch, InvalidArgument
from ..store import Store, check_digest
from ..values import Value

if TYPE_CHECKING:
    from .layerstream import LayerStream

CHUNK = 1 << 20


def _corrupt_errors() -> tuple[type[BaseException], ...]:
    """What a truncated or corrupted layer stream raises from the stdlib decoders."""
    import lzma
    import tarfile

    return (tarfile.TarError, zlib.error, lzma.LZMAError, EOFError, OSError)


def chain_ids(diff_ids: list[str]) -> list[str]:
    """ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln))."""
    result: list[str] = []
    for diff_id in diff_ids:
        if not result:
            result.append(diff_id)
        else:
            result.append("sha256:" + hashlib.sha256(f"{result[-1]} {diff_id}".encode()).hexdigest())
    return result


class LayerInfo(Value, frozen=True):
    diff_id: str  # sha256 of the uncompressed tar
    blob_digest: str  # sha256 of the bytes as stored (maybe compressed)
    blob_size: int
    media_type: str
    chain_id: str
    content_size: int | None = None  # bytes unpacked; None when the snapshot already existed
    diff_size: int | None = None  # bytes of the uncompressed tar stream


class Snapshots:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.dir = os.path.join(store.root, "snapshots")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)

    def path(self, chain_id: str) -> str:
        return os.path.join(self.dir, check_digest(chain_id)[7:])

    def exists(self, chain_id: str) -> bool:
        return os.path.isdir(self.path(chain_id))

    def lowerdirs(self, diff_ids: list[str]) -> list[str]:
        """overlayfs lowerdirs for an image, top layer first."""
        return [self.path(c) for c in reversed(chain_ids(diff_ids))]

    def ingest(self, raw: BinaryIO, parent_chain: str | None, media_type: str,
               expected_blob: str | None = None, expected_size: int | None = None,
               expected_diff_id: str | None = None) -> LayerInfo:
        """Store a layer blob and unpack it in one pass; verify every digest that is announced.

        Caller holds ``store.writing()``. Work that is already done (blob or snapshot present) is
        skipped; a mismatch anywhere raises DigestMismatch and leaves nothing registered.
        """
        # tar, the decoders and their threads: imported by the commands that unpack, not by every
        # command that resolves an image to its snapshot dirs
        from . import layers
        from .layerstream import LayerStream

        blobs = self.store.blobs
        chain = _chain(parent_chain, expected_diff_id) if expected_diff_id else None
        have_blob = bool(expected_blob) and blobs.exists(expected_blob)  # type: ignore[arg-type]
        if have_blob and chain and self.exists(chain):
            return LayerInfo(expected_diff_id, expected_blob, blobs.size(expected_blob),  # type: ignore[arg-type]
                             media_type, chain, None, None)
        import tempfile  # here: resolving and tagging images (a cached build) never unpacks

        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=self.dir)
        try:
            with blobs.writer(expected_blob, expected_size) as writer:
                source: BinaryIO = raw if not have_blob else blobs.open(expected_blob)  # type: ignore[arg-type]
                stream: LayerStream | None = None
                try:
                    stream = LayerStream(source, writer if not have_blob else None)
                    unpack = not (chain and self.exists(chain))
                    try:
                        content_size = layers.apply_layer(stream, tmp) if unpack else None  # type: ignore[arg-type]
                        stream.drain()
                    except (BerthError, *_corrupt_errors()) as exc:
                        # A corrupt stream is best reported as what it is when a digest was announced.
                        stream.drain_raw()
                        if not have_blob and expected_blob and writer.hexdigest() != expected_blob[7:]:
                            raise DigestMismatch(f"layer blob hashes to sha256:{writer.hexdigest()}, "
                                                 f"expected {expected_blob}") from None
                        if isinstance(exc, BerthError):
                            raise
                        raise InvalidArgument(f"invalid layer: {exc or type(exc).__name__}") from None
                    stream.drain_raw()  # bytes after the compressed stream still belong to the blob
                    diff_id = stream.diff_id
                    if expected_diff_id and diff_id != expected_diff_id:
                        raise DigestMismatch(f"layer content hashes to {diff_id}, expected DiffID "
                                             f"{expected_diff_id}")
                    blob = expected_blob if have_blob else writer.commit()
                finally:
                    if stream is not None:
                        stream.close()
                    if have_blob:
                        source.close()
            chain = chain or _chain(parent_chain, diff_id)
            if unpack:
                try:
                    os.rename(tmp, self.path(chain))
                except OSError:
                    if not self.exists(chain):  # lost a race with another process: theirs is as good
                        raise
            return LayerInfo(diff_id, blob, blobs.size(blob), media_type, chain,  # type: ignore[arg-type]
                             content_size, stream.size)  # type: ignore[union-attr]
        finally:
            if os.path.isdir(tmp):
                shutil.rmtree(tmp, ignore_errors=True)

    def remove(self, chain_id: str) -> None:
        """Delete a snapshot dir: renamed away first so no reader ever sees half a tree."""
        path = self.path(chain_id)
        if not os.path.isdir(path):
            return
        import tempfile

        doomed = tempfile.mkdtemp(prefix=".tmp-rm-", dir=self.dir)
        os.rename(path, os.path.join(doomed, "x"))
        shutil.rmtree(doomed, ignore_errors=True)

    def list(self) -> list[str]:
        return ["sha256:" + n for n in os.listdir(self.dir) if len(n) == 64]

    def clean_temp(self) -> None:
        """Remove dirs of unpacks that were killed (call under the exclusive gc lock)."""
        for name in os.listdir(self.dir):
            if name.startswith(".tmp-"):
                shutil.rmtree(os.path.join(self.dir, name), ignore_errors=True)


def _chain(parent: str | None, diff_id: str) -> str:
    if parent is None:
        return diff_id
    return "sha256:" + hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()
