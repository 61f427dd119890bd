"""berthd as an object: the shared context of the handlers, the boot restore, serve and shutdown.

    daemon = Daemon(socket_path="/run/berth/berth.sock")
    report = daemon.boot()          # restart-policy containers back, networks reconciled
    daemon.serve_forever()          # until daemon.shutdown() (SIGTERM in main)

Shutdown stops accepting requests and returns; containers keep running under their shims.
"""
from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import BerthError
from ..store import Store
from . import containers, images, networks, system, volumes
from .events import ContainerMonitor, EventBus
from .routing import Router
from .server import UnixHTTPServer


def default_socket_path(store: Optional[Store] = None) -> str:
    from ..paths import run_dir

    return os.path.join(store.run if store else run_dir(), "berth.sock")


def build_router() -> Router:
    router = Router()
    for module in (system, containers, images, networks, volumes):
        module.register(router)
    return router


class Context:
    """What every handler shares: the store, the event bus, the container monitor. Engine
    services are made per request (cheap; their database connections are per thread)."""

    def __init__(self, store: Store, bus: EventBus) -> None:
        self.store = store
        self.bus = bus
        self.monitor = ContainerMonitor(store, bus)

    def containers(self) -> Any:
        from ..container import ContainerService

        return ContainerService(self.store)

    def images(self) -> Any:
        from ..image import ImageStore

        return ImageStore(self.store)

    def volumes(self) -> Any:
        from ..volume import VolumeStore

        return VolumeStore(self.store)

    def networks(self) -> Any:
        from ..network import NetworkManager

        return NetworkManager(self.store)


@dataclass
class BootReport:
    containers: list[tuple[str, str]] = field(default_factory=list)  # (id, action)
    network: dict[str, Any] = field(default_factory=dict)  # the network CheckReport
    errors: list[str] = field(default_factory=list)


def boot(ctx: Context) -> BootReport:
    """Reconcile the host with the store: networks and port rules first (containers that come back
    need their bridges), then the containers' restore. Failures are reported, never fatal."""
    report = BootReport()
    try:
        manager = ctx.networks()
        manager.ensure_default()
        report.network = manager.check(repair=True).to_dict()
    except (BerthError, OSError, ImportError) as e:
        report.errors.append(f"network reconciliation: {e}")
    try:
        from ..container.restore import restore

        report.containers = restore(ctx.containers())
    except (BerthError, OSError) as e:
        report.errors.append(f"container restore: {e}")
    for cid, action in report.containers:
        if action == "started":
            try:
                c = ctx.containers().resolve(cid)
            except BerthError:
                continue
            from .events import container_attributes

            ctx.bus.publish("container", "start", c.id, container_attributes(c))
    return report


class Daemon:
    def __init__(self, socket_path: Optional[str] = None, store: Optional[Store] = None,
                 verbose: bool = False) -> None:
        self.store = store or Store()
        self.socket_path = socket_path or default_socket_path(self.store)
        self.bus = EventBus()
        self.context = Context(self.store, self.bus)
        self.server = UnixHTTPServer(self.socket_path, build_router(), self.context, verbose)
        self._stopping = threading.Event()

    def boot(self) -> BootReport:
        report = boot(self.context)
        for err in report.errors:
            sys.stderr.write(f"berthd: {err}\n")
        return report

    def open(self) -> None:
        """Bind the socket (refused when another daemon listens on it)."""
        self.server.open()

    def serve_forever(self) -> None:
        self.context.monitor.start()
        try:
            self.server.serve_forever(poll_interval=0.2)
        finally:
            self.context.monitor.stop()
            self.bus.close()
            self.server.server_close()

    def shutdown(self) -> None:
        """From another thread or a signal handler: stop serving; containers keep running."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        threading.Thread(target=self.server.shutdown, name="berthd-shutdown", daemon=True).start()
