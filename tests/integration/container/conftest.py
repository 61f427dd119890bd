"""Fixtures for container tests: a busybox image in a private BERTH_ROOT, and a teardown that
removes every container with ``berth rm -f`` and then checks that nothing was left behind."""
from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from ctr_helpers import cgroup_dirs, mounts_under, shim_pids

import berth.runtime as rt


class Ctr:
    """``berth`` for container tests: remembers what it created so teardown can remove it."""

    def __init__(self, env: Any, image_id: str) -> None:
        self.env = env
        self.image_id = image_id

    def __call__(self, *args: str, **kw: Any) -> Any:
        return self.env.berth(*args, **kw)

    def out(self, *args: str, **kw: Any) -> str:
        return self.env.berth(*args, **kw).stdout.decode()

    def run_d(self, *args: str) -> str:
        """``berth run -d ARGS``; the new container's ID."""
        cid = self.out("run", "-d", *args).strip()
        assert len(cid) == 64, cid
        return cid

    def inspect(self, name: str) -> dict:
        return json.loads(self.out("inspect", name))[0]

    def ids(self) -> list[str]:
        return self.out("ps", "-aq", "--no-trunc").split()

    def wait_for(self, predicate: Any, what: str, limit: float = 60.0) -> None:
        """Poll until ``predicate()`` (a guard against hangs, not a timing assertion)."""
        deadline = time.monotonic() + limit
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up waiting for {what}")
            time.sleep(0.05)

    def logs(self, name: str) -> str:
        return self.out("logs", name)


@pytest.fixture
def ctr(berth_env: Any, busybox: str) -> Iterator[Ctr]:
    helper = Ctr(berth_env, busybox)
    try:
        yield helper
    finally:
        _teardown(berth_env, helper)


def _teardown(env: Any, helper: Ctr) -> None:
    problems = []
    try:
        ids = helper.ids()
    except AssertionError as e:
        ids = []
        problems.append(str(e))
    for cid in ids:
        proc = env.berth("rm", "-f", cid, check=False)
        if proc.returncode != 0:
            problems.append(f"rm -f {cid[:12]}: {proc.stderr.decode().strip()}")
    # anything still here is a leak of the engine: report it, then clean it up by hand
    leaked_shims = shim_pids(str(env.run))
    leaked_cgroups = [d for d in cgroup_dirs() if any(cid in d for cid in ids)]
    leaked_mounts = [m for m in mounts_under(str(env.base)) if "/containers/" in m or
                     "/netns/" in m]
    for pid in leaked_shims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for cid in {d.rsplit("/", 1)[1] for d in leaked_cgroups}:
        try:
            rt.Cgroup("berth/" + cid).kill_all()
        except Exception:  # noqa: BLE001 - best effort cleanup of a failed test
            pass
    time.sleep(0.1)
    for d in sorted(leaked_cgroups, key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            pass
    assert not problems, problems
    assert not leaked_shims, f"shims left running: {leaked_shims}"
    assert not leaked_cgroups, f"cgroups left: {leaked_cgroups}"
    assert not leaked_mounts, f"mounts left: {leaked_mounts}"
