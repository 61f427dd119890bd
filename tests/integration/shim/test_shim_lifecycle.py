"""The shim as the container service sees it: exit codes, state, stop, restart policy, cleanup."""
from __future__ import annotations

import os
import signal
import socket

import pytest
from shim_helpers import log_entries, pid_alive, wait_for

import berth.runtime as rt
from berth.runtime import runc
from berth.shim import client
from berth.shim.clock import ZERO_TIME


@pytest.mark.parametrize("command, expected", [
    (["true"], 0),
    (["sh", "-c", "exit 3"], 3),
    (["sh", "-c", "sleep 60 & kill -9 $!; wait $!"], 137),  # PID 1 cannot SIGKILL itself
])
def test_exit_code_is_recorded_and_the_shim_leaves(box, command, expected):
    ready = box.launch(command)
    assert ready["ok"] is True and ready["pid"] > 0
    state = box.wait_exited()
    assert box.proc.returncode == 0
    assert state["status"] == "exited"
    assert state["exit_code"] == expected
    assert state["pid"] == 0 and state["shim_pid"] == box.proc.pid
    assert state["restart_count"] == 0 and state["manually_stopped"] is False
    assert state["finished_at"] >= state["started_at"] > "2000"
    assert not (box.run_dir / "shim.sock").exists()
    assert not box.cgroup_exists()


def test_kill_9_of_pid_1_from_the_host_is_137(box):
    ready = box.launch(["sleep", "1000"])
    running = box.request({"op": "state"})
    assert running["status"] == "running" and running["pid"] == ready["pid"]
    assert running["shim_pid"] == box.proc.pid
    os.kill(ready["pid"], signal.SIGKILL)
    assert box.wait_exited()["exit_code"] == 137


def test_oom_kill_is_recorded(box):
    rt.apply_resources(box.spec, memory=32 * 1024 * 1024)
    box.launch(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"])
    state = box.wait_exited()
    assert (state["exit_code"], state["oom_killed"]) == (137, True)


def test_a_missing_command_is_reported_on_the_ready_fd(box):
    ready = box.launch(["no-such-command"])
    assert ready["ok"] is False
    assert ready["exit_code"] == 127
    assert "no-such-command" in ready["error"]
    state = box.wait_exited()
    assert (state["status"], state["exit_code"]) == ("exited", 127)
    assert "no-such-command" in state["error"]
    assert not box.cgroup_exists()


def test_stop_of_a_process_ignoring_sigterm_kills_it_after_the_timeout(box):
    box.launch(["sh", "-c", "trap '' TERM; echo ready; sleep 1000"], stop_timeout=1)
    wait_for(lambda: os.path.exists(box.log_path) and "ready" in open(box.log_path).read(),
             "the trap to be set")
    reply = box.request({"op": "stop", "timeout": 1})
    assert reply == {"ok": True, "exit_code": 137}
    state = box.wait_exited()
    assert state["exit_code"] == 137 and state["manually_stopped"] is True


def test_stop_sends_the_signal_first(box):
    box.launch(["sh", "-c", "trap 'echo got TERM; exit 0' TERM; echo ready; "
                            "while :; do sleep 0.1; done"])
    wait_for(lambda: os.path.exists(box.log_path) and "ready" in open(box.log_path).read(),
             "the trap to be set")
    assert box.request({"op": "stop", "timeout": 60, "signal": "SIGTERM"})["exit_code"] == 0
    assert "got TERM\n" in [e["log"] for e in log_entries(box.log_path)]


def test_on_failure_3_restarts_exactly_three_times(box):
    box.launch(["sh", "-c", "echo run; exit 1"], restart="on-failure", max_retries=3)
    state = box.wait_exited()
    assert (state["status"], state["exit_code"], state["restart_count"]) == ("exited", 1, 3)
    assert [e["log"] for e in log_entries(box.log_path)] == ["run\n"] * 4


def test_on_failure_does_not_restart_a_success(box):
    box.launch(["true"], restart="on-failure", max_retries=3)
    state = box.wait_exited()
    assert (state["exit_code"], state["restart_count"]) == (0, 0)


def test_always_survives_kill_9_and_stop_cancels_restarts(box):
    first = box.launch(["sleep", "1000"], restart="always", stop_timeout=1)["pid"]
    os.kill(first, signal.SIGKILL)
    again = box.wait_state(lambda s: s["status"] == "running" and s["restart_count"] == 1,
                           "a restart after kill -9")
    assert again["pid"] != first and again["exit_code"] == 0  # cleared while running
    assert again["finished_at"] != ZERO_TIME  # the last exit is kept, as Docker does
    # the kill op does not cancel the policy either (like docker kill)
    assert box.request({"op": "kill", "signal": "SIGKILL"}) == {"ok": True}
    third = box.wait_state(lambda s: s["status"] == "running" and s["restart_count"] == 2,
                           "a restart after the kill op")
    assert box.request({"op": "stop", "timeout": 1})["exit_code"] == 137
    state = box.wait_exited()
    assert (state["status"], state["restart_count"], state["manually_stopped"]) == \
        ("exited", 2, True)
    assert not pid_alive(third["pid"])


def test_stop_while_waiting_to_restart_ends_it(box):
    # the backoff of the 2nd+ restart of a crashing container leaves it "restarting" for a while
    box.launch(["sh", "-c", "exit 2"], restart="always")
    box.wait_state(lambda s: s["restart_count"] >= 1, "some restarts")
    reply = box.request({"op": "stop", "timeout": 1})
    assert reply == {"ok": True, "exit_code": 2}
    state = box.wait_exited()
    assert state["status"] == "exited" and state["manually_stopped"] is True


def test_sigterm_to_the_shim_stops_the_container(box):
    box.launch(["sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done"], restart="always")
    box.wait_state(lambda s: s["status"] == "running", "running")
    wait_for(lambda: "sh" in open(f"/proc/{box.state()['pid']}/comm").read(), "sh running")
    box.proc.send_signal(signal.SIGTERM)
    state = box.wait_exited()
    assert state["manually_stopped"] is True and state["restart_count"] == 0


def test_pause_and_resume(box):
    box.launch(["sleep", "1000"])
    assert box.request({"op": "pause"}) == {"ok": True}
    assert box.request({"op": "state"})["status"] == "paused"
    assert box.request({"op": "resume"}) == {"ok": True}
    assert box.request({"op": "state"})["status"] == "running"
    box.request({"op": "pause"})
    assert box.request({"op": "stop", "timeout": 5})["exit_code"] == 137  # thawed to die


def test_bad_requests_get_one_line_errors(box):
    box.launch(["sleep", "1000"])
    with pytest.raises(client.ShimRefused, match="unknown op"):
        box.request({"op": "dance"})
    with pytest.raises(client.ShimRefused, match="unknown signal"):
        box.request({"op": "kill", "signal": "SIGNOPE"})
    with pytest.raises(client.ShimRefused, match="no terminal"):
        box.request({"op": "resize", "rows": 10, "cols": 10})
    with pytest.raises(client.ShimRefused, match="stop it first"):
        box.request({"op": "shutdown"})
    with client.connect(str(box.run_dir)) as sock:
        sock.sendall(b"not json\n")
        assert b'"ok":false' in sock.recv(4096)


def test_nothing_is_left_behind(box):
    box.launch(["sh", "-c", "sleep 1000 & sleep 1000 & echo up; wait"])
    wait_for(lambda: len(box.cgroup().pids()) >= 3, "the background sleeps")
    pids = box.cgroup().pids()
    box.request({"op": "stop", "timeout": 1})
    box.wait_exited()
    assert not any(pid_alive(pid) for pid in pids)
    assert not box.cgroup_exists()
    assert not (box.run_dir / "shim.sock").exists()
    assert not pid_alive(box.proc.pid)


def test_orphans_are_reaped_by_the_shim(box):
    box.spec["linux"]["namespaces"] = [ns for ns in box.spec["linux"]["namespaces"]
                                       if ns["type"] != "pid"]
    # the subshell exits at once: its loop is orphaned and reparented to the shim (a subreaper)
    box.launch(["sh", "-c", "(while [ ! -e /go ]; do sleep 0.05; done & echo $! > /orphan); "
                            "sleep 1000"])
    orphan_file = box.rootfs / "orphan"
    wait_for(lambda: orphan_file.exists() and orphan_file.read_text().strip(), "the orphan pid")
    orphan = int(orphan_file.read_text())
    with open(f"/proc/{orphan}/stat") as f:
        assert int(f.read().rsplit(")", 1)[1].split()[1]) == box.proc.pid
    (box.rootfs / "go").touch()
    wait_for(lambda: not os.path.exists(f"/proc/{orphan}"), "the orphan to be reaped")
    assert pid_alive(box.proc.pid)
    box.request({"op": "stop", "timeout": 1})
    box.wait_exited()


def test_client_spawn_launches_a_shim_in_its_own_session(box):
    box.prepare(["sh", "-c", "echo spawned; sleep 1000"])
    box.proc, ready = client.spawn(str(box.run_dir))
    assert ready["ok"] is True
    assert os.getsid(box.proc.pid) == box.proc.pid  # setsid: the CLI may exit meanwhile
    fds = os.listdir(f"/proc/{box.proc.pid}/fd")
    targets = {os.readlink(f"/proc/{box.proc.pid}/fd/{fd}") for fd in ("0", "1", "2")}
    assert targets == {os.devnull}
    assert "shim.sock" in os.listdir(box.run_dir) and len(fds) > 3
    assert client.request(str(box.run_dir), {"op": "state"})["pid"] == ready["pid"]
    assert client.request(str(box.run_dir), {"op": "stop", "timeout": 0}, timeout=None) == \
        {"ok": True, "exit_code": 137}
    box.wait_exited()
    with pytest.raises(client.ShimGone):
        client.request(str(box.run_dir), {"op": "state"})


def test_state_socket_is_root_only(box):
    box.launch(["sleep", "1000"])
    assert os.stat(box.run_dir / "shim.sock").st_mode & 0o777 == 0o600
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(box.run_dir / "shim.sock"))


@pytest.mark.skipif(not runc.available(), reason="runc is not installed")
def test_runc_as_the_runtime(make_box):
    box = make_box("runc")
    box.launch(["sh", "-c", "echo via runc; exit 4"], restart="on-failure", max_retries=1)
    state = box.wait_exited()
    assert (state["exit_code"], state["restart_count"]) == (4, 1)
    assert [e["log"] for e in log_entries(box.log_path)] == ["via runc\n"] * 2
    assert not rt.Cgroup(box.spec["linux"]["cgroupsPath"]).exists()
