"""The event bus of berthd (``GET /events``) and the monitor that notices containers dying.

Handlers publish what they did (container create/start/stop/destroy, image pull/tag/delete, network
and volume create/destroy). A container exits on its own, under its shim: the monitor learns of
the exit from the shim's ``wait`` op (or, for containers berthd did not start, from a poll of the
container table) and publishes ``die``; it also releases what the run held and auto-removes
``--rm`` containers, as dockerd does, and wakes the handlers that wait for a change (``wait``,
log followers). A ring buffer keeps recent events for ``since``.
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
#: how long a shutdown waits for exits being handled (releases, auto-removals) to finish
EXIT_HANDLING_LIMIT = 10.0


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
    """Publishes ``die`` (and ``destroy`` for auto-removed containers) as containers exit.

    A container berthd starts (or is asked to wait for) is watched through its shim's ``wait``
    op: a thread blocks on that connection, and once the shim replies (the final exit) it
    releases the run, publishes ``die``, auto-removes ``--rm`` containers and wakes everyone in
    ``wait_change``. The poll every ``interval`` seconds covers the rest: containers started
    without berthd (the daemonless CLI), and shims too old for the ``wait`` op."""

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
        #: id -> the token of the thread that waits on its shim (a restart replaces it)
        self._watchers: dict[str, object] = {}
        self._watch_lock = threading.Lock()
        self._in_flight = 0  # exits being handled (a shutdown lets them finish)
        #: bumped (and waiters woken) whenever a container starts, exits or is removed
        self._generation = 0
        self._change = threading.Condition()

    def start(self) -> None:
        self.poll()  # the baseline: what runs at start is not "dying"
        self._thread = threading.Thread(target=self._run, name="berthd-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        with self._change:  # a release half done would wait for the next berth command
            self._change.wait_for(lambda: self._in_flight == 0, EXIT_HANDLING_LIMIT)

    # -- change notification ------------------------------------------------------------------

    @property
    def generation(self) -> int:
        return self._generation

    def changed(self) -> None:
        with self._change:
            self._generation += 1
            self._change.notify_all()

    def wait_change(self, seen: int, timeout: float) -> int:
        """Sleep until the generation differs from ``seen`` (a start, exit or removal) or
        ``timeout`` passes; the current generation."""
        with self._change:
            if self._generation == seen:
                self._change.wait(timeout)
            return self._generation

    # -- watching shims -------------------------------------------------------------------------

    def started(self, c: Any) -> None:
        """berthd started ``c``: note it as running and watch its shim for the exit."""
        with self._lock:  # running, even if it has exited already: that exit is news
            self._known[c.id] = ("running", str(c.state.get("started_at") or ""))
        self.watch(c.id, replace=True)
        self.changed()

    def watching(self, cid: str) -> bool:
        with self._watch_lock:
            return cid in self._watchers

    def watch(self, cid: str, replace: bool = False) -> None:
        """Learn of ``cid``'s final exit from its shim instead of the poll. ``replace``: a new run
        (the old run's watcher, if still there, finds the container running and does nothing)."""
        token = object()
        with self._watch_lock:
            if cid in self._watchers and not replace:
                return
            self._watchers[cid] = token
        threading.Thread(target=self._watch, args=(cid, token), name="berthd-wait",
                         daemon=True).start()

    def _unwatch(self, cid: str, token: object) -> None:
        with self._watch_lock:
            if self._watchers.get(cid) is token:
                del self._watchers[cid]

    def _watch(self, cid: str, token: object) -> None:
        from ..container import ContainerService, shimctl

        try:
            sock = shimctl.open_wait(ContainerService(self.store).paths(cid))
        except shimctl.ShimError:
            sock = None  # no shim answers: the run has ended, state.json is final
        except (BerthError, OSError):
            self._unwatch(cid, token)  # e.g. removed meanwhile: the poll tells the rest
            return
        if sock is not None:
            with sock:
                try:
                    shimctl.wait_reply(sock)  # None: the shim died; the reconcile says so
                except shimctl.ShimError:
                    self._unwatch(cid, token)  # a shim without the wait op: the poll reports it
                    return
            self.changed()  # log followers: the log is complete, they need not wait for the rest
        try:
            self.exited(cid)
        except Exception as e:  # noqa: BLE001 - keep the daemon; the poll retries
            import sys

            sys.stderr.write(f"berthd: container {cid[:12]} exit: {e}\n")
        finally:
            self._unwatch(cid, token)
            self.changed()

    def exited(self, cid: str) -> None:
        """``cid``'s run has ended (its shim said so, or a stop returned): publish ``die`` once
        per run, then auto-remove a ``--rm`` container or release what the run holds (network,
        mounts, cgroup). Idempotent."""
        from ..container import ContainerService

        with self._change:
            self._in_flight += 1
        try:
            svc = ContainerService(self.store)
            with self._lock:
                c = svc.records.get(cid)
                if c is None:
                    self._known.pop(cid, None)
                    return
                c = svc._reconcile(c)  # noqa: SLF001 - the service's refresh without release
                died = self._note(c, ran=True)
            # the removal releases the run too
            if not (died and c.spec.auto_remove and self._auto_remove(svc, c)):
                with contextlib.suppress(BerthError, OSError):
                    svc.release_exited(cid)  # under the container's lock: after a stop or rm
        finally:
            with self._change:
                self._in_flight -= 1
                self._generation += 1
                self._change.notify_all()

    def forget(self, cid: str) -> None:
        """``cid`` was removed by a request."""
        with self._lock:
            self._known.pop(cid, None)
        self.changed()

    def _note(self, c: Any, ran: bool) -> bool:
        """Record ``c``'s state (the caller holds the lock); publish ``die`` if this is the
        exit of a run not reported yet. True if it did."""
        now = (c.status, str(c.state.get("started_at") or ""))
        before = self._known.get(c.id)
        self._known[c.id] = now
        if now[0] not in ("exited", "dead"):
            return False
        if before is None:  # new since the last look: it may have started and ended between
            if not (ran and now[1]):
                return False
        elif before[0] not in ("running", "paused", "restarting") and before[1] == now[1]:
            return False  # reported already
        code = int(c.state.get("exit_code") or 0)
        self.bus.publish("container", "die", c.id, dict(container_attributes(c),
                                                        exitCode=str(code)))
        return True

    def _auto_remove(self, svc: Any, c: Any) -> bool:
        """Remove ``--rm`` container ``c`` after its exit; True if it did."""
        with self._lock:
            self._remember_removed(c.id, int(c.state.get("exit_code") or 0))
        try:
            svc.remove(c.id, force=True)
        except (BerthError, OSError):
            return False  # removed by someone else meanwhile (who reports it), or it failed
        with self._lock:
            self._known.pop(c.id, None)
        self.bus.publish("container", "destroy", c.id, container_attributes(c))
        return True

    # -- the poll ---------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as e:  # noqa: BLE001 - keep watching; report and go on
                import sys

                sys.stderr.write(f"berthd: container monitor: {e}\n")

    def poll(self) -> None:
        """Containers without a watcher: publish their exits; watch the running ones."""
        from ..container import ContainerService

        with self._watch_lock:
            watched = set(self._watchers)
        removed = []
        to_watch = []
        with self._lock:
            svc = ContainerService(self.store)
            seen = {}
            for c in svc.records.all():
                if c.id in watched:  # its watcher reports the exit
                    if c.id in self._known:
                        seen[c.id] = self._known[c.id]
                    continue
                try:
                    c = svc.refresh(c)
                except (BerthError, OSError):
                    continue
                if c.status in ("running", "paused", "restarting"):
                    to_watch.append(c.id)
                died = self._note(c, ran=self._baseline_taken)
                seen[c.id] = self._known[c.id]
                if died and c.spec.auto_remove:
                    removed.append(c)
            self._known = seen
            self._baseline_taken = True
        for c in removed:
            self._auto_remove(svc, c)
        for cid in to_watch:
            self.watch(cid)
        if removed:
            self.changed()

    def _remember_removed(self, cid: str, code: int) -> None:
        if len(self.removed_exit_codes) >= REMOVED_EXIT_CODES_KEPT:
            self.removed_exit_codes.pop(next(iter(self.removed_exit_codes)))  # the oldest
        self.removed_exit_codes[cid] = code
