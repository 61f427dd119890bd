"""berthd's life: SIGKILL and restart lose nothing, SIGTERM leaves containers running, and the boot
restore brings restart-policy containers back after their shims are gone (a host reboot)."""
from __future__ import annotations

import json
import os
import signal
import time
from typing import Any


def _run(berthd: Any, name: str, restart: str = "no") -> dict:
    cid = berthd.json("POST", f"/containers/create?name={name}",
                      {"Image": "busybox", "Cmd": ["sleep", "600"],
                       "HostConfig": {"RestartPolicy": {"Name": restart}}}, expect=201)["Id"]
    status, _headers, raw = berthd.request("POST", f"/containers/{cid}/start")
    assert status == 204, raw
    return berthd.json("GET", f"/containers/{cid}/json")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_sigkill_then_restart_loses_nothing(berthd):
    running = _run(berthd, "keeps-running")
    created = berthd.env.berth("create", "--name", "just-created", "busybox", "true")
    created_id = created.stdout.decode().strip()
    vol = berthd.json("POST", "/volumes/create", {"Name": "kept"}, expect=201)
    pid = running["State"]["Pid"]

    assert berthd.signal(signal.SIGKILL) == -signal.SIGKILL
    assert _alive(pid), "the container died with the daemon"
    # the daemonless CLI still sees everything while no daemon runs
    ps = berthd.env.berth("ps", "-a").stdout.decode()
    assert "keeps-running" in ps and "just-created" in ps

    berthd.start()  # over the stale socket file and pid file of the killed daemon
    with open(berthd.pidfile) as f:
        assert int(f.read()) == berthd.proc.pid
    rows = {r["Names"][0]: r for r in berthd.json("GET", "/containers/json?all=1")}
    assert set(rows) == {"/keeps-running", "/just-created"}
    assert rows["/keeps-running"]["State"] == "running"
    assert rows["/just-created"]["Id"] == created_id and rows["/just-created"]["State"] == "created"
    again = berthd.json("GET", "/containers/keeps-running/json")
    assert again["State"]["Pid"] == pid and again["State"]["StartedAt"] == \
        running["State"]["StartedAt"]
    assert berthd.json("GET", "/volumes/kept")["Mountpoint"] == vol["Mountpoint"]
    # and it still drives the container it did not start
    status, _headers, _body = berthd.request("POST", "/containers/keeps-running/stop?t=0")
    assert status == 204 and not _alive(pid)


def test_sigterm_stops_the_daemon_not_the_containers(berthd):
    info = _run(berthd, "survivor")
    assert berthd.signal(signal.SIGTERM) == 0
    assert not os.path.exists(berthd.socket) and not os.path.exists(berthd.pidfile)
    assert _alive(info["State"]["Pid"])
    out = berthd.env.berth("inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "survivor")
    assert out.stdout.decode().split() == ["running", str(info["State"]["Pid"])]


def test_boot_restore_brings_back_restart_policy_containers(berthd):
    always = _run(berthd, "always", restart="always")
    plain = _run(berthd, "plain")
    shims = {}
    for doc in (always, plain):
        state_dir = berthd.env.run / "containers" / doc["Id"][:12]
        shims[doc["Id"]] = json.loads((state_dir / "state.json").read_text())["shim_pid"]
    assert berthd.signal(signal.SIGTERM) == 0
    # a host reboot: every shim and container process is gone
    for doc in (always, plain):
        os.kill(shims[doc["Id"]], signal.SIGKILL)
        os.kill(doc["State"]["Pid"], signal.SIGKILL)
    for doc in (always, plain):
        for pid in (shims[doc["Id"]], doc["State"]["Pid"]):
            _reap_wait(pid)

    berthd.start()
    back = berthd.json("GET", "/containers/always/json")
    assert back["State"]["Running"] and back["State"]["Pid"] != always["State"]["Pid"]
    assert _alive(back["State"]["Pid"])
    stopped = berthd.json("GET", "/containers/plain/json")
    assert stopped["State"]["Status"] == "exited" and not stopped["State"]["Running"]
    assert f'["{always["Id"]}", "started"]' in berthd.log.read_text()


def _reap_wait(pid: int) -> None:
    """Wait until ``pid`` is gone (it is not our child: poll /proc)."""
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
