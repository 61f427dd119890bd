"""The tail of a package's PEP 562 ``__getattr__`` (``berth.container``, ``berth.network``, ...):
those packages import their public names on first use, with static ``from .x import y`` lines
that Ansible's module packer can read, and keep each name once it is loaded."""
from __future__ import annotations

from types import ModuleType
from typing import Any


def keep(namespace: dict[str, Any], module: ModuleType, name: str) -> Any:
    """``module.name``, stored in the package's ``namespace`` so the next lookup finds it there."""
    value = getattr(module, name)
    namespace[name] = value
    return value


def no_such_name(package: str, name: str) -> AttributeError:
    return AttributeError(f"module {package!r} has no attribute {name!r}")
