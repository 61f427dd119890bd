"""Where a build stage stands: the image it has reached and that image's config document.

Kept apart from ``commit`` (overlay mounts, layer blobs, the runtime): a cached step only moves
a stage from one image to the next and needs none of that.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..image import Image
from ..image import config as image_config
from ..image.snapshots import LayerInfo


class ImageState:
    """The image a stage has reached: its ID (None before the first step on ``scratch``) and
    its full config document."""

    def __init__(self, image: Optional[Image]) -> None:
        self.image = image
        doc = dict(image.config) if image is not None else image_config.new_config([], {})
        self.doc: Dict[str, Any] = doc

    @property
    def id(self) -> Optional[str]:
        return self.image.id if self.image is not None else None

    @property
    def config(self) -> Dict[str, Any]:
        return dict(self.doc.get("config") or {})

    @property
    def layer_infos(self) -> List[LayerInfo]:
        if self.image is None:
            return []
        return [LayerInfo(layer.diff_id, layer.blob_digest, layer.blob_size, layer.media_type,
                          layer.chain_id) for layer in self.image.layers]
