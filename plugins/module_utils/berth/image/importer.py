"""``berth import``: a root filesystem tarball becomes a one-layer image."""
from __future__ import annotations

import io
from typing import Any, BinaryIO

from . import compression
from . import config as image_config
from . import mediatypes as mt
from .images import Image, ImageStore


def import_rootfs(images: ImageStore, source: BinaryIO, tags: list[str] | None = None,
                  config: dict[str, Any] | None = None, message: str = "",
                  origin: str = "-") -> Image:
    """Store ``source`` (a tar, maybe compressed) as a layer and register an image of it.

    ``config`` is the image's ``config`` object (Cmd, Env, ...), e.g. from ``--change`` lines.
    """
    buffered = source if hasattr(source, "peek") else io.BufferedReader(source)  # type: ignore[arg-type]
    kind = compression.detect(buffered.peek(6)[:6])  # type: ignore[attr-defined]
    with images.store.writing():
        layer = images.snapshots.ingest(buffered, None, mt.layer_type_for(kind))  # type: ignore[arg-type]
        created = image_config.now_rfc3339()
        cfg = image_config.new_config(
            [layer.diff_id], config, created=created,
            history=[{"created": created, "comment": message or f"Imported from {origin}"}])
        return images.register(image_config.encode(cfg), [layer], tags or [])
