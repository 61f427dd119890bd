"""``/containers/...``: thin handlers over ``berth.container.ContainerService``."""
from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable, Optional

from ..errors import InvalidArgument, NotFound
from .events import container_attributes
from .routing import Request, Response, Router, json_response, no_content
from .shapes import container_summary, spec_from_create

STDOUT, STDERR = 1, 2
RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"


def register(r: Router) -> None:
    r.add("GET", "/containers/json", list_containers)
    r.add("POST", "/containers/create", create)
    r.add("GET", "/containers/{cid}/json", inspect)
    r.add("POST", "/containers/{cid}/start", start)
    r.add("POST", "/containers/{cid}/stop", stop)
    r.add("POST", "/containers/{cid}/kill", kill)
    r.add("POST", "/containers/{cid}/restart", restart)
    r.add("POST", "/containers/{cid}/pause", pause)
    r.add("POST", "/containers/{cid}/unpause", unpause)
    r.add("POST", "/containers/{cid}/rename", rename)
    r.add("DELETE", "/containers/{cid}", remove)
    r.add("GET", "/containers/{cid}/logs", logs)
    r.add("POST", "/containers/{cid}/wait", wait)
    r.add("POST", "/containers/{cid}/attach", attach)
    r.add("GET", "/containers/{cid}/top", top)


def docker_filters(value: Any) -> dict[str, list[str]]:
    """Docker's ``filters`` query: ``{"k": ["v"]}`` or the older ``{"k": {"v": true}}``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument("filters must be a JSON object")
    out = {}
    for key, values in value.items():
        if isinstance(values, dict):
            values = [k for k, on in values.items() if on]
        elif isinstance(values, str):
            values = [values]
        out[str(key)] = [str(v) for v in values]
    return out


def _event(ctx: Any, action: str, c: Any, **extra: str) -> None:
    ctx.bus.publish("container", action, c.id, dict(container_attributes(c), **extra))


# -- list, create, inspect ------------------------------------------------------------------------

def list_containers(ctx: Any, req: Request) -> Response:
    from ..container import matches, parse_filters

    svc = ctx.containers()
    wanted = docker_filters(req.json_arg("filters"))
    filters = parse_filters(f"{k}={v}" for k, values in wanted.items() for v in values)
    found = svc.list()
    if not (req.flag("all") or "status" in filters):
        found = [c for c in found if c.running]
    image_ids = {}
    for value in filters.get("ancestor", []):
        try:
            image_ids[value] = svc.images.resolve(value).id
        except NotFound:
            pass
    found = [c for c in found if matches(c, filters, image_ids)]
    limit = req.int_arg("limit", -1) or -1
    if limit > 0:
        found = found[:limit]
    return json_response([container_summary(c) for c in found])


def create(ctx: Any, req: Request) -> Response:
    spec = spec_from_create(req.json_body())
    name = req.arg("name") or None
    c = ctx.containers().create(spec, name)
    _event(ctx, "create", c)
    return json_response({"Id": c.id, "Warnings": []}, 201)


def inspect(ctx: Any, req: Request, cid: str) -> Response:
    from ..container import inspect as container_inspect

    svc = ctx.containers()
    c = svc.resolve(cid)
    lower: list[str] = []
    try:
        lower = svc.images.lowerdirs(svc.images.get(c.image_id))
    except NotFound:
        pass
    return json_response(container_inspect(c, svc.paths(c.id), lower))


# -- lifecycle ------------------------------------------------------------------------------------

def start(ctx: Any, req: Request, cid: str) -> Response:
    svc = ctx.containers()
    c = svc.resolve(cid)
    if c.running:
        return Response(304, b"", content_type="")
    # berthd releases the run when the shim reports the exit (the monitor's watcher), so the
    # shim starts no exit hook (a third interpreter) while this daemon lives
    c = svc.start(c.id, released_by_caller=True)
    ctx.monitor.started(c)
    _event(ctx, "start", c)
    return no_content()


def _timeout(req: Request) -> Optional[int]:
    value = req.int_arg("t")
    return value if value is not None else req.int_arg("timeout")


def stop(ctx: Any, req: Request, cid: str) -> Response:
    svc = ctx.containers()
    c = svc.resolve(cid)
    if not c.running:
        return Response(304, b"", content_type="")
    c = svc.stop(c.id, _timeout(req), req.arg("signal") or None)
    ctx.monitor.exited(c.id)  # "die" before "stop", as dockerd orders them
    _event(ctx, "stop", c)
    return no_content()


def kill(ctx: Any, req: Request, cid: str) -> Response:
    from ..container import signal_name

    sig = req.arg("signal") or "SIGKILL"
    c = ctx.containers().kill(cid, sig)
    _event(ctx, "kill", c, signal=str(signal_name(sig)))
    return no_content()


def restart(ctx: Any, req: Request, cid: str) -> Response:
    svc = ctx.containers()
    c = svc.stop(cid, _timeout(req), req.arg("signal") or None)
    ctx.monitor.exited(c.id)
    c = svc.start(c.id, released_by_caller=True)
    ctx.monitor.started(c)
    _event(ctx, "start", c)
    _event(ctx, "restart", c)
    return no_content()


def pause(ctx: Any, req: Request, cid: str) -> Response:
    _event(ctx, "pause", ctx.containers().pause(cid))
    return no_content()


def unpause(ctx: Any, req: Request, cid: str) -> Response:
    _event(ctx, "unpause", ctx.containers().unpause(cid))
    return no_content()


def rename(ctx: Any, req: Request, cid: str) -> Response:
    new_name = req.arg("name")
    if not new_name:
        raise InvalidArgument("rename needs a new name (?name=)")
    svc = ctx.containers()
    svc.rename(cid, new_name)
    _event(ctx, "rename", svc.resolve(new_name))
    return no_content()


def remove(ctx: Any, req: Request, cid: str) -> Response:
    svc = ctx.containers()
    c = svc.resolve(cid)
    svc.remove(c.id, force=req.flag("force"), volumes=req.flag("v"))
    ctx.monitor.forget(c.id)
    _event(ctx, "destroy", c)
    return no_content()


def top(ctx: Any, req: Request, cid: str) -> Response:
    from ..container.tools import top as container_top

    return json_response(container_top(ctx.containers(), cid))


# -- logs, wait, attach ---------------------------------------------------------------------------

def frame(stream: str, data: bytes, tty: bool) -> bytes:
    """Docker's stream multiplexing: [kind, 0, 0, 0, size (big endian)] + data; raw with a tty."""
    if tty:
        return data
    return struct.pack(">BxxxL", STDERR if stream == "stderr" else STDOUT, len(data)) + data


def _already_stopped() -> bool:
    return True


def _exited_since(svc: Any, cid: str, c: Any) -> Callable[[], bool]:
    """A ``stop`` for followers: the container is gone, or has stopped after running (a
    created container is waited for until it has run)."""
    started_at = c.state.get("started_at")
    was_running = c.running

    def stopped() -> bool:
        current = svc.records.get(cid)
        if current is None:
            return True
        current = svc._reconcile(current)  # noqa: SLF001 - the service's refresh without release
        if current.running:
            return False
        return was_running or current.state.get("started_at") != started_at or \
            bool(current.state.get("error"))
    return stopped


class ExitWatch:
    """``stop``/``idle`` for a log follower: ``idle`` sleeps until the monitor reports a change
    (a start, an exit: the shim's ``wait`` op wakes it) or the poll interval passes, and
    ``stop`` re-reads the container only after a change or every ``RECHECK`` seconds (a
    container run by the daemonless CLI exits without telling berthd)."""

    RECHECK = 0.25

    def __init__(self, monitor: Any, stopped: Callable[[], bool]) -> None:
        self.monitor = monitor
        self.stopped = stopped
        self.seen = -1
        self.checked = 0.0

    def stop(self) -> bool:
        generation = self.monitor.generation
        now = time.monotonic()
        if generation == self.seen and now - self.checked < self.RECHECK:
            return False
        self.seen, self.checked = generation, now
        return self.stopped()

    def idle(self, seconds: float) -> None:
        self.monitor.wait_change(self.seen, seconds)


def _log_frames(svc: Any, c: Any, req: Request, follow: bool, since: Optional[float],
                stop: Optional[Callable[[], bool]],
                idle: Optional[Callable[[float], object]] = None) -> Iterator[bytes]:
    from ..shim import read_logs

    want = {s for s in ("stdout", "stderr") if req.flag(s)}
    tail_text = req.arg("tail", "all")
    tail = None
    if tail_text not in ("", "all"):
        try:
            tail = int(tail_text)
        except ValueError:
            raise InvalidArgument(f"invalid value for tail: {tail_text}") from None
    for stream, data in read_logs(svc.paths(c.id).log, follow=follow, tail=tail, since=since,
                                  timestamps=req.flag("timestamps"), stop=stop,
                                  poll_interval=0.05, idle=idle):
        if stream in want:
            yield frame(stream, data, c.spec.tty)


def logs(ctx: Any, req: Request, cid: str) -> Response:
    from ..container.logs import parse_since

    if not (req.flag("stdout") or req.flag("stderr")):
        raise InvalidArgument("Bad parameters: you must choose at least one stream")
    svc = ctx.containers()
    c = svc.resolve(cid)
    since_text = req.arg("since")
    since = parse_since(since_text) if since_text and since_text != "0" else None
    follow = req.flag("follow")
    stop: Optional[Callable[[], bool]] = None
    idle = None
    if follow and not c.running and c.status != "created":
        stop = _already_stopped  # it has run and stopped: nothing more will come
    elif follow:
        watch = ExitWatch(ctx.monitor, _exited_since(svc, c.id, c))
        stop, idle = watch.stop, watch.idle
        if c.running:
            ctx.monitor.watch(c.id)  # e.g. started by the daemonless CLI
    chunks = _log_frames(svc, c, req, follow, since, stop, idle)
    return Response(200, content_type=RAW_STREAM if c.spec.tty else MULTIPLEXED_STREAM,
                    chunks=chunks)


def wait(ctx: Any, req: Request, cid: str) -> Response:
    """Blocks until the condition holds; headers go out first so a client knows it is waiting."""
    condition = req.arg("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise InvalidArgument(f"invalid condition: {condition!r}")
    svc = ctx.containers()
    c = svc.resolve(cid)

    def result() -> Iterator[bytes]:
        code = _wait(svc, c, condition, ctx.monitor)
        yield json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n"
    return Response(200, chunks=result())


#: a wait re-reads the container at least this often (the daemonless CLI changes it silently)
WAIT_RECHECK = 0.5


def _wait(svc: Any, c: Any, condition: str, monitor: Any) -> int:
    """The exit code once ``condition`` holds. No polling for what berthd runs: the monitor's
    watcher hears the exit from the shim's ``wait`` op and wakes this with ``wait_change``."""
    stopped = _exited_since(svc, c.id, c)
    code = int(c.state.get("exit_code") or 0)
    if condition == "not-running" and not c.running:
        return code
    while True:
        seen = monitor.generation
        current = svc.records.get(c.id)
        if current is None:  # removed: the monitor noted the exit code if it did the removal
            return monitor.removed_exit_codes.get(c.id, code)
        if condition != "removed" and stopped():
            return int(svc._reconcile(current).state.get("exit_code") or 0)  # noqa: SLF001
        code = int(current.state.get("exit_code") or 0)
        if current.running:
            monitor.watch(c.id)  # nothing if watched already
        monitor.wait_change(seen, WAIT_RECHECK)


def attach(ctx: Any, req: Request, cid: str) -> Response:
    """Docker's attach on a hijacked connection: the output from the json-file log, and with
    ``stdin=1`` (an interactive container) what the client sends goes to the container."""
    svc = ctx.containers()
    c = svc.resolve(cid)
    if not req.flag("stream") and not req.flag("logs"):
        raise InvalidArgument("attach needs stream=1 or logs=1")
    since = None if req.flag("logs") else time.time()
    stop = _exited_since(svc, c.id, c)
    watch = ExitWatch(ctx.monitor, stop)
    if c.running:
        ctx.monitor.watch(c.id)

    def pump(raw: Any) -> None:
        if req.flag("stdin") and c.spec.interactive:
            threading.Thread(target=_forward_stdin, args=(svc, c, raw.rfile, stop),
                             name="berthd-stdin", daemon=True).start()
        for chunk in _log_frames(svc, c, req, req.flag("stream"), since, watch.stop, watch.idle):
            raw.wfile.write(chunk)
            raw.wfile.flush()
    return Response(101, content_type=RAW_STREAM if c.spec.tty else MULTIPLEXED_STREAM,
                    hijack=pump)


def _forward_stdin(svc: Any, c: Any, rfile: Any, stop: Callable[[], bool]) -> None:
    """Copy the client's bytes to the container's stdin (the shim's attach stream), EOF too.

    Docker clients attach before they start the container: the copy begins once it runs (the
    client's bytes wait in the socket meanwhile)."""
    from ..container import shimctl

    while True:
        current = svc.records.get(c.id)
        if current is None:
            return  # removed meanwhile
        if svc._reconcile(current).running:  # noqa: SLF001 - refresh without release
            break
        if stop():
            return
        time.sleep(0.02)
    try:
        sock = shimctl.open_attach(svc.paths(c.id), True)
    except shimctl.ShimError:
        return  # it has exited meanwhile: nothing to feed
    # the shim also sends the output back on this stream; the client gets it from the log
    threading.Thread(target=_discard, args=(sock,), name="berthd-attach-drain",
                     daemon=True).start()
    try:
        while True:
            data = rfile.read1(65536)
            if not data:
                sock.shutdown(socket.SHUT_WR)  # the client's EOF is the container's
                return
            sock.sendall(data)
    except OSError:
        return  # the client or the container went away
    finally:
        sock.close()


def _discard(sock: Any) -> None:
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass
