"""The shim's ``on_exit`` contract, which the container service relies on to release a run as
soon as it ends: the command starts detached (own session, stdio on /dev/null, no inherited fds,
the extra environment), the shim does not wait for it, and shim.json is validated."""
from __future__ import annotations

import json
import os
import sys
import textwrap
import time

import pytest

import berth.runtime as rt
from berth.errors import InvalidArgument
from berth.shim.config import ShimConfig
from berth.shim.exit_hook import run_detached

REPORT = textwrap.dedent("""
    import json, os, sys, time
    deadline = time.monotonic() + 60
    while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
        time.sleep(0.01)
    report = {"saw_go": os.path.exists(sys.argv[2]), "sid": os.getsid(0),
              "fds": sorted(os.listdir("/proc/self/fd")),
              "stdio": [os.readlink(f"/proc/self/fd/{fd}") for fd in (0, 1, 2)],
              "hook_env": os.environ.get("HOOK_TEST"), "path_kept": "PATH" in os.environ,
              "ppid": os.getppid()}
    with open(sys.argv[1] + ".tmp", "w") as f:
        json.dump(report, f)
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
""")


@pytest.fixture
def not_a_subreaper():
    """The hook's contract is about a caller that is no child subreaper (orphans go to init);
    other test packages make this pytest process one for their own runs."""
    was = rt.is_child_subreaper()
    if was:
        rt.set_child_subreaper(False)
    yield
    if was:
        rt.set_child_subreaper(True)


def _children() -> set[int]:
    """PIDs whose parent is this process (pytest may have others: daemons of session fixtures)."""
    me, found = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            found.add(int(entry))
    return found


def _wait_for(path: str, limit: float = 60.0) -> dict:
    deadline = time.monotonic() + limit
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise AssertionError(f"the hook never wrote {path}")
        time.sleep(0.02)
    with open(path) as f:
        return json.load(f)


def test_hook_runs_detached_with_its_environment_and_nothing_inherited(
        tmp_path, not_a_subreaper) -> None:
    out, go = str(tmp_path / "report.json"), tmp_path / "go"
    leaked_r, leaked_w = os.pipe()  # an inheritable fd of "the shim" that must not reach the hook
    os.set_inheritable(leaked_w, True)
    before = _children()
    try:
        started = run_detached([sys.executable, "-c", REPORT, out, str(go)], {"HOOK_TEST": "yes"})
        left = _children() - before  # the middle child was reaped, the hook is not ours
        go.touch()  # the hook waits for this: had run_detached waited for the hook, it never saw it
        report = _wait_for(out)
    finally:
        os.close(leaked_r)
        os.close(leaked_w)
    assert started and report["saw_go"]
    assert report["sid"] != os.getsid(0)  # a session of its own (made by the middle child)
    assert report["stdio"] == ["/dev/null"] * 3
    assert report["fds"] == ["0", "1", "2", "3"]  # 3: listdir's own handle on /proc/self/fd
    assert report["hook_env"] == "yes" and report["path_kept"]
    assert left == set() and report["ppid"] != os.getpid()


def test_no_hook_starts_nothing() -> None:
    assert run_detached([], {"HOOK_TEST": "yes"}) is False


def test_a_hook_that_cannot_be_executed_does_not_disturb_the_caller(
        tmp_path, not_a_subreaper) -> None:
    before = _children()
    assert run_detached([str(tmp_path / "missing")], {}) is True  # the exec fails in the child
    assert _children() - before == set()  # nothing of it left for the caller to reap


BASE = {"bundle": "/b", "log_path": "/l"}


def test_shim_json_on_exit_is_optional_and_validated() -> None:
    assert ShimConfig(BASE).on_exit == [] and ShimConfig(BASE).on_exit_env == {}
    cfg = ShimConfig(dict(BASE, on_exit=["/usr/bin/true", "x"], on_exit_env={"A": "1"}))
    assert (cfg.on_exit, cfg.on_exit_env) == (["/usr/bin/true", "x"], {"A": "1"})
    for bad in ({"on_exit": "/usr/bin/true"}, {"on_exit": ["true"]}, {"on_exit": ["/bin/x", 1]},
                {"on_exit_env": {"A": 1}}, {"on_exit_env": ["A=1"]}):
        with pytest.raises(InvalidArgument):
            ShimConfig(dict(BASE, **bad))
