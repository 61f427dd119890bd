"""berthd hears a container's exit from its shim's ``wait`` op, not from a poll: the wait endpoint
answers, the run is released and a ``--rm`` container is removed with the monitor's poll and the
wait's re-reads switched off. Also through the real daemon and ``berth -H``."""
from __future__ import annotations

import io
import json
import threading
import time
from typing import Any

import pytest

from berth.api import containers as api_containers
from berth.api.daemon import Context
from berth.api.events import EventBus
from berth.api.routing import Request
from berth.store import Store

HANG_GUARD = 60.0  # a hung wait fails the test instead of blocking it; not a speed expectation


def _request(method: str, path: str, **query: str) -> Request:
    return Request(method, path, {k: [v] for k, v in query.items()}, {}, io.BytesIO())


def _create(ctx: Context, cmd: list[str], auto_remove: bool = False) -> str:
    body = {"Image": "busybox", "Cmd": cmd, "HostConfig": {"AutoRemove": auto_remove,
                                                           "NetworkMode": "none"}}
    req = Request("POST", "/containers/create", {}, {}, io.BytesIO(json.dumps(body).encode()))
    resp = api_containers.create(ctx, req)
    assert resp.status == 201, resp.body
    return json.loads(resp.body)["Id"]


def _start(ctx: Context, cid: str) -> None:
    resp = api_containers.start(ctx, _request("POST", f"/containers/{cid}/start"), cid)
    assert resp.status == 204


class _Wait:
    """The wait endpoint's answer, read in a thread (the headers go out at once, the body
    when the condition holds)."""

    def __init__(self, ctx: Context, cid: str, condition: str) -> None:
        resp = api_containers.wait(ctx, _request("POST", f"/containers/{cid}/wait",
                                                 condition=condition), cid)
        assert resp.status == 200 and resp.chunks is not None
        self.body = b""
        self.thread = threading.Thread(target=self._read, args=(resp.chunks,), daemon=True)
        self.thread.start()

    def _read(self, chunks: Any) -> None:
        self.body = b"".join(chunks)

    def result(self) -> dict[str, Any]:
        self.thread.join(HANG_GUARD)
        assert not self.thread.is_alive(), "the wait did not hear the exit"
        return json.loads(self.body)


@pytest.fixture
def quiet_ctx(berth_env, busybox, monkeypatch):
    """A daemon context whose monitor never polls and whose waits never re-read on their own:
    only the shim's ``wait`` reply can end a wait."""
    monkeypatch.setattr(api_containers, "WAIT_RECHECK", 3600.0)
    ctx = Context(Store(), EventBus())  # the monitor is not started: no poll thread
    ctx.monitor.interval = 3600.0
    made: list[str] = []
    yield ctx, made
    deadline = time.monotonic() + HANG_GUARD
    while any(ctx.monitor.watching(cid) for cid in made) and time.monotonic() < deadline:
        time.sleep(0.02)  # let the watchers finish their release before the root goes
    svc = ctx.containers()
    for cid in made:
        if svc.records.get(cid) is not None:
            svc.remove(cid, force=True)


def test_wait_reports_the_exit_code_of_a_short_container(quiet_ctx):
    ctx, made = quiet_ctx
    cid = _create(ctx, ["sh", "-c", "sleep 0.3; exit 7"])
    made.append(cid)
    waiting = _Wait(ctx, cid, "next-exit")  # registered before the start, as docker run does
    _start(ctx, cid)
    assert waiting.result() == {"StatusCode": 7, "Error": None}
    # the daemon released the run itself (the shim started no exit hook for it)
    deadline = time.monotonic() + HANG_GUARD
    while ctx.monitor.watching(cid) and time.monotonic() < deadline:
        time.sleep(0.02)
    state = ctx.containers().records.get(cid).state
    assert state["status"] == "exited" and state["released"] is True
    # a wait on a container that has already exited answers at once with its code
    t0 = time.monotonic()
    assert _Wait(ctx, cid, "not-running").result() == {"StatusCode": 7, "Error": None}
    assert time.monotonic() - t0 < 5  # not after a poll interval (3600 s here)


def test_wait_removed_for_an_auto_remove_container_that_exits_at_once(quiet_ctx):
    ctx, made = quiet_ctx
    seen: list[tuple[str, str]] = []

    def listen() -> None:
        for event in ctx.bus.subscribe(since=time.time() - 1, heartbeat=0.1):
            if event is not None:
                seen.append((event["Action"], event["Actor"]["ID"]))
                if event["Action"] == "destroy":
                    return
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    cid = _create(ctx, ["sh", "-c", "exit 3"], auto_remove=True)
    made.append(cid)
    waiting = _Wait(ctx, cid, "removed")
    _start(ctx, cid)  # it may exit before the watcher reaches the shim: that is reported too
    assert waiting.result() == {"StatusCode": 3, "Error": None}
    assert ctx.containers().records.get(cid) is None
    listener.join(HANG_GUARD)
    ctx.bus.close()
    assert [a for a, i in seen if i == cid] == ["create", "start", "die", "destroy"]


def test_berth_host_run_and_wait_through_the_daemon(berthd):
    env = berthd.env
    host = ["--host", berthd.host]
    fg = env.berth(*host, "run", "--rm", "--network", "none", "busybox", "sh", "-c",
                   "echo out; echo err >&2; exit 4", check=False)
    assert (fg.returncode, fg.stdout, fg.stderr) == (4, b"out\n", b"err\n")
    assert env.berth(*host, "ps", "-aq").stdout == b""  # removed before run returned
    # without --rm: the exit code through wait, and a wait on the exited container repeats it
    kept = env.berth(*host, "run", "--name", "kept", "--network", "none", "busybox", "sh", "-c",
                     "exit 5", check=False)
    assert kept.returncode == 5
    assert env.berth(*host, "wait", "kept").stdout == b"5\n"
    # the daemon released the run: the run dir is gone once the exit is handled
    cid = env.berth(*host, "inspect", "-f", "{{.Id}}", "kept").stdout.decode().strip()
    run_dir = env.run / "containers" / cid[:12]
    deadline = time.monotonic() + HANG_GUARD
    while run_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not run_dir.exists()
