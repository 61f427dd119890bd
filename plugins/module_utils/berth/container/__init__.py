"""berth.container: the service that composes image store, runtime, shim and network into
containers (create/start/stop/rm/exec/inspect...).

    svc = ContainerService()
    c = svc.create(ContainerSpec(image="busybox", command=["echo", "hi"]), name="web")
    svc.start(c.id); code = svc.wait(c.id); svc.remove(c.id)

The database keeps each container's structured ``ContainerSpec``; ``inspect`` gives Docker's shape.
"""
from __future__ import annotations

from .inspect import inspect, matches, parse_filters, ps_row, status_text
from .records import Container
from .service import ContainerService
from .shimctl import ShimError, StartFailed
from .spec import (ContainerSpec, parse_env_args, parse_env_file, parse_label_file, parse_labels,
                   parse_memory_swap, parse_restart, parse_size, parse_ulimit, signal_name,
                   signal_number)

__all__ = [
    "Container", "ContainerService", "ContainerSpec", "ShimError", "StartFailed", "inspect",
    "matches", "parse_env_args", "parse_env_file", "parse_filters", "parse_label_file",
    "parse_labels", "parse_memory_swap", "parse_restart", "parse_size", "parse_ulimit",
    "ps_row", "signal_name", "signal_number", "status_text",
]
