"""berth.image: references, manifests and configs, layers and snapshots, and the image store.

The façade other packages use: ``ImageStore`` (register/resolve/tag/users), ``remove``/``prune``,
``import_rootfs``, ``save``/``load``, and the listing/inspect shapes.
"""
from __future__ import annotations

from .images import Image, ImageStore, Layer
from .importer import import_rootfs
from .listing import history, inspect, list_images, parse_filters, summary
from .load import load
from .reference import Reference
from .reference import parse as parse_reference
from .removal import collect_garbage, prune, remove
from .save import FORMATS as SAVE_FORMATS
from .save import save
from .snapshots import LayerInfo, chain_ids

__all__ = ["Image", "ImageStore", "Layer", "LayerInfo", "Reference", "SAVE_FORMATS", "chain_ids",
           "collect_garbage", "history", "import_rootfs", "inspect", "list_images", "load",
           "parse_filters", "parse_reference", "prune", "remove", "save", "summary"]
