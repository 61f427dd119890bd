"""Moving single blobs between the local blob store and a registry, skipping work already done.

The image store composes these into pull and push; callers hold ``Store.writing()`` around a pull so
garbage collection cannot remove a blob before it is referenced.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Union

from ..errors import DigestMismatch
from ..store.blobs import BlobStore
from .client import RegistryClient
from .errors import InvalidResponse
from .registry import Registry

Source = Union[RegistryClient, Registry]


def fetch_blob(source: Source, blobs: BlobStore, repo: str, digest: str, size: int | None = None) -> bool:
    """Download ``digest`` into ``blobs`` unless it is there; False if it was already present.

    The blob writer hashes the content as it streams (the only pass over it) and nothing is
    committed unless it matches ``digest``: a bad blob leaves nothing behind."""
    if blobs.exists(digest):
        return False
    with blobs.writer(digest, size) as writer:
        source.get_blob(repo, digest, writer, size, verify=False)
        actual = "sha256:" + writer.hexdigest()
        if actual != digest:
            raise DigestMismatch(f"blob {source.host}/{repo}@{digest} failed verification: content hashes "
                                 f"to {actual}")
        writer.commit()
    return True


def push_blob(client: RegistryClient, blobs: BlobStore, repo: str, digest: str,
              mount_from: Iterable[str] = ()) -> str:
    """Make the registry hold ``digest`` in ``repo``: "exists" (HEAD found it), "mounted" (linked
    from another repository of the same registry) or "uploaded"."""
    size = blobs.size(digest)
    remote = client.head_blob(repo, digest)
    if remote is not None:
        if remote != size:
            raise InvalidResponse(f"registry {client.host} has blob {digest} with size {remote}, "
                                  f"expected {size}")
        return "exists"
    for source in mount_from:
        if source != repo and client.mount_blob(repo, digest, source):
            return "mounted"
    with blobs.open(digest) as f:
        client.upload_blob(repo, digest, size, f)
    return "uploaded"
