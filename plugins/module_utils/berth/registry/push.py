"""``berth push``: an image from the store to its registry.

Every layer is pushed as a compressed blob. A layer stored uncompressed (imported, loaded) is
gzipped once, reproducibly, and the result is remembered (records.compressed_layers), so later pushes
send the same blob without compressing again. Blobs the registry has are skipped (HEAD); blobs it
holds in another repository are mounted; the rest are uploaded (one PUT when small, else streamed
from the blob file in one PATCH, closed by a PUT once the bytes sent hash to the digest). Then the
manifest: the stored one when it still describes these blobs, else a new one.
"""
from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..errors import BerthError, DigestMismatch, InvalidArgument, NotFound
from ..image import Image, ImageStore, Layer
from ..image import compression
from ..image import manifest as mf
from ..image import mediatypes as mt
from ..image import reference
from ..store import sha256_digest
from .client import RegistryClient
from .config import DaemonConfig
from .credentials import CredentialStore
from .errors import InvalidResponse
from .progress import Progress
from .records import CompressedLayer, Records
from .registry import Registry

DEFAULT_WORKERS = 3
CHUNK = 1 << 20
_COMPRESSED = {mt.OCI_LAYER_GZIP: compression.GZIP, mt.DOCKER_LAYER_GZIP: compression.GZIP,
               mt.OCI_LAYER_NONDIST_GZIP: compression.GZIP, mt.DOCKER_LAYER_FOREIGN: compression.GZIP,
               mt.OCI_LAYER_ZSTD: compression.ZSTD}
_DOCKER_TYPES = (mt.DOCKER_LAYER_GZIP, mt.DOCKER_LAYER_FOREIGN)


class PushCancelled(BerthError):
    """Another layer failed or the user interrupted: stop uploading."""


@dataclass(frozen=True)
class _Blob:
    media_type: str
    digest: str
    size: int


def push(images: ImageStore, ref: str, progress: Progress | None = None,
         config: DaemonConfig | None = None, credentials: CredentialStore | None = None,
         workers: int = DEFAULT_WORKERS, chunk_size: int | None = None) -> str:
    """Push the image tagged ``ref`` (name[:tag]) to its registry; return the manifest digest."""
    progress = progress or Progress()
    parsed = reference.parse(ref)
    if parsed.digest:
        raise InvalidArgument(f"cannot push a digest reference: {ref}")
    try:
        image = images.resolve(str(parsed))
    except NotFound:
        raise NotFound(f"An image does not exist locally with the tag: {parsed.familiar_repository}") \
            from None
    records = Records(images.db)
    progress.message(f"The push refers to repository [{parsed.repository}]")
    with Registry(parsed.domain, config, credentials, chunk_size=chunk_size or None) as registry:
        client = registry.origin()
        with images.store.writing():  # gzip blobs made here are referenced only at the end
            layer_blobs = _push_layers(client, images, records, image, parsed, progress, workers)
        config_blob = _Blob(mt.OCI_CONFIG, image.id, images.store.blobs.size(image.id))
        _push_blob(client, images, records, parsed, config_blob, None, Progress(), threading.Event())
        raw, media_type = _manifest_for(images, image, config_blob, layer_blobs)
        digest = client.put_manifest(parsed.path, parsed.tag or reference.DEFAULT_TAG, raw, media_type)
    if digest != sha256_digest(raw):
        raise InvalidResponse(f"registry stored the manifest of {parsed.familiar} as {digest}")
    images.add_repo_digest(parsed.repository, digest, image.id)
    records.add_sources(parsed.domain, parsed.path, [image.id] + [b.digest for b in layer_blobs])
    progress.message(f"{parsed.tag or reference.DEFAULT_TAG}: digest: {digest} size: {len(raw)}")
    return digest


def _push_layers(client: RegistryClient, images: ImageStore, records: Records, image: Image,
                 parsed: reference.Reference, progress: Progress, workers: int) -> list[_Blob]:
    for layer in image.layers:
        progress.layer(layer.diff_id, "Preparing")
    made: dict[str, CompressedLayer] = {}  # compressed by this push: recorded even if it fails
    cancel = threading.Event()
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="berth-push") as pool:
            futures: list[Future[_Blob]] = [
                pool.submit(_push_layer, client, images, records, layer, parsed, progress, made, cancel)
                for layer in image.layers]
            try:
                done, _pending = wait(futures, return_when=FIRST_EXCEPTION)
            except BaseException:
                cancel.set()
                raise
            errors = [f.exception() for f in done if f.exception() is not None]
            if errors:
                cancel.set()  # stops uploads in flight at their next read
                for other in futures:
                    other.cancel()
                raise errors[0]  # type: ignore[misc]
            return [f.result() for f in futures]
    finally:
        for layer in made.values():
            records.add_compressed(layer)


def _push_layer(client: RegistryClient, images: ImageStore, records: Records, layer: Layer,
                parsed: reference.Reference, progress: Progress, made: dict[str, CompressedLayer],
                cancel: threading.Event) -> _Blob:
    if cancel.is_set():
        raise PushCancelled("push cancelled")
    blob = _compressed_blob(images, records, layer, progress, made)
    _push_blob(client, images, records, parsed, blob, layer.diff_id, progress, cancel)
    return blob


def _compressed_blob(images: ImageStore, records: Records, layer: Layer, progress: Progress,
                     made: dict[str, CompressedLayer]) -> _Blob:
    """The blob to push for ``layer``: its own if compressed, else its gzip (made once, then reused)."""
    blobs = images.store.blobs
    if layer.media_type in _COMPRESSED:
        return _Blob(layer.media_type, layer.blob_digest, layer.blob_size)
    with blobs.open(layer.blob_digest) as f:
        kind = compression.detect(compression.read_head(f))
    if kind == compression.GZIP:  # recorded as plain but already gzip
        return _Blob(mt.OCI_LAYER_GZIP, layer.blob_digest, layer.blob_size)
    if kind != compression.NONE:
        raise InvalidArgument(f"layer {layer.blob_digest} is {kind}-compressed; cannot push it")
    known = records.compressed(layer.diff_id)
    if known is not None and blobs.exists(known.blob_digest):
        return _Blob(known.media_type, known.blob_digest, known.blob_size)
    progress.layer(layer.diff_id, "Compressing")
    made[layer.diff_id] = _gzip_layer(images, layer)
    compressed = made[layer.diff_id]
    return _Blob(compressed.media_type, compressed.blob_digest, compressed.blob_size)


def _gzip_layer(images: ImageStore, layer: Layer) -> CompressedLayer:
    blobs = images.store.blobs
    hasher = hashlib.sha256()
    with blobs.open(layer.blob_digest) as source, blobs.writer() as out:
        with compression.gzip_writer(out) as gz:  # type: ignore[arg-type]
            while True:
                chunk = source.read(CHUNK)
                if not chunk:
                    break
                hasher.update(chunk)
                gz.write(chunk)
        if "sha256:" + hasher.hexdigest() != layer.diff_id:
            raise DigestMismatch(f"stored layer {layer.blob_digest} does not match its DiffID {layer.diff_id}")
        digest = out.commit()
        return CompressedLayer(layer.diff_id, digest, out.size, mt.OCI_LAYER_GZIP)


class _Counting:
    """A blob file that reports how much of it was read (the upload's progress)."""

    def __init__(self, f: BinaryIO, on_read: Any, cancel: threading.Event) -> None:
        self._f, self._on_read, self._cancel, self.done = f, on_read, cancel, 0

    def read(self, n: int = -1) -> bytes:
        if self._cancel.is_set():
            raise PushCancelled("push cancelled")
        data = self._f.read(n)
        self.done += len(data)
        self._on_read(self.done)
        return data


def _push_blob(client: RegistryClient, images: ImageStore, records: Records, parsed: reference.Reference,
               blob: _Blob, ident: str | None, progress: Progress, cancel: threading.Event) -> str:
    """Make the registry hold ``blob`` in the repository: "exists", "mounted" or "uploaded"."""
    ident = ident or blob.digest
    repo = parsed.path
    remote = client.head_blob(repo, blob.digest)
    if remote is not None:
        if remote != blob.size:
            raise InvalidResponse(f"registry {client.host} has blob {blob.digest} with size {remote}, "
                                  f"expected {blob.size}")
        progress.layer(ident, "Layer already exists")
        return "exists"
    for source in records.sources(blob.digest, parsed.domain):
        if source != repo and client.mount_blob(repo, blob.digest, source):
            progress.layer(ident, f"Mounted from {source}")
            return "mounted"
    progress.layer(ident, "Pushing", 0, blob.size)
    with images.store.blobs.open(blob.digest) as f:
        counting = _Counting(f, lambda n: progress.layer(ident, "Pushing", n, blob.size), cancel)
        client.upload_blob(repo, blob.digest, blob.size, counting)  # type: ignore[arg-type]
    progress.layer(ident, "Pushed")
    return "uploaded"


def _manifest_for(images: ImageStore, image: Image, config_blob: _Blob,
                  layers: list[_Blob]) -> tuple[bytes, str]:
    """(raw manifest, media type): the image's stored manifest if it names exactly these blobs,
    else a Docker v2 manifest when every layer has a Docker media type, else an OCI manifest."""
    stored = _stored_manifest(images, image)
    if stored is not None:
        raw, media_type = stored
        config_desc, layer_descs = mf.parse_manifest(raw, media_type)
        if config_desc["digest"] == image.id and \
                [(d["digest"], d["size"]) for d in layer_descs] == [(b.digest, b.size) for b in layers]:
            return raw, media_type
    if layers and all(b.media_type in _DOCKER_TYPES for b in layers):
        doc = {"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST,
               "config": mf.descriptor(mt.DOCKER_CONFIG, config_blob.digest, config_blob.size),
               "layers": [mf.descriptor(b.media_type, b.digest, b.size) for b in layers]}
        return json.dumps(doc, separators=(",", ":")).encode(), mt.DOCKER_MANIFEST
    return mf.oci_manifest(config_blob.digest, config_blob.size,
                           [(b.media_type, b.digest, b.size) for b in layers]), mt.OCI_MANIFEST


def _stored_manifest(images: ImageStore, image: Image) -> tuple[bytes, str] | None:
    if not image.manifest_digest or image.manifest_media_type not in mt.MANIFEST_TYPES:
        return None
    blobs = images.store.blobs
    if not blobs.exists(image.manifest_digest):
        return None
    return blobs.read(image.manifest_digest), image.manifest_media_type
