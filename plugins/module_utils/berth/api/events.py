"""The event bus of berthd (``GET /events``) and the monitor that notices containers dying.

Handlers publish what they did (container create/start/stop/destroy, image pull/tag/delete, network
and volume create/destroy). A container exits on its own, under its shim: the monitor polls the
container table and publishes ``die`` for each running -> exited transition (it also lets the
service release what an exited container held, and auto-remove ``--rm`` containers, as dockerd
does). A ring buffer keeps recent events for ``since``.
"""
from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Optional

from ..errors import BerthError

HISTORY = 1024
MONITOR_INTERVAL = 0.5
#: how many auto-removed containers' exit codes the monitor keeps for late waiters
REMOVED_EXIT_CODES_KEPT = 256


class EventBus:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._history: collections.deque[dict[str, Any]] = collections.deque(maxlen=HISTORY)
        self._seq = 0
        self._closed = False

    def publish(self, kind: str, action: str, actor_id: str,
                attributes: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
        now = time.time_ns()
        attrs = {k: str(v) for k, v in (attributes or {}).items()}
        event: dict[str, Any] = {
            "Type": kind, "Action": action,
            "Actor": {"ID": actor_id, "Attributes": attrs},
            "scope": "local", "time": now // 1_000_000_000, "timeNano": now,
        }
        if kind == "container":  # the pre-1.22 fields clients still read
            event.update(status=action, id=actor_id,
                         **({"from": attrs["image"]} if "image" in attrs else {}))
        elif kind == "image":
            event.update(status=action, id=actor_id)
        with self._cond:
            self._seq += 1
            self._history.append(dict(event, _seq=self._seq))
            self._cond.notify_all()
        return event

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def subscribe(self, since: Optional[float] = None, until: Optional[float] = None,
                  filters: Optional[Mapping[str, Sequence[str]]] = None,
                  heartbeat: float = 1.0) -> Iterator[Optional[dict[str, Any]]]:
        """Events matching ``filters`` (past ones from ``since``, then live ones until ``until``).
        Yields None every ``heartbeat`` seconds without events so the caller can notice a gone
        client or a passed ``until``."""
        with self._cond:
            backlog = [e for e in self._history if since is not None and e["timeNano"] >= since * 1e9]
            seq = self._seq
        for e in backlog:
            if until is not None and e["timeNano"] > until * 1e9:
                return
            if matches(e, filters or {}):
                yield _public(e)
        while True:
            if until is not None and time.time() > until:
                return
            with self._cond:
                if self._closed:
                    return
                fresh = [e for e in self._history if e["_seq"] > seq]
                if not fresh:
                    self._cond.wait(heartbeat)
                    fresh = [e for e in self._history if e["_seq"] > seq]
                if fresh:
                    seq = fresh[-1]["_seq"]
            if not fresh:
                yield None
            for e in fresh:
                if until is not None and e["timeNano"] > until * 1e9:
                    return
                if matches(e, filters or {}):
                    yield _public(e)


def _public(event: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "_seq"}


_ACTOR_FILTERS = {"container": "container", "image": "image", "network": "network",
                  "volume": "volume"}


def matches(event: Mapping[str, Any], filters: Mapping[str, Sequence[str]]) -> bool:
    """Docker's event filters: type, event, container, image, network, volume, label."""
    actor = event["Actor"]
    attrs = actor.get("Attributes") or {}
    for key, values in filters.items():
        values = list(values)
        if not values:
            continue
        if key == "type" and event["Type"] not in values:
            return False
        if key == "event" and event["Action"] not in values:
            return False
        if key in _ACTOR_FILTERS:
            if event["Type"] != key and not (key == "image" and attrs.get("image")):
                return False
            names = {actor["ID"], actor["ID"][:12], attrs.get("name", ""), attrs.get("image", "")}
            if not any(v in names or actor["ID"].startswith(v) for v in values):
                return False
        if key == "label":
            for v in values:
                k, sep, want = v.partition("=")
                if k not in attrs or (sep and attrs[k] != want):
                    return False
    return True


def container_attributes(c: Any) -> dict[str, str]:
    attrs = {"image": c.image_ref, "name": c.name}
    attrs.update((c.config.get("Labels") or {}))
    return attrs


class ContainerMonitor:
    """Publishes ``die`` (and ``destroy`` for auto-removed containers) as containers exit."""

    def __init__(self, store: Any, bus: EventBus, interval: float = MONITOR_INTERVAL) -> None:
        self.store = store
        self.bus = bus
        self.interval = interval
        self._known: dict[str, tuple[str, str]] = {}  # id -> (status, started_at)
        self._baseline_taken = False
        #: exit codes of the containers it auto-removed, for waits on condition=removed
        self.removed_exit_codes: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self.poll()  # the baseline: what runs at start is not "dying"
        self._thread = threading.Thread(target=self._run, name="berthd-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as e:  # noqa: BLE001 - keep watching; report and go on
                import sys

                sys.stderr.write(f"berthd: container monitor: {e}\n")

    def poll(self) -> None:
        from ..container import ContainerService

        with self._lock:
            svc = ContainerService(self.store)
            seen = {}
            for c in svc.records.all():
                before = self._known.get(c.id)
                try:
                    c = svc.refresh(c)
                except (BerthError, OSError):
                    continue
                now = (c.status, str(c.state.get("started_at") or ""))
                seen[c.id] = now
                if before is None:  # new since the last poll: it may have started and ended between
                    ran = self._baseline_taken and bool(now[1])
                else:
                    ran = before[0] in ("running", "paused", "restarting") or before[1] != now[1]
                if ran and now[0] in ("exited", "dead"):
                    code = int(c.state.get("exit_code") or 0)
                    self.bus.publish("container", "die", c.id, dict(
                        container_attributes(c), exitCode=str(code)))
                    if c.spec.auto_remove:
                        with contextlib.suppress(BerthError, OSError):
                            self._remember_removed(c.id, code)
                            svc.remove(c.id, force=True)
                            self.bus.publish("container", "destroy", c.id,
                                             container_attributes(c))
                            seen.pop(c.id, None)
            self._known = seen
            self._baseline_taken = True

    def _remember_removed(self, cid: str, code: int) -> None:
        if len(self.removed_exit_codes) >= REMOVED_EXIT_CODES_KEPT:
            self.removed_exit_codes.pop(next(iter(self.removed_exit_codes)))  # the oldest
        self.removed_exit_codes[cid] = code
