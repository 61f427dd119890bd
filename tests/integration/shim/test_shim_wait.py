"""The ``wait`` op (a foreground client learns of the final exit without polling) and the cgroup
removal the shim does itself after an exit, without a runtime child."""
from __future__ import annotations

import json
import os
import select
import subprocess

from shim_helpers import WAIT_LIMIT, log_entries, wait_for

import berth.runtime as rt
from berth.shim import client, exit_hook, runtime_child


def _send_wait(box) -> object:
    sock = client.connect(str(box.run_dir), WAIT_LIMIT)
    sock.sendall(b'{"op": "wait"}\n')
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


def test_a_live_client_that_releases_the_run_itself_takes_over_the_exit_hook(make_box, tmp_path):
    ended = subprocess.Popen(["true"])
    ended.wait()
    me = exit_hook.process_identity(os.getpid())
    assert me is not None and exit_hook.still_running(me)
    cases = {
        "nobody": None,                                                  # the hook runs
        "alive": me,                                                     # this process releases
        "ended": {"pid": ended.pid, "start": 1},                          # gone: the hook runs
        "pid reused": {"pid": os.getpid(), "start": me["start"] + 1},    # not the same process
    }
    marks = {name: tmp_path / name.replace(" ", "-") for name in cases}
    for name, released_by in cases.items():
        box = make_box()
        box.launch(["true"], on_exit=_hook_marking(marks[name]), released_by=released_by)
        box.wait_exited()
    for name in ("nobody", "ended", "pid reused"):
        wait_for(marks[name].exists, f"the exit hook when the releasing client is {name}")
    # the "alive" run's hook, had it been started, was forked before the later runs even began
    assert not marks["alive"].exists()


def test_process_identity_reads_past_a_command_name_with_parentheses(tmp_path):
    odd = tmp_path / "a) (b c"
    odd.symlink_to("/bin/sleep")
    proc = subprocess.Popen([str(odd), "60"])
    try:
        def exec_done() -> bool:
            with open(f"/proc/{proc.pid}/comm") as f:
                return f.read().startswith("a) (b")

        wait_for(exec_done, "the exec of the oddly named program")
        ident = exit_hook.process_identity(proc.pid)
        with open(f"/proc/{proc.pid}/stat") as f:
            expected = int(f.read().rsplit(")", 1)[1].split()[19])
        assert ident == {"pid": proc.pid, "start": expected}
        assert exit_hook.still_running(ident)
    finally:
        proc.kill()
        proc.wait()
    assert not exit_hook.still_running(ident)
    assert exit_hook.process_identity(proc.pid) is None
