"""berth.api: ``berthd``, the Docker Engine API (v1.41 subset) on a unix socket.

    daemon = Daemon("/run/berth/berth.sock")    # binds (0600); refuses a socket in use
    daemon.boot()                               # restore containers, reconcile networks
    daemon.serve_forever()                      # until daemon.shutdown()

Modules: ``routing`` (requests, responses, the route table), ``server`` (HTTP/1.1 on a unix
socket: chunked streams, hijack, errors), ``shapes`` (Docker's JSON shapes), one module per
resource (``system``, ``containers``, ``images``, ``networks``, ``volumes``), ``events`` (the bus
and the container monitor), ``daemon`` (context, boot), ``main`` (the command line).
docs/api.md lists the endpoints.

The names below are loaded on first use: the CLI's client mode imports ``berth.api.shapes`` for
the create body, and must not pay for the daemon's modules (server, store, registry).
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BootReport": "daemon", "Context": "daemon", "Daemon": "daemon", "boot": "daemon",
    "build_router": "daemon", "default_socket_path": "daemon", "EventBus": "events",
    "API_VERSION": "shapes", "MIN_API_VERSION": "shapes", "create_body": "shapes",
    "spec_from_create": "shapes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
