"""berth.api: ``berthd``, the Docker Engine API (v1.41 subset) on a unix socket.

    daemon = Daemon("/run/berth/berth.sock")    # binds (0600); refuses a socket in use
    daemon.boot()                               # restore containers, reconcile networks
    daemon.serve_forever()                      # until daemon.shutdown()

Modules: ``routing`` (requests, responses, the route table), ``server`` (HTTP/1.1 on a unix
socket: chunked streams, hijack, errors), ``shapes`` (Docker's JSON shapes), one module per
resource (``system``, ``containers``, ``images``, ``networks``, ``volumes``), ``events`` (the bus
and the container monitor), ``daemon`` (context, boot), ``main`` (the command line).
docs/api.md lists the endpoints.
"""
from __future__ import annotations

from .daemon import BootReport, Context, Daemon, boot, build_router, default_socket_path
from .events import EventBus
from .shapes import API_VERSION, MIN_API_VERSION, create_body, spec_from_create

__all__ = ["API_VERSION", "BootReport", "Context", "Daemon", "EventBus", "MIN_API_VERSION",
           "boot", "build_router", "create_body", "default_socket_path", "spec_from_create"]
