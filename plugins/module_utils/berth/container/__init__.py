"""berth.container: the service that composes image store, runtime, shim and network into
containers (create/start/stop/rm/exec/inspect...).

    svc = ContainerService()
    c = svc.create(ContainerSpec(image="busybox", command=["echo", "hi"]), name="web")
    svc.start(c.id); code = svc.wait(c.id); svc.remove(c.id)

The database keeps each container's structured ``ContainerSpec``; ``inspect`` gives Docker's shape.

The names below are imported on first use (PEP 562), so a caller that needs only the spec parsers
(``parse_labels`` for ``berth volume create``) does not import the service, the runtime and the
volume package. The imports stay static ``from .x import y`` lines: Ansible's module packer finds
the files to ship by reading them.
"""
from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from .. import lazy

if TYPE_CHECKING:  # at run time these come from __getattr__, on first use
    from .inspect import inspect, matches, parse_filters, ps_row, status_text
    from .records import Container
    from .service import ContainerService
    from .shimctl import ShimError, StartFailed
    from .spec import (ContainerSpec, parse_env_args, parse_env_file, parse_label_file, parse_labels,
                       parse_memory_swap, parse_restart, parse_size, parse_ulimit, signal_name,
                       signal_number)

_INSPECT_NAMES = frozenset({"inspect", "matches", "parse_filters", "ps_row", "status_text"})
_SPEC_NAMES = frozenset({
    "ContainerSpec", "parse_env_args", "parse_env_file", "parse_label_file", "parse_labels",
    "parse_memory_swap", "parse_restart", "parse_size", "parse_ulimit", "signal_name",
    "signal_number",
})


def __getattr__(name: str) -> Any:
    """A public name of the package, imported on first use and then kept in the package."""
    if name in _INSPECT_NAMES:
        # not ``from . import inspect``: the package's ``inspect`` is the function (see _Package)
        from .inspect import inspect as _loaded  # noqa: F401
        module = sys.modules[f"{__name__}.inspect"]
    elif name in _SPEC_NAMES:
        from . import spec as module
    elif name == "Container":
        from . import records as module
    elif name == "ContainerService":
        from . import service as module
    elif name in ("ShimError", "StartFailed"):
        from . import shimctl as module
    else:
        raise lazy.no_such_name(__name__, name)
    return lazy.keep(globals(), module, name)


class _Package(types.ModuleType):
    """Keeps ``berth.container.inspect`` the function, as the package always exported it.

    Importing the submodule ``.inspect`` sets the package's attribute ``inspect`` to the module;
    the eager package then rebound it to the function. Lazily, the submodule may be imported
    first (``from berth.container.inspect import unix_time``), so the rebinding happens here."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "inspect" and isinstance(value, types.ModuleType):
            value = value.inspect
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "Container", "ContainerService", "ContainerSpec", "ShimError", "StartFailed", "inspect",
    "matches", "parse_env_args", "parse_env_file", "parse_filters", "parse_label_file",
    "parse_labels", "parse_memory_swap", "parse_restart", "parse_size", "parse_ulimit",
    "ps_row", "signal_name", "signal_number", "status_text",
]
