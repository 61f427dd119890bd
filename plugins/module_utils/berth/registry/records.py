"""What the registry package remembers in the metadata db (component "registry").

``compressed_layers``: the gzip blob made once for a layer whose stored blob is an uncompressed tar
(imported, loaded, committed), so every later push reuses it instead of compressing again. The blob
is kept alive by a ``content_refs`` row (holder ``layer:<diff_id>``).

``blob_sources``: registries and repositories known to hold a blob (it was pulled from or pushed to
them), so a push to the same registry can mount the blob from there instead of uploading it.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..store import Database

MIGRATIONS = [
    """
    CREATE TABLE compressed_layers (
        diff_id     TEXT PRIMARY KEY,
        blob_digest TEXT NOT NULL,
        blob_size   INTEGER NOT NULL,
        media_type  TEXT NOT NULL
    );
    CREATE TABLE blob_sources (
        digest     TEXT NOT NULL,
        registry   TEXT NOT NULL,   -- host[:port] as in references: docker.io, 127.0.0.1:5000
        repository TEXT NOT NULL,   -- path inside the registry: library/busybox
        PRIMARY KEY (digest, registry, repository)
    );
    """,
]

# Sources remembered per blob and registry: enough to find a mount, bounded for hot base layers.
MAX_SOURCES = 5


@dataclass(frozen=True)
class CompressedLayer:
    diff_id: str
    blob_digest: str
    blob_size: int
    media_type: str


class Records:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema("registry", MIGRATIONS)

    def compressed(self, diff_id: str) -> CompressedLayer | None:
        row = self.db.query_one("SELECT * FROM compressed_layers WHERE diff_id = ?", (diff_id,))
        if row is None:
            return None
        return CompressedLayer(row["diff_id"], row["blob_digest"], row["blob_size"], row["media_type"])

    def add_compressed(self, layer: CompressedLayer) -> None:
        with self.db.transaction() as tx:
            tx.execute("INSERT OR REPLACE INTO compressed_layers (diff_id, blob_digest, blob_size, "
                       "media_type) VALUES (?, ?, ?, ?)",
                       (layer.diff_id, layer.blob_digest, layer.blob_size, layer.media_type))
            tx.execute("INSERT OR IGNORE INTO content_refs (digest, holder) VALUES (?, ?)",
                       (layer.blob_digest, "layer:" + layer.diff_id))

    def forget_compressed(self, diff_id: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM compressed_layers WHERE diff_id = ?", (diff_id,))
            tx.execute("DELETE FROM content_refs WHERE holder = ?", ("layer:" + diff_id,))

    def add_sources(self, registry: str, repository: str, digests: list[str]) -> None:
        with self.db.transaction() as tx:
            for digest in digests:
                tx.execute("INSERT OR IGNORE INTO blob_sources (digest, registry, repository) "
                           "VALUES (?, ?, ?)", (digest, registry, repository))
                # Keep the newest few per registry; rowid order is insertion order.
                tx.execute("DELETE FROM blob_sources WHERE digest = ? AND registry = ? AND rowid NOT IN "
                           "(SELECT rowid FROM blob_sources WHERE digest = ? AND registry = ? "
                           "ORDER BY rowid DESC LIMIT ?)", (digest, registry, digest, registry, MAX_SOURCES))

    def sources(self, digest: str, registry: str) -> list[str]:
        """Repositories of ``registry`` known to hold ``digest``, newest first."""
        return [r["repository"] for r in self.db.query(
            "SELECT repository FROM blob_sources WHERE digest = ? AND registry = ? ORDER BY rowid DESC",
            (digest, registry))]
