"""What published ports and attachments leave behind: nothing after ``rm``, and nothing that
``berth system check --repair`` cannot remove after a ``kill -9`` of the CLI in the middle of
``run``."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from berth.network import netlink

CONTAINERS = 50


def _rules_mentioning(words: list[str]) -> list[str]:
    dump = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    return [line for line in dump.splitlines() if any(w in line for w in words)]


def _veths_of(ids: list[str]) -> list[str]:
    return [link.name for link in netlink.tagged_links() if link.tag in ids]


def test_rm_of_many_published_containers_leaves_no_rule_or_veth(ctr) -> None:
    ids = [ctr.run_d("-p", "80", "busybox", "sleep", "600") for _i in range(CONTAINERS)]
    ips = [ctr.inspect(cid)["NetworkSettings"]["IPAddress"] for cid in ids]
    ports = [ctr.inspect(cid)["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
             for cid in ids]
    assert len(set(ips)) == CONTAINERS and len(set(ports)) == CONTAINERS
    assert len(_rules_mentioning([f"berth:{cid}" for cid in ids])) == CONTAINERS  # one DNAT each
    assert len(_veths_of(ids)) == CONTAINERS

    ctr("rm", "-f", *ids)
    assert ctr.ids() == []
    assert _rules_mentioning(ids) == []
    assert _rules_mentioning([f"{ip}:80" for ip in ips]) == []
    assert _rules_mentioning([f"--dport {p} " for p in ports]) == []
    assert _veths_of(ids) == []
    assert not any((ctr.env.run / "netns").iterdir())


def _kill_run_midway(ctr, attempt: int) -> None:
    """Start ``berth run`` and SIGKILL it once its network namespace exists (or a bit later)."""
    netns_dir = ctr.env.run / "netns"
    before = set(os.listdir(netns_dir)) if netns_dir.exists() else set()
    proc = subprocess.Popen([sys.executable, "-m", "berth.cli", "run", "-d", "-p", "80",
                             "busybox", "sleep", "600"], env=ctr.env.environ(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if netns_dir.exists() and set(os.listdir(netns_dir)) - before:
                time.sleep(0.01 * attempt)  # later and later into the start
                break
            time.sleep(0.002)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def test_kill_9_during_run_is_repaired_by_system_check(ctr) -> None:
    ctr("run", "--rm", "busybox", "true")  # the default bridge exists before the first kill
    found_leftovers = 0
    for attempt in range(4):
        _kill_run_midway(ctr, attempt)
        check = ctr("system", "check", check=False)
        if check.returncode != 0:
            found_leftovers += 1
            assert b"container" in check.stdout or b"leaked" in check.stdout, check.stdout
        repair = ctr("system", "check", "--repair", check=False)
        assert repair.returncode == 0, repair.stdout.decode() + repair.stderr.decode()
        again = ctr("system", "check")
        assert b"nothing left over" in again.stdout
    assert found_leftovers > 0  # the kills did land in the middle of a start

    ids = ctr.ids()
    ctr("rm", "-f", *ids) if ids else None
    assert _rules_mentioning([f"berth:{cid}" for cid in ids]) == [] if ids else True
    assert _veths_of(ids) == []
    assert not any((ctr.env.run / "netns").iterdir())
