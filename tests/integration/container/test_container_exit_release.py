"""A container that exits on its own gives back its network, mounts and cgroup at once (the shim's
``on_exit`` hook), like Docker: no further berth command is needed. The checks look at the
kernel (iptables, links, netns files, mounts, cgroups), never through berth, and poll with a
generous deadline (a guard against hangs, not a timing assertion)."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from ctr_helpers import cgroup_dirs, mounts_under, processes_mentioning

from berth.network import netlink

DEADLINE = 60.0
#: the container waits for this file (in a bind-mounted dir) before it exits
WAIT_FOR_GO = "until [ -e /ctl/go ]; do sleep 0.05; done; exit {code}"


def _rules_of(cid: str) -> list[str]:
    dump = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    return [line for line in dump.splitlines() if cid in line]


def _veths_of(cid: str) -> list[str]:
    return [link.name for link in netlink.tagged_links() if link.tag == cid]


def _netns_files(env) -> list[str]:
    netns = env.run / "netns"
    return sorted(p.name for p in netns.iterdir()) if netns.exists() else []


def _holdings(env, cid: str) -> dict:
    """What the container's run holds on the host, as the kernel sees it."""
    return {
        "rules": _rules_of(cid),
        "veths": _veths_of(cid),
        "netns": _netns_files(env),
        "mounts": [m for m in mounts_under(str(env.base)) if cid in m],
        "cgroups": [d for d in cgroup_dirs() if d.endswith(cid)],
    }


NOTHING = {"rules": [], "veths": [], "netns": [], "mounts": [], "cgroups": []}


def _released(holdings: dict) -> bool:
    return not any(holdings.values())


def _poll_until_released(env, cid: str) -> dict:
    deadline = time.monotonic() + DEADLINE
    holdings = _holdings(env, cid)
    while not _released(holdings) and time.monotonic() < deadline:
        time.sleep(0.05)
        holdings = _holdings(env, cid)
    return holdings


def _wait_hook_done(cid: str) -> None:
    """Until no process names the container: its shim, the shim's child that becomes the exit
    hook, and the hook (``... berth.container.hooks exited <id>``) are gone."""
    deadline = time.monotonic() + DEADLINE
    while processes_mentioning(cid[:12]):
        if time.monotonic() > deadline:
            raise AssertionError(f"processes of {cid[:12]} still run: "
                                 f"{processes_mentioning(cid[:12])}")
        time.sleep(0.05)


def _rootfs_is_volatile(cid: str) -> bool:
    """Whether the container's overlay root was mounted without syncs (``run --rm`` only)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mount, _sep, fs = line.partition(" - ")
            fstype, _source, options = fs.split()[:3]
            if fstype == "overlay" and cid in mount.split()[4]:
                return bool({"volatile", "fsync=volatile"} & set(options.split(",")))
    raise AssertionError(f"no overlay root of {cid} is mounted")


def _run_waiting(ctr, ctl: Path, code: int, *flags: str) -> str:
    ctl.mkdir(exist_ok=True)
    return ctr.run_d("-v", f"{ctl}:/ctl", "-p", "80", *flags, "busybox", "sh", "-c",
                     WAIT_FOR_GO.format(code=code))


def test_container_that_exits_on_its_own_releases_its_network_at_once(ctr, tmp_path) -> None:
    ctl = tmp_path / "ctl"
    cid = _run_waiting(ctr, ctl, 3)
    assert not _rootfs_is_volatile(cid)  # a kept container's writes are synced like any file
    for run in range(2):  # the first run, then a start of the released container
        held = _holdings(ctr.env, cid)
        assert held["rules"] and held["veths"] and held["netns"] and held["mounts"], (run, held)

        (ctl / "go").touch()  # the container exits by itself; no berth command runs until released
        assert _poll_until_released(ctr.env, cid) == NOTHING, run

        doc = ctr.inspect(cid)
        assert (doc["State"]["Status"], doc["State"]["ExitCode"]) == ("exited", 3)
        assert doc["NetworkSettings"]["IPAddress"] == ""
        (ctl / "go").unlink()
        _wait_hook_done(cid)
        ctr("start", cid)


def test_restarting_container_keeps_its_network_until_the_final_exit(ctr, tmp_path) -> None:
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    (ctl / "go").touch()  # every run exits 1 at once: two restarts, then the final exit
    script = "ip link show eth0 >/dev/null && echo eth0 >> /ctl/runs || echo none >> /ctl/runs; "
    cid = ctr.run_d("-v", f"{ctl}:/ctl", "-p", "80", "--restart", "on-failure:2", "busybox",
                    "sh", "-c", script + WAIT_FOR_GO.format(code=1))
    assert _poll_until_released(ctr.env, cid) == NOTHING
    doc = ctr.inspect(cid)
    assert (doc["State"]["Status"], doc["State"]["ExitCode"]) == ("exited", 1)
    assert doc["RestartCount"] == 2
    assert (ctl / "runs").read_text() == "eth0\n" * 3  # every run had its network


def test_stopped_container_is_released_by_stop_and_the_hook_leaves_the_next_run_alone(
        ctr, tmp_path) -> None:
    ctl = tmp_path / "ctl"
    cid = _run_waiting(ctr, ctl, 0)
    ctr("stop", "-t", "0", cid)
    assert _holdings(ctr.env, cid) == NOTHING  # ``stop`` itself released the run
    _wait_hook_done(cid)  # the first run's hook found nothing left to do
    ctr("start", cid)
    held = _holdings(ctr.env, cid)
    assert held["rules"] and held["veths"] and held["netns"] and held["mounts"], held
    assert ctr.inspect(cid)["State"]["Status"] == "running"


def test_detached_rm_container_is_removed_when_it_exits(ctr, tmp_path) -> None:
    ctl = tmp_path / "ctl"
    cid = _run_waiting(ctr, ctl, 0, "--rm")
    container_dir = ctr.env.root / "containers" / cid
    assert container_dir.is_dir() and _holdings(ctr.env, cid)["rules"]
    assert _rootfs_is_volatile(cid)  # thrown away at exit: no sync of the host fs at unmount
    (ctl / "go").touch()
    assert _poll_until_released(ctr.env, cid) == NOTHING
    _wait_hook_done(cid)  # the hook removed it: no berth command ran since the start
    assert not container_dir.exists()
    assert cid not in ctr.out("ps", "-aq", "--no-trunc")
