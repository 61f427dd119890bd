"""berth.store: the metadata database, the content-addressed blob store and inter-process locks.

Everything persistent lives under the root dir (BERTH_ROOT); runtime state under the run dir (BERTH_RUN).
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from ..paths import root_dir, run_dir
from .blobs import BlobStore, BlobWriter, check_digest, sha256_digest
from .db import Database

__all__ = ["Store", "BlobStore", "BlobWriter", "Database", "check_digest", "sha256_digest"]

# Writers of blobs/snapshots hold the "gc" lock shared; garbage collection holds it exclusively, so it
# never deletes content an unfinished operation has written but not yet registered.
GC_LOCK = "gc"


class Store:
    def __init__(self, root: str | None = None, run: str | None = None) -> None:
        self.root = os.path.abspath(root or root_dir())
        self.run = os.path.abspath(run or run_dir())
        self.lock_dir = os.path.join(self.root, "locks")
        for path, mode in ((self.root, 0o711), (self.run, 0o711), (self.lock_dir, 0o700)):
            os.makedirs(path, mode=mode, exist_ok=True)
        self._blobs: BlobStore | None = None
        self._db: Database | None = None

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            self._blobs = BlobStore(self.root)
        return self._blobs

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(os.path.join(self.root, "berth.db"))
        return self._db

    def lock(self, name: str, shared: bool = False) -> contextlib.AbstractContextManager[None]:
        from .locks import file_lock  # here: a command that only reads takes no lock

        return file_lock(self.lock_dir, name, shared)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold while writing content that is not yet referenced by the database."""
        with self.lock(GC_LOCK, shared=True):
            yield

    @contextlib.contextmanager
    def collecting(self) -> Iterator[None]:
        """Hold while deleting unreferenced content (excludes every ``writing`` holder)."""
        with self.lock(GC_LOCK):
            yield

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
