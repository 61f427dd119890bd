"""Detached containers: logs, ps, stop/kill/restart, pause, rm, restart policies, restore."""
from __future__ import annotations

import json
import os
import shutil
import signal

from ctr_helpers import alive, cgroup_dirs, mounts_under, shim_pids


def _state(ctr, name: str) -> dict:
    return ctr.inspect(name)["State"]


def test_detached_logs_and_follow(ctr) -> None:
    ctr.run_d("--name", "talker", "busybox", "sh", "-c",
              "echo one; echo two >&2; sleep 0.5; echo three; printf partial")
    follow = ctr("logs", "-f", "talker")  # returns once the container has exited
    assert follow.stdout == b"one\nthree\npartial"
    assert follow.stderr == b"two\n"
    assert ctr.out("logs", "--tail", "1", "talker") == "partial"
    stamped = ctr.out("logs", "-t", "talker").splitlines()[0]
    assert stamped.split(" ", 1)[1] == "one" and stamped.split(" ", 1)[0].endswith("Z")
    assert ctr.out("logs", "--since", "2030-01-01T00:00:00Z", "talker") == ""


def test_ps_filters_and_formats(ctr) -> None:
    up = ctr.run_d("--name", "up", "-l", "role=web", "busybox", "sleep", "1000")
    done = ctr.out("create", "--name", "done", "-l", "role=db", "busybox", "true").strip()
    ctr("start", "done")
    ctr.wait_for(lambda: _state(ctr, "done")["Status"] == "exited", "done to exit")
    assert ctr.out("ps", "-q") == up[:12] + "\n"
    assert sorted(ctr.out("ps", "-aq", "--no-trunc").split()) == sorted([up, done])
    assert ctr.out("ps", "-aq", "--filter", "status=exited") == done[:12] + "\n"
    assert ctr.out("ps", "-aq", "--filter", "name=up") == up[:12] + "\n"
    assert ctr.out("ps", "-aq", "--filter", "label=role=db") == done[:12] + "\n"
    assert sorted(ctr.out("ps", "-aq", "--filter", "label=role").split()) == sorted(
        [up[:12], done[:12]])
    assert ctr.out("ps", "-aq", "--filter", f"id={up[:6]}") == up[:12] + "\n"
    assert len(ctr.out("ps", "-aq", "--filter", "ancestor=busybox").split()) == 2
    assert ctr.out("ps", "-q", "-l") == done[:12] + "\n"  # -l: the latest, in any state
    assert ctr.out("ps", "-aq", "-n", "1") == done[:12] + "\n"
    table = ctr.out("ps").splitlines()
    assert table[0].split()[:2] == ["CONTAINER", "ID"] and table[1].startswith(up[:12])
    assert "Up " in table[1] and table[1].rstrip().endswith("up")
    rows = [json.loads(ln) for ln in ctr.out("ps", "-a", "--format", "json").splitlines()]
    assert {r["Names"]: r["State"] for r in rows} == {"up": "running", "done": "exited"}
    assert ctr.out("ps", "-a", "--format", "{{.Names}}:{{.Status}}", "--filter",
                   "name=done") .startswith("done:Exited (0)")
    assert ctr("ps", "--filter", "bogus=1", check=False).returncode == 125


def test_stop_kill_restart(ctr) -> None:
    ctr.run_d("--name", "svc", "busybox", "sleep", "1000")
    first_pid = _state(ctr, "svc")["Pid"]
    ctr("stop", "-t", "1", "svc")
    state = _state(ctr, "svc")
    assert state["Status"] == "exited" and state["ExitCode"] == 137  # sleep ignores TERM as PID 1
    assert not os.path.exists(f"/proc/{first_pid}")
    ctr("start", "svc")
    assert _state(ctr, "svc")["Running"]
    ctr("kill", "-s", "TERM", "svc")  # PID 1 has no handler: the kernel ignores it
    ctr("kill", "svc")
    ctr.wait_for(lambda: _state(ctr, "svc")["Status"] == "exited", "kill to take effect")
    assert _state(ctr, "svc")["ExitCode"] == 137
    ctr("restart", "svc")
    state = _state(ctr, "svc")
    assert state["Running"] and state["Pid"] != first_pid
    trap = ctr.run_d("--name", "graceful", "busybox", "sh", "-c",
                     "trap 'exit 0' TERM; while true; do sleep 0.1; done")
    ctr("stop", trap)
    assert _state(ctr, "graceful")["ExitCode"] == 0
    assert ctr.out("wait", "graceful") == "0\n"
    assert ctr("kill", "graceful", check=False).returncode == 1


def test_pause_freezes_a_counting_loop(ctr) -> None:
    ctr.run_d("--name", "counter", "busybox", "sh", "-c",
              "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done")

    def count() -> int:
        text = ctr.out("exec", "counter", "cat", "/tmp/n").strip() if \
            _state(ctr, "counter")["Status"] == "running" else None
        return int(text or 0)

    ctr.wait_for(lambda: count() > 2, "the loop to count")
    ctr("pause", "counter")
    state = _state(ctr, "counter")
    assert state["Status"] == "paused" and state["Paused"]
    upper = ctr.inspect("counter")["GraphDriver"]["Data"]["UpperDir"]
    frozen = open(os.path.join(upper, "tmp/n")).read()
    tasks = ctr.out("ps", "--filter", "status=paused", "-q")
    assert tasks.strip() == ctr.inspect("counter")["Id"][:12]
    assert ctr("exec", "counter", "true", check=False).returncode == 125
    for _round in range(5):  # several loop periods pass; a frozen loop cannot write
        ctr("inspect", "counter")
    assert open(os.path.join(upper, "tmp/n")).read() == frozen
    ctr("unpause", "counter")
    ctr.wait_for(lambda: open(os.path.join(upper, "tmp/n")).read() != frozen, "the loop to resume")
    assert _state(ctr, "counter")["Status"] == "running"


def test_rm_removes_everything_the_container_held(ctr) -> None:
    cid = ctr.run_d("--name", "doomed", "busybox", "sh", "-c", "echo data > /file; sleep 1000")
    doc = ctr.inspect(cid)
    upper = doc["GraphDriver"]["Data"]["UpperDir"]
    ctr.wait_for(lambda: os.path.exists(os.path.join(upper, "file")), "the write")
    assert [m for m in mounts_under(str(ctr.env.base)) if cid in m]
    assert [d for d in cgroup_dirs() if cid in d]
    shims = shim_pids(str(ctr.env.run))
    assert len(shims) == 1
    refused = ctr("rm", "doomed", check=False)
    assert refused.returncode == 1 and b"cannot remove a running container" in refused.stderr
    ctr("rm", "-f", "doomed")
    assert not os.path.exists(os.path.dirname(upper))
    with open("/proc/mounts") as f:
        assert cid not in f.read()
    assert not [d for d in cgroup_dirs() if cid in d]
    assert not alive(shims[0])
    assert not os.path.exists(os.path.join(str(ctr.env.run), "containers", cid))
    assert ctr.ids() == []
    # the image is free again
    assert ctr("rmi", "busybox").returncode == 0


def test_restart_policies(ctr) -> None:
    ctr.run_d("--name", "flaky", "--restart", "on-failure:3", "busybox", "sh", "-c", "exit 1")
    ctr.wait_for(lambda: _state(ctr, "flaky")["Status"] == "exited" and
                 ctr.inspect("flaky")["RestartCount"] == 3, "three restarts")
    assert ctr.inspect("flaky")["RestartCount"] == 3
    ctr.run_d("--name", "phoenix", "--restart", "always", "busybox", "sleep", "1000")
    pid = _state(ctr, "phoenix")["Pid"]
    os.kill(pid, signal.SIGKILL)
    ctr.wait_for(lambda: _state(ctr, "phoenix")["Pid"] not in (0, pid) and
                 _state(ctr, "phoenix")["Running"], "the restart after kill -9")
    assert ctr.inspect("phoenix")["RestartCount"] >= 1
    ctr("stop", "-t", "1", "phoenix")  # a manual stop cancels the policy
    assert _state(ctr, "phoenix")["Status"] == "exited"
    assert ctr.out("ps", "-q", "--filter", "name=phoenix") == ""


def test_system_restore_after_a_simulated_reboot(ctr) -> None:
    always = ctr.run_d("--name", "always", "--restart", "always", "busybox", "sleep", "1000")
    unless = ctr.run_d("--name", "unless", "--restart", "unless-stopped", "busybox", "sleep", "1000")
    stopped = ctr.run_d("--name", "stopped", "--restart", "unless-stopped", "busybox", "sleep", "1000")
    plain = ctr.run_d("--name", "plain", "busybox", "sleep", "1000")
    ctr("stop", "-t", "0", "stopped")
    # the "reboot": every shim and container process dies, BERTH_RUN is emptied
    for pid in shim_pids(str(ctr.env.run)):
        os.kill(pid, signal.SIGKILL)
    import berth.runtime as rt

    for cid in (always, unless, plain):
        rt.Cgroup("berth/" + cid).kill_all()
    ctr.wait_for(lambda: not shim_pids(str(ctr.env.run)), "the shims to die")
    for entry in os.listdir(ctr.env.run):
        path = os.path.join(ctr.env.run, entry)
        if entry == "netns":
            continue  # bind mounts: the fixture detaches whatever the restore leaves
        shutil.rmtree(path, ignore_errors=True)
    assert _state(ctr, "plain")["Status"] == "exited"  # a dead shim reads as exited
    out = ctr.out("system", "restore")
    assert f"{always[:12]} started" in out and f"{unless[:12]} started" in out
    assert _state(ctr, "always")["Running"] and _state(ctr, "unless")["Running"]
    assert _state(ctr, "stopped")["Status"] == "exited"
    assert f"{stopped[:12]} started" not in out  # stopped by hand before the reboot: stays so
    assert _state(ctr, "plain")["Status"] == "exited"
    assert ctr.out("exec", "always", "hostname") == always[:12] + "\n"
