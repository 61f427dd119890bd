"""A shim started ahead of its container (``shimctl.PendingShim``): it loads and forks the runtime
child of the first start while the caller prepares the bundle, then starts on ``go``; discarded,
it exits without touching anything."""
from __future__ import annotations

import types

import pytest
from shim_helpers import WAIT_LIMIT, ShimBox, pid_alive, wait_for

from berth.container import shimctl


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def _paths(box: ShimBox) -> shimctl.ContainerPaths:
    return types.SimpleNamespace(run_dir=str(box.run_dir))  # type: ignore[return-value]


def test_pending_shim_waits_with_its_runtime_child_then_starts_on_go(box: ShimBox) -> None:
    pending = shimctl.PendingShim(_paths(box))
    box.proc = pending.proc  # reaped and cleaned up by the box
    runtime_child = wait_for(lambda: _children(pending.proc.pid), "the runtime child")[0]
    assert list(box.run_dir.iterdir()) == []  # nothing of the container touched before go
    with open(f"/proc/{pending.proc.pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[-2] == str(box.run_dir).encode()  # ps names the container
    box.prepare(["sh", "-c", "exit 3"])
    ready = pending.go()
    assert ready["ok"] and ready["pid"] > 0
    assert not pid_alive(runtime_child)  # it made the start call and exited
    state = box.wait_exited()
    assert (state["status"], state["exit_code"]) == ("exited", 3)


def test_discarded_pending_shim_exits_without_a_trace(box: ShimBox) -> None:
    pending = shimctl.PendingShim(_paths(box))
    box.proc = pending.proc
    runtime_child = wait_for(lambda: _children(pending.proc.pid), "the runtime child")[0]
    pending.discard()
    assert pending.proc.wait(WAIT_LIMIT) == 0
    assert not pid_alive(runtime_child)
    assert list(box.run_dir.iterdir()) == []
    pending.discard()  # idempotent, as an undo callback must be


def test_pending_shim_reports_a_failed_first_start(box: ShimBox) -> None:
    pending = shimctl.PendingShim(_paths(box))
    box.proc = pending.proc
    box.prepare(["no-such-command"])
    with pytest.raises(shimctl.StartFailed) as failed:
        pending.go()
    assert failed.value.exit_code == 127
    assert box.wait_exited()["exit_code"] == 127
