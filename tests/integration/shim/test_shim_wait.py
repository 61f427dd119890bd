"""The ``wait`` op (a foreground client learns of the final exit without polling) and the cgroup
removal the shim does itself after an exit, without a runtime child."""
from __future__ import annotations

import json
import os
import select
import subprocess

from shim_helpers import WAIT_LIMIT, log_entries, wait_for

import berth.runtime as rt
from berth.shim import client, runtime_child


def _send_wait(box, release: bool = False) -> object:
    sock = client.connect(str(box.run_dir), WAIT_LIMIT)
    sock.sendall(b'{"op": "wait", "release": true}\n' if release else b'{"op": "wait"}\n')
    return sock


def _read_reply(sock) -> dict:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        assert chunk, "the shim closed the wait connection without a reply"
        data += chunk
    return json.loads(data)


def test_wait_replies_after_the_final_exit_with_everything_done(box):
    box.launch(["sh", "-c", "echo first; while [ ! -e /go ]; do sleep 0.05; done; "
                            "echo last; exit 4"])
    with _send_wait(box) as sock:
        wait_for(lambda: os.path.exists(box.log_path) and log_entries(box.log_path),
                 "the first line")
        assert select.select([sock], [], [], 0.3)[0] == []  # still running: no reply yet
        (box.rootfs / "go").touch()
        reply = _read_reply(sock)
        # at the moment of the reply the exit is complete: state, log and cgroup
        assert reply["ok"] is True
        assert (reply["status"], reply["exit_code"], reply["pid"]) == ("exited", 4, 0)
        assert box.state()["status"] == "exited"
        assert [e["log"] for e in log_entries(box.log_path)] == ["first\n", "last\n"]
        assert not box.cgroup_exists()
        assert sock.recv(1) == b""  # then the shim closes the connection
    box.wait_exited()


def test_wait_answers_only_after_the_last_restart(box):
    box.launch(["sh", "-c", "echo try; exit 3"], restart="on-failure", max_retries=2)
    with _send_wait(box) as sock:
        reply = _read_reply(sock)
    assert (reply["status"], reply["exit_code"], reply["restart_count"]) == ("exited", 3, 2)
    assert [e["log"] for e in log_entries(box.log_path)] == ["try\n"] * 3
    box.wait_exited()


def test_wait_of_a_stopped_container(box):
    box.launch(["sleep", "1000"])
    with _send_wait(box) as sock:
        assert box.request({"op": "stop", "timeout": 0})["exit_code"] == 137
        assert _read_reply(sock)["exit_code"] == 137
    box.wait_exited()


def test_the_shim_removes_an_empty_cgroup_itself_and_leaves_a_busy_one(box):
    box.prepare(["true"])
    cgroup = rt.Cgroup.create(box.spec["linux"]["cgroupsPath"], {})
    plan = runtime_child.CgroupPlan.from_reply(
        runtime_child._cgroup_plan(rt, str(box.bundle)))  # what the start child reports
    assert plan is not None
    assert sorted(plan.dirs) == sorted(cgroup.directories())
    assert plan.oom_file is None or os.path.exists(plan.oom_file)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        cgroup.add(sleeper.pid)
        assert runtime_child.remove_empty_cgroup(plan) == (False, False)
        assert all(os.path.isdir(d) for d in plan.dirs)
    finally:
        sleeper.kill()
        sleeper.wait()
    wait_for(lambda: not cgroup.pids(), "the sleeper to leave the cgroup")
    assert runtime_child.remove_empty_cgroup(plan) == (True, False)
    assert not cgroup.exists()
    assert runtime_child.remove_empty_cgroup(plan) == (True, False)  # gone already: fine


def test_a_nested_group_falls_back_to_the_runtimes_delete(box):
    box.prepare(["true"])
    cgroup = rt.Cgroup.create(box.spec["linux"]["cgroupsPath"], {})
    plan = runtime_child.CgroupPlan.from_reply(runtime_child._cgroup_plan(rt, str(box.bundle)))
    assert plan is not None
    os.mkdir(os.path.join(plan.dirs[0], "nested"))
    assert runtime_child.remove_empty_cgroup(plan)[0] is False
    assert cgroup.exists()
    assert runtime_child.cleanup(str(box.bundle), "berth", plan) is False
    assert not cgroup.exists()


def _hook_marking(path) -> list:
    return ["/bin/sh", "-c", f"echo ran > {path}"]


def test_a_client_that_releases_the_run_itself_takes_over_the_exit_hook(make_box, tmp_path):
    plain, release, gone = make_box(), make_box(), make_box()
    marks = {name: tmp_path / name for name in ("plain", "release", "gone")}
    wait_for_go = ["sh", "-c", "while [ ! -e /go ]; do sleep 0.05; done"]
    # control: a plain wait leaves the hook to run
    plain.launch(wait_for_go, on_exit=_hook_marking(marks["plain"]))
    with _send_wait(plain) as sock:
        (plain.rootfs / "go").touch()
        assert _read_reply(sock)["status"] == "exited"
    plain.wait_exited()
    wait_for(marks["plain"].exists, "the exit hook of a plain wait")

    # a client that got the reply with "release": the hook is not started
    release.launch(wait_for_go, on_exit=_hook_marking(marks["release"]))
    with _send_wait(release, release=True) as sock:
        (release.rootfs / "go").touch()
        assert _read_reply(sock)["status"] == "exited"
    release.wait_exited()

    # a client that claimed the release but left before the exit: the hook runs after all
    gone.launch(wait_for_go, on_exit=_hook_marking(marks["gone"]))
    sock = _send_wait(gone, release=True)
    sock.close()
    (gone.rootfs / "go").touch()
    gone.wait_exited()
    wait_for(marks["gone"].exists, "the exit hook after the releasing client left")
    # the second run's hook, had it been started, was forked before the third run even began
    assert not marks["release"].exists()
