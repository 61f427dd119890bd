"""Access to the engine from a module, with missing libraries reported instead of raised.

The engine is the installed ``berth`` package when the target has one, else the copy bundled in
this collection (``module_utils/berth``, imported relatively). The installed package comes first
because containers outlive the module: their monitor (``python -m berth.shim``) must import the
engine after Ansible has deleted the module's payload, so the module has to speak the same engine
version as the monitor it starts.
"""
from __future__ import annotations

import importlib
import traceback
from typing import Any, Dict, Optional

from .options import BadOption

#: third-party libraries of the engine, by top-level import name -> the name to install
LIBRARIES = {"requests": "requests"}


class MissingLibrary(Exception):
    def __init__(self, library: str, trace: str) -> None:
        super().__init__(library)
        self.library = library
        self.trace = trace


def _bundled(name: str) -> Any:
    """The bundled engine package ``name``; static relative imports so AnsiballZ ships them."""
    if name == "errors":
        from ..berth import errors as mod
    elif name == "image":
        from ..berth import image as mod
    elif name == "registry":
        from ..berth import registry as mod
    elif name == "container":
        from ..berth import container as mod
    elif name == "build":
        from ..berth import build as mod
    elif name == "store":
        from ..berth import store as mod
    elif name == "volume":
        from ..berth import volume as mod
    elif name == "network":
        from ..berth import network as mod
    elif name == "runtime":
        from ..berth import runtime as mod
    elif name == "shim":
        from ..berth import shim as mod
    else:
        raise KeyError(name)
    return mod


def _installed_root() -> Optional[str]:
    try:
        importlib.import_module("berth.errors")
    except ImportError:
        return None
    return "berth"


_CACHE: Dict[str, Any] = {}


def load(name: str) -> Any:
    """The engine package ``name`` (``image``, ``registry``, ``container``...).

    Raises MissingLibrary when a third-party library the package needs is not installed."""
    if name in _CACHE:
        return _CACHE[name]
    root = _installed_root()
    try:
        mod = importlib.import_module(f"{root}.{name}") if root else _bundled(name)
    except ImportError as exc:
        missing = (getattr(exc, "name", None) or "").split(".", maxsplit=1)[0]
        if missing in LIBRARIES:
            raise MissingLibrary(LIBRARIES[missing], traceback.format_exc()) from None
        raise
    _CACHE[name] = mod
    return mod


def errors() -> Any:
    return load("errors")


def submodule(package: str, name: str) -> Any:
    """Module ``name`` of the engine package ``package`` (``submodule("container", "health")``),
    from the same engine as ``load`` (imported here if the package's lazy façade has not yet)."""
    return importlib.import_module(f"{load(package).__name__}.{name}")


def run(module: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``func``; an engine error or a missing library ends the module with fail_json."""
    from ansible.module_utils.basic import missing_required_lib

    try:
        return func(*args, **kwargs)
    except MissingLibrary as exc:
        module.fail_json(msg=missing_required_lib(exc.library), exception=exc.trace)
    except BadOption as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-except
        missing = getattr(errors(), "MissingDependency", None)
        if missing is not None and isinstance(exc, missing):
            # the engine guards requests itself; report it the Ansible way
            cause = getattr(exc.__cause__, "name", None) or ""
            library = LIBRARIES.get(cause.split(".", maxsplit=1)[0])
            module.fail_json(msg=missing_required_lib(library) if library else str(exc),
                             exception=traceback.format_exc())
        if isinstance(exc, errors().BerthError):
            module.fail_json(msg=str(exc))
        raise
    return None
