"""Tables of the image component (see berth.store.db.Database.ensure_schema)."""
from __future__ import annotations

MIGRATIONS = [
    """
    CREATE TABLE images (
        id                  TEXT PRIMARY KEY,   -- sha256 of the config bytes
        parent              TEXT,               -- local parent (builds, commit): blocks its deletion
        manifest_digest     TEXT,               -- distribution manifest, when the image came with one
        manifest_media_type TEXT,
        created             TEXT NOT NULL,      -- from the config
        size                INTEGER NOT NULL,   -- unpacked bytes of all layers
        added               TEXT NOT NULL,
        last_tag_time       TEXT
    );
    CREATE TABLE image_layers (
        image_id    TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        diff_id     TEXT NOT NULL,
        chain_id    TEXT NOT NULL,
        blob_digest TEXT NOT NULL,
        blob_size   INTEGER NOT NULL,
        media_type  TEXT NOT NULL,
        diff_size   INTEGER,                    -- bytes of the uncompressed tar, when known
        PRIMARY KEY (image_id, position)
    );
    CREATE INDEX image_layers_chain ON image_layers(chain_id);
    CREATE INDEX image_layers_blob ON image_layers(blob_digest);
    CREATE TABLE snapshots (
        chain_id TEXT PRIMARY KEY,
        size     INTEGER NOT NULL
    );
    CREATE TABLE tags (
        name     TEXT PRIMARY KEY,              -- fully qualified: docker.io/library/busybox:latest
        image_id TEXT NOT NULL REFERENCES images(id)
    );
    CREATE INDEX tags_image ON tags(image_id);
    CREATE TABLE repo_digests (
        repository TEXT NOT NULL,
        digest     TEXT NOT NULL,
        image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        PRIMARY KEY (repository, digest)
    );
    -- Who uses an image (e.g. "container:<id>"): such an image is not deleted.
    CREATE TABLE image_users (
        image_id TEXT NOT NULL REFERENCES images(id),
        holder   TEXT NOT NULL,
        PRIMARY KEY (image_id, holder)
    );
    -- Blobs that other components keep alive (build cache, pushed compressed layers, ...).
    -- A holder "image:<image id>" or "layer:<diff id>" is dropped by GC with that image or layer.
    CREATE TABLE content_refs (
        digest TEXT NOT NULL,
        holder TEXT NOT NULL,
        PRIMARY KEY (digest, holder)
    );
    """,
]
