"""The image store: registers images (config + layers + tags) and resolves references to them.

Content (configs, layer blobs) and snapshots are written first; an image becomes visible only in the
single transaction that inserts its rows, so a killed command never leaves a half-registered image.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import Conflict, InvalidArgument, NotFound
from ..store import Store
from ..values import Value, field
from . import config as image_config
from . import reference
from .schema import MIGRATIONS
from .snapshots import LayerInfo, Snapshots


class Layer(Value):
    diff_id: str
    chain_id: str
    blob_digest: str
    blob_size: int
    media_type: str
    diff_size: int | None = None


class Image(Value):
    id: str
    created: str
    size: int
    added: str
    parent: str | None = None
    manifest_digest: str | None = None
    manifest_media_type: str | None = None
    last_tag_time: str | None = None
    tags: list[str] = field(default_factory=list)  # fully qualified names
    repo_digests: list[str] = field(default_factory=list)  # repository@digest
    layers: list[Layer] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[7:19]

    @property
    def diff_ids(self) -> list[str]:
        return [layer.diff_id for layer in self.layers]

    @property
    def familiar_tags(self) -> list[str]:
        return [reference.parse(t).familiar for t in self.tags]

    @property
    def familiar_digests(self) -> list[str]:
        out = []
        for entry in self.repo_digests:
            repo, _sep, digest = entry.partition("@")
            out.append(reference.parse(repo, default_tag=False).familiar_repository + "@" + digest)
        return out

    def tag_named_by(self, text: str) -> str | None:
        """The tag ``text`` names, when the user named this image by one of its tags (not by ID)."""
        if reference.parse_id(text):
            return None
        try:
            ref = reference.parse(text)
        except InvalidArgument:
            return None
        return str(ref) if not ref.digest and str(ref) in self.tags else None

    @property
    def labels(self) -> dict[str, str]:
        return (self.config.get("config") or {}).get("Labels") or {}


class ImageStore:
    def __init__(self, store: Store | None = None) -> None:
        self.store = store or Store()
        self.db = self.store.db
        self.db.ensure_schema("image", MIGRATIONS)
        self.snapshots = Snapshots(self.store)

    # -- registration -------------------------------------------------------------------------

    def register(self, config_bytes: bytes, layers: Sequence[LayerInfo], tags: Iterable[str] = (),
                 parent: str | None = None, manifest_digest: str | None = None,
                 manifest_media_type: str | None = None) -> Image:
        """Make an image visible. Its config blob, layer blobs and snapshots must already exist."""
        config = image_config.validate(config_bytes)
        diff_ids = config["rootfs"]["diff_ids"]
        if list(diff_ids) != [layer.diff_id for layer in layers]:
            raise InvalidArgument("image config's rootfs.diff_ids do not match its layers")
        image_id = self.store.blobs.write_bytes(config_bytes)
        names = [str(reference.parse(t)) for t in tags]
        now = image_config.now_rfc3339()
        with self.db.transaction() as tx:
            for layer in layers:
                if layer.content_size is not None:
                    tx.execute("INSERT OR IGNORE INTO snapshots (chain_id, size) VALUES (?, ?)",
                               (layer.chain_id, layer.content_size))
                elif tx.execute("SELECT 1 FROM snapshots WHERE chain_id = ?",
                                (layer.chain_id,)).fetchone() is None:
                    # Present on disk from an earlier run that died before registering it.
                    tx.execute("INSERT INTO snapshots (chain_id, size) VALUES (?, ?)",
                               (layer.chain_id, _tree_size(self.snapshots.path(layer.chain_id))))
            size = sum(row["size"] for row in (
                tx.execute("SELECT size FROM snapshots WHERE chain_id = ?", (layer.chain_id,)).fetchone()
                for layer in layers) if row)
            exists = tx.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone()
            if exists:
                if manifest_digest:
                    tx.execute("UPDATE images SET manifest_digest = ?, manifest_media_type = ? "
                               "WHERE id = ?", (manifest_digest, manifest_media_type, image_id))
            else:
                tx.execute("INSERT INTO images (id, parent, manifest_digest, manifest_media_type, "
                           "created, size, added) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (image_id, parent, manifest_digest, manifest_media_type,
                            str(config.get("created") or ""), size, now))
                tx.executemany(
                    "INSERT INTO image_layers (image_id, position, diff_id, chain_id, blob_digest, "
                    "blob_size, media_type, diff_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(image_id, i, layer.diff_id, layer.chain_id, layer.blob_digest, layer.blob_size,
                      layer.media_type, layer.diff_size) for i, layer in enumerate(layers)])
            for name in names:
                self._set_tag(tx, name, image_id, now)
        return self.get(image_id)

    def add_repo_digest(self, repository: str, digest: str, image_id: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("INSERT OR REPLACE INTO repo_digests (repository, digest, image_id) "
                       "VALUES (?, ?, ?)", (repository, digest, image_id))

    def tag(self, source: str, target: str) -> Image:
        image = self.resolve(source)
        ref = reference.parse(target)
        if ref.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {target}")
        with self.db.transaction() as tx:
            self._set_tag(tx, str(ref), image.id, image_config.now_rfc3339())
        return self.get(image.id)

    @staticmethod
    def _set_tag(tx: Any, name: str, image_id: str, now: str) -> None:
        tx.execute("INSERT INTO tags (name, image_id) VALUES (?, ?) "
                   "ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id", (name, image_id))
        tx.execute("UPDATE images SET last_tag_time = ? WHERE id = ?", (now, image_id))

    # -- users: containers (and others) that keep an image alive ------------------------------

    def add_user(self, image_id: str, holder: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("INSERT OR IGNORE INTO image_users (image_id, holder) VALUES (?, ?)",
                       (image_id, holder))

    def remove_user(self, image_id: str, holder: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM image_users WHERE image_id = ? AND holder = ?", (image_id, holder))

    def users(self, image_id: str) -> list[str]:
        return [r["holder"] for r in self.db.query(
            "SELECT holder FROM image_users WHERE image_id = ? ORDER BY holder", (image_id,))]

    # -- lookup -------------------------------------------------------------------------------

    def get(self, image_id: str) -> Image:
        row = self.db.query_one("SELECT * FROM images WHERE id = ?", (image_id,))
        if row is None:
            raise NotFound(f"No such image: {image_id}")
        return self._load(row)

    def _load(self, row: Any) -> Image:
        image = Image(id=row["id"], created=row["created"], size=row["size"], added=row["added"],
                      parent=row["parent"], manifest_digest=row["manifest_digest"],
                      manifest_media_type=row["manifest_media_type"],
                      last_tag_time=row["last_tag_time"])
        image.tags = [r["name"] for r in self.db.query(
            "SELECT name FROM tags WHERE image_id = ? ORDER BY name", (image.id,))]
        image.repo_digests = [f"{r['repository']}@{r['digest']}" for r in self.db.query(
            "SELECT repository, digest FROM repo_digests WHERE image_id = ? ORDER BY repository",
            (image.id,))]
        image.layers = [Layer(r["diff_id"], r["chain_id"], r["blob_digest"], r["blob_size"],
                              r["media_type"], r["diff_size"]) for r in self.db.query(
            "SELECT * FROM image_layers WHERE image_id = ? ORDER BY position", (image.id,))]
        image.config = json.loads(self.store.blobs.read(image.id))
        return image

    def resolve(self, text: str) -> Image:
        """Find an image by full ID, name[:tag], name@digest, or unique ID prefix (in that order)."""
        full_id = reference.parse_id(text)
        if full_id:
            return self.get(full_id)
        ref: reference.Reference | None
        try:
            ref = reference.parse(text)
        except InvalidArgument:
            ref = None
        if ref is not None:
            if ref.digest:
                row = self.db.query_one("SELECT image_id FROM repo_digests WHERE repository = ? AND "
                                        "digest = ?", (ref.repository, ref.digest))
                if row is None:  # a digest may also name the image's manifest or config
                    row = self.db.query_one(
                        "SELECT i.id AS image_id FROM images i JOIN tags t ON t.image_id = i.id "
                        "WHERE (i.manifest_digest = ? OR i.id = ?) AND t.name LIKE ? LIMIT 1",
                        (ref.digest, ref.digest, ref.repository + ":%"))
            else:
                row = self.db.query_one("SELECT image_id FROM tags WHERE name = ?", (str(ref),))
            if row is not None:
                return self.get(row["image_id"])
        prefix = reference.id_prefix(text)
        if prefix:
            rows = self.db.query("SELECT id FROM images WHERE id LIKE ? LIMIT 2",
                                 ("sha256:" + prefix + "%",))
            if len(rows) == 1:
                return self.get(rows[0]["id"])
            if len(rows) > 1:
                raise Conflict(f"image ID prefix {text} is ambiguous")
        if ref is None and not prefix:
            reference.parse(text)  # re-raise the reference format error
        raise NotFound(f"No such image: {text}")

    def exists(self, text: str) -> bool:
        try:
            self.resolve(text)
            return True
        except NotFound:
            return False

    def all(self) -> list[Image]:
        return [self._load(r) for r in self.db.query("SELECT * FROM images ORDER BY added DESC, id")]

    def children(self, image_id: str) -> list[str]:
        return [r["id"] for r in self.db.query("SELECT id FROM images WHERE parent = ?", (image_id,))]

    def lowerdirs(self, image: Image) -> list[str]:
        """overlayfs lowerdirs for a container of ``image``, top layer first."""
        return [self.snapshots.path(layer.chain_id) for layer in reversed(image.layers)]


def _tree_size(path: str) -> int:
    import os

    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total
