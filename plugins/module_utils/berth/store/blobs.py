"""Content-addressed blob store: blobs/sha256/<hex>, written to a temp file, fsynced, verified, renamed."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import DigestMismatch, InvalidArgument, NotFound

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
CHUNK = 1 << 20


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is a well-formed sha256 digest; only sha256 is accepted."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise InvalidArgument(f"invalid digest {digest!r}: expected sha256:<64 hex digits>")
    return digest


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class BlobWriter:
    """Streams one blob into a temp file; ``commit()`` verifies it and moves it into place.

    Leaving the ``with`` block without commit (or with an exception) deletes the temp file, so a
    killed or failed write never leaves a blob under a name it does not hash to.
    """

    def __init__(self, store: BlobStore, expected_digest: str | None, expected_size: int | None) -> None:
        self._store = store
        self.expected_digest = check_digest(expected_digest) if expected_digest else None
        self.expected_size = expected_size
        self.hasher = hashlib.sha256()
        self.size = 0
        fd, self._tmp = tempfile.mkstemp(prefix=".tmp-", dir=store.tmp_dir)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self.digest: str | None = None

    def write(self, data: bytes) -> int:
        if self._file is None:
            raise ValueError("blob writer already closed")
        self.size += len(data)
        if self.expected_size is not None and self.size > self.expected_size:
            raise DigestMismatch(f"blob is larger than its announced size {self.expected_size}")
        self.hasher.update(data)
        self._file.write(data)
        return len(data)

    def hexdigest(self) -> str:
        return self.hasher.hexdigest()

    def commit(self) -> str:
        if self._file is None:
            raise ValueError("blob writer already closed")
        digest = "sha256:" + self.hasher.hexdigest()
        if self.expected_size is not None and self.size != self.expected_size:
            raise DigestMismatch(f"blob {self.expected_digest or digest} has size {self.size}, "
                                 f"expected {self.expected_size}")
        if self.expected_digest and digest != self.expected_digest:
            raise DigestMismatch(f"blob content hashes to {digest}, expected {self.expected_digest}")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        final = self._store.path(digest)
        os.chmod(self._tmp, 0o644)
        os.replace(self._tmp, final)
        self.digest = digest
        return digest

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.digest is None:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


class BlobStore:
    def __init__(self, root: str) -> None:
        self.dir = os.path.join(root, "blobs", "sha256")
        self.tmp_dir = os.path.join(root, "blobs", "tmp")
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs(self.tmp_dir, exist_ok=True)

    def path(self, digest: str) -> str:
        return os.path.join(self.dir, check_digest(digest)[7:])

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: str) -> int:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def writer(self, expected_digest: str | None = None, expected_size: int | None = None) -> BlobWriter:
        return BlobWriter(self, expected_digest, expected_size)

    def write_bytes(self, data: bytes, expected: str | None = None) -> str:
        digest = sha256_digest(data)
        if expected and check_digest(expected) != digest:
            raise DigestMismatch(f"content hashes to {digest}, expected {expected}")
        if self.exists(digest):
            return digest
        with self.writer(digest, len(data)) as w:
            w.write(data)
            return w.commit()

    def write_stream(self, stream: BinaryIO, expected: str | None = None,
                     size: int | None = None) -> str:
        with self.writer(expected, size) as w:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                w.write(chunk)
            return w.commit()

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def list(self) -> Iterator[str]:
        for name in os.listdir(self.dir):
            if len(name) == 64:
                yield "sha256:" + name

    def clean_temp(self) -> None:
        """Remove temp files left by writers that were killed (call under the exclusive gc lock)."""
        for name in os.listdir(self.tmp_dir):
            try:
                os.unlink(os.path.join(self.tmp_dir, name))
            except FileNotFoundError:
                pass
