"""From a step's result to an image: overlay mounts for a step, layer blobs, image registration.

Every step of a build becomes an image whose ``parent`` is the previous step's image, like Docker's
classic builder: a step that changes files adds a layer, a metadata step adds a history entry
with ``empty_layer: true``. Layer blobs are gzip with mtime 0 of a sorted tar, so the same tree
gives the same digests.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Any, Dict, Iterator, Optional, Sequence

from .. import runtime
from ..image import Image, ImageStore, LayerInfo
from ..image import compression
from ..image import config as image_config
from ..image import layers as image_layers
from ..image import mediatypes as mt
from .state import ImageState

__all__ = ["RUNTIME_FILES", "ImageState", "ingest_upper", "readonly_rootfs", "register_step",
           "step_rootfs"]

#: Files the engine provides to every container; never part of a RUN layer (Docker's rule).
RUNTIME_FILES = ("etc/hostname", "etc/hosts", "etc/resolv.conf")


@contextlib.contextmanager
def step_rootfs(images: ImageStore, state: ImageState, workdir: str) -> Iterator[Dict[str, str]]:
    """A writable overlay of ``state``'s layers with a fresh upper dir; yields its paths."""
    base = tempfile.mkdtemp(prefix="step-", dir=workdir)
    paths = {name: os.path.join(base, name) for name in ("upper", "work", "merged", "empty")}
    try:
        for path in paths.values():
            os.mkdir(path, 0o755)
        lowers = images.lowerdirs(state.image) if state.image is not None else []
        # volatile: the step's upper dir becomes a layer blob (written and synced by the store)
        # and is then deleted, so a sync of it at unmount is wasted time
        runtime.mount_rootfs(lowers or [paths["empty"]], paths["upper"], paths["work"],
                             paths["merged"], volatile=True)
        try:
            yield paths
        finally:
            runtime.unmount_rootfs(paths["merged"])
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def readonly_rootfs(images: ImageStore, image: Optional[Image], workdir: str) -> Iterator[str]:
    """``image``'s root filesystem mounted read-only (an empty dir for a layerless image)."""
    base = tempfile.mkdtemp(prefix="source-", dir=workdir)
    try:
        lowers = images.lowerdirs(image) if image is not None else []
        if len(lowers) < 2:
            # one layer is its own root (a single lowerdir cannot be mounted read-only by
            # overlayfs, which refuses the same dir twice); none is an empty root
            yield lowers[0] if lowers else base
            return
        runtime.mount_rootfs(lowers, "", "", base, readonly=True)
        try:
            yield base
        finally:
            runtime.unmount_rootfs(base)
    finally:
        os.rmdir(base)


def ingest_upper(images: ImageStore, state: ImageState, upper: str, workdir: str,
                 exclude: Sequence[str] = ()) -> LayerInfo:
    """The upper dir of a step as a new gzip layer on top of ``state``'s layers."""
    with tempfile.TemporaryFile(dir=workdir) as blob:
        with tempfile.TemporaryFile(dir=workdir) as raw:
            image_layers.write_diff(upper, raw, exclude=exclude)
            raw.seek(0)
            with compression.gzip_writer(blob) as gz:  # type: ignore[attr-defined]
                shutil.copyfileobj(raw, gz, 1 << 20)
        blob.seek(0)
        parent_chain = state.image.layers[-1].chain_id if state.image and state.image.layers \
            else None
        return images.snapshots.ingest(blob, parent_chain, mt.OCI_LAYER_GZIP)  # type: ignore[arg-type]


def register_step(images: ImageStore, state: ImageState, config: Dict[str, Any],
                  created_by: str, layer: Optional[LayerInfo] = None,
                  author: Optional[str] = None, comment: str = "") -> Image:
    """A child image of ``state``: its config replaced, one history entry, maybe one layer."""
    created = image_config.now_rfc3339()
    history = list(state.doc.get("history") or [])
    entry: Dict[str, Any] = {"created": created, "created_by": created_by}
    if comment:
        entry["comment"] = comment
    if layer is None:
        entry["empty_layer"] = True
    history.append(entry)
    layer_infos = state.layer_infos + ([layer] if layer is not None else [])
    author = author if author is not None else state.doc.get("author")
    doc = image_config.new_config([l.diff_id for l in layer_infos], _clean(config), history,
                                  created, author or None)
    return images.register(image_config.encode(doc), layer_infos, parent=state.id)


def _clean(config: Dict[str, Any]) -> Dict[str, Any]:
    """Drop empty values as Docker's JSON does (``omitempty``)."""
    return {k: v for k, v in config.items() if v not in (None, [], {}, "")}
