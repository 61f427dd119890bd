"""berth.image: references, manifests and configs, layers and snapshots, and the image store.

The façade other packages use: ``ImageStore`` (register/resolve/tag/users), ``remove``/``prune``,
``import_rootfs``, ``save``/``load``, and the listing/inspect shapes.

Every name is imported on first use (PEP 562): a command that only resolves or tags images (a
cached build, ``run``) pays for the store, not for import, save/load, listing or layer code.
The imports stay static ``from .x import y`` lines: Ansible's module packer reads them.
"""
from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time these come from __getattr__, on first use
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

_OWNERS = {
    "Image": "images", "ImageStore": "images", "Layer": "images",
    "import_rootfs": "importer",
    "history": "listing", "inspect": "listing", "list_images": "listing",
    "parse_filters": "listing", "summary": "listing",
    "load": "load",
    "Reference": "reference", "parse_reference": "reference",
    "collect_garbage": "removal", "prune": "removal", "remove": "removal",
    "SAVE_FORMATS": "save", "save": "save",
    "LayerInfo": "snapshots", "chain_ids": "snapshots",
}
_RENAMED = {"parse_reference": "parse"}
# ``load`` and ``save`` name both a submodule and the function the package exports; the
# function keeps the package attribute even when the submodule is imported later.
_SHADOWED = frozenset({"load", "save"})


def __getattr__(name: str) -> Any:
    """A public name of the package, imported on first use and then kept in the package."""
    owner = _OWNERS.get(name)
    if owner is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # static imports for the module packer; only the owner's line runs
    if owner == "load":  # ``from . import load`` would ask this function for "load" again
        from .load import load as value
    elif owner == "save":
        from .save import FORMATS, save
        value = FORMATS if name == "SAVE_FORMATS" else save
    else:
        if owner == "images":
            from . import images as module
        elif owner == "importer":
            from . import importer as module
        elif owner == "listing":
            from . import listing as module
        elif owner == "reference":
            from . import reference as module
        elif owner == "removal":
            from . import removal as module
        else:
            from . import snapshots as module
        value = getattr(module, _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, ModuleType):
            return  # the import system naming the submodule: the function keeps the name
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = ["Image", "ImageStore", "Layer", "LayerInfo", "Reference", "SAVE_FORMATS", "chain_ids",
           "collect_garbage", "history", "import_rootfs", "inspect", "list_images", "load",
           "parse_filters", "parse_reference", "prune", "remove", "save", "summary"]
