"""``berth system restore``: after a host reboot (shims gone, BERTH_RUN empty) clean what is stale
and start again the containers whose restart policy says so."""
from __future__ import annotations

from ..errors import BerthError
from . import shimctl
from .records import Container
from .service import ContainerService


def _should_restart(c: Container, was_running: bool) -> bool:
    policy = c.spec.restart_policy
    if policy == "always":
        return True
    if policy == "unless-stopped":
        return not c.state.get("manually_stopped")
    if policy == "on-failure":
        return was_running
    return False


def restore(service: ContainerService) -> list[tuple[str, str]]:
    """Reconcile every container; returns (id, action) with action started|exited|failed: msg."""
    results = []
    for c in service.records.all():
        shim_pid = int(c.state.get("shim_pid") or 0)
        was_running = c.state.get("status") in ("running", "restarting", "paused") or \
            bool(c.state.get("unclean"))
        if was_running and shimctl.shim_alive(shim_pid):
            continue  # nothing happened to this one
        with service._locked(c.id):
            c = service._reconcile(service.records.get(c.id) or c)
            if was_running or not c.state.get("released"):
                service._release(c, force=True)
        if c.spec.auto_remove and c.status == "exited" and was_running:
            try:
                service.remove(c.id, force=True)
                results.append((c.id, "removed"))
            except BerthError as e:
                results.append((c.id, f"failed: {e}"))
            continue
        if (was_running or c.status != "created") and _should_restart(c, was_running):
            try:
                service.start(c.id)
                results.append((c.id, "started"))
            except BerthError as e:
                results.append((c.id, f"failed: {e}"))
        elif was_running:
            c.state["unclean"] = False
            service.records.save_state(c.id, c.state)
            results.append((c.id, "exited"))
    return results
