"""The build cache: (parent image, step key) -> the child image a step produced.

A step's key is the sha256 of what determines its result (see ``step_key``): the instruction as
expanded, the build args it used and, for COPY/ADD, a checksum of the selected sources' content
and metadata (never their mtimes). An entry is only trusted while its image still exists with
that parent, so ``rmi`` and GC need no hook here; stale rows are dropped when met. The images
themselves keep their ``parent`` link, which is what makes ``rmi`` of a base refuse.
"""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Optional

from ..errors import NotFound

if TYPE_CHECKING:
    from ..image import Image, ImageStore

MIGRATIONS = [
    """
    CREATE TABLE build_cache (
        parent   TEXT NOT NULL,             -- parent image ID, or "scratch"
        key      TEXT NOT NULL,             -- sha256 of the step's inputs
        image_id TEXT NOT NULL,             -- the image the step produced
        created  TEXT NOT NULL,
        PRIMARY KEY (parent, key)
    );
    CREATE INDEX build_cache_image ON build_cache(image_id);
    """,
]

SCRATCH = "scratch"


def step_key(*parts: Any) -> str:
    """A stable digest of a step's inputs (JSON of ``parts``, sorted keys)."""
    data = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(data.encode("utf-8", "surrogateescape")).hexdigest()


class BuildCache:
    def __init__(self, images: ImageStore) -> None:
        self.images = images
        self.db = images.db
        self.db.ensure_schema("build", MIGRATIONS)

    def lookup(self, parent: Optional[str], key: str) -> Optional[str]:
        """The cached image ID for this step, if it still exists as a child of ``parent``."""
        image = self.lookup_image(parent, key)
        return image.id if image is not None else None

    def lookup_image(self, parent: Optional[str], key: str) -> Optional[Image]:
        """The cached image for this step (loaded once: the builder moves on to it), if it
        still exists as a child of ``parent``."""
        row = self.db.query_one("SELECT image_id FROM build_cache WHERE parent = ? AND key = ?",
                                (parent or SCRATCH, key))
        if row is None:
            return None
        image_id = row["image_id"]
        try:
            image = self.images.get(image_id)
        except NotFound:
            image = None
        if image is None or (image.parent or None) != (parent or None):
            self.forget(parent, key)
            return None
        return image

    def store(self, parent: Optional[str], key: str, image_id: str, created: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("INSERT OR REPLACE INTO build_cache (parent, key, image_id, created) "
                       "VALUES (?, ?, ?, ?)", (parent or SCRATCH, key, image_id, created))

    def forget(self, parent: Optional[str], key: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM build_cache WHERE parent = ? AND key = ?",
                       (parent or SCRATCH, key))

    def forget_image(self, image_id: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM build_cache WHERE image_id = ? OR parent = ?",
                       (image_id, image_id))

    def prune(self) -> int:
        """Drop rows whose image is gone; the number dropped."""
        with self.db.transaction() as tx:
            cur = tx.execute("DELETE FROM build_cache WHERE image_id NOT IN (SELECT id FROM images)")
            return cur.rowcount
