"""Untagging and deleting images with Docker's rules, pruning, and garbage collection of content."""
from __future__ import annotations

from typing import Any

from ..errors import Conflict, NotFound
from . import reference
from .images import Image, ImageStore


def remove(images: ImageStore, text: str, force: bool = False, prune: bool = True) -> list[dict[str, str]]:
    """``berth rmi``: returns Docker's list of ``{"Untagged": ...}`` / ``{"Deleted": ...}`` records."""
    image = images.resolve(text)
    tag = image.tag_named_by(text)
    users = images.users(image.id)
    report: list[dict[str, str]] = []
    if tag is not None:
        if len(image.tags) > 1 or images.children(image.id):
            _untag(images, tag, report)  # other references keep the image
            return report
        if users:
            if not force:
                raise Conflict(f"conflict: unable to remove repository reference \"{text}\" (must "
                               f"force) - {_user_text(users)} is using its referenced image "
                               f"{image.short_id}")
            _untag(images, tag, report)
            return report
    else:
        if len(image.tags) > 1 and not force:
            raise Conflict(f"conflict: unable to delete {image.short_id} (must be forced) - image is "
                           f"referenced in multiple repositories")
        if users:
            raise Conflict(f"conflict: unable to delete {image.short_id} (cannot be forced) - image is "
                           f"being used by {_user_text(users)}")
        if images.children(image.id):
            raise Conflict(f"conflict: unable to delete {image.short_id} (cannot be forced) - image "
                           f"has dependent child images")
    for name in image.tags:
        _untag(images, name, report)
    _delete(images, image, report, prune)
    collect_garbage(images, report)
    return report


def _user_text(users: list[str]) -> str:
    kind, _sep, ident = users[0].partition(":")
    return f"{kind} {ident[:12]}"


def _untag(images: ImageStore, name: str, report: list[dict[str, str]]) -> None:
    with images.db.transaction() as tx:
        tx.execute("DELETE FROM tags WHERE name = ?", (name,))
    report.append({"Untagged": reference.parse(name).familiar})


def _delete(images: ImageStore, image: Image, report: list[dict[str, str]], prune: bool) -> None:
    with images.db.transaction() as tx:
        for entry in image.repo_digests:
            report.append({"Untagged": entry})
        tx.execute("DELETE FROM repo_digests WHERE image_id = ?", (image.id,))
        tx.execute("DELETE FROM tags WHERE image_id = ?", (image.id,))
        tx.execute("DELETE FROM images WHERE id = ?", (image.id,))
    report.append({"Deleted": image.id})
    parent_id = image.parent
    if prune and parent_id:
        try:
            parent = images.get(parent_id)
        except NotFound:
            return
        if not parent.tags and not images.children(parent.id) and not images.users(parent.id):
            _delete(images, parent, report, prune)


def prune(images: ImageStore, all_unused: bool = False,
          label_filters: list[str] | None = None) -> dict[str, Any]:
    """Remove dangling images (no tag), or with ``all_unused`` every image no container uses."""
    from .listing import matches_labels

    deleted: list[dict[str, str]] = []
    before = _snapshot_bytes(images)
    changed = True
    while changed:  # deleting a child may leave its parent removable
        changed = False
        for image in images.all():
            if image.tags and not all_unused:
                continue
            if images.users(image.id) or images.children(image.id):
                continue
            if label_filters and not matches_labels(image, label_filters):
                continue
            for name in image.tags:
                _untag(images, name, deleted)
            _delete(images, image, deleted, prune=False)
            changed = True
    collect_garbage(images, deleted)
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": before - _snapshot_bytes(images)}


def _snapshot_bytes(images: ImageStore) -> int:
    row = images.db.query_one("SELECT COALESCE(SUM(size), 0) AS n FROM snapshots")
    return int(row["n"]) if row else 0


def collect_garbage(images: ImageStore, report: list[dict[str, str]] | None = None) -> None:
    """Delete snapshots and blobs no image or other holder references, and leftovers of killed writes.

    Runs under the exclusive gc lock, so it never races with a writer that has stored content but not
    yet registered it.
    """
    store, db, snapshots = images.store, images.db, images.snapshots
    with store.collecting():
        used_chains = {r["chain_id"] for r in db.query("SELECT DISTINCT chain_id FROM image_layers")}
        for chain_id in snapshots.list():
            if chain_id not in used_chains:
                snapshots.remove(chain_id)
                if report is not None:
                    report.append({"Deleted": chain_id})
        with db.transaction() as tx:
            tx.execute("DELETE FROM snapshots WHERE chain_id NOT IN "
                       "(SELECT DISTINCT chain_id FROM image_layers)")
            # Holders named after an image or a layer live only as long as it does.
            tx.execute("DELETE FROM content_refs WHERE holder LIKE 'image:%' AND "
                       "substr(holder, 7) NOT IN (SELECT id FROM images)")
            tx.execute("DELETE FROM content_refs WHERE holder LIKE 'layer:%' AND "
                       "substr(holder, 7) NOT IN (SELECT diff_id FROM image_layers)")
        used_blobs = {r[0] for r in db.query(
            "SELECT id FROM images UNION SELECT manifest_digest FROM images WHERE manifest_digest IS NOT NULL "
            "UNION SELECT blob_digest FROM image_layers UNION SELECT digest FROM content_refs")}
        for digest in list(store.blobs.list()):
            if digest not in used_blobs:
                store.blobs.delete(digest)
        store.blobs.clean_temp()
        snapshots.clean_temp()
