"""berth.engine.network and network_info through ansible-playbook (real bridges and iptables
rules; the fixture's teardown removes every network of the test's BERTH_ROOT)."""
from __future__ import annotations

import subprocess
from typing import Any

SUBNET = "10.231.17.0/24"


def net(task: str, **params: Any) -> dict[str, Any]:
    params.setdefault("name", "berthtestnet")
    return {"name": task, "berth.engine.network": params}


def info(play) -> dict[str, Any]:
    return play([{"name": "info", "berth.engine.network_info": {"name": "berthtestnet"}}])["info"]


def link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True, check=False).returncode == 0


def test_network_lifecycle_check_diff_and_replace(play) -> None:
    task = [net("mk", subnet=SUBNET, labels={"tier": "web"})]
    assert play(task, check=True)["mk"]["changed"] is True
    assert info(play)["exists"] is False
    first = play(task)["mk"]
    assert first["changed"] is True
    assert first["network"]["IPAM"]["Config"][0]["Subnet"] == SUBNET
    bridge = first["network"]["Options"]["com.docker.network.bridge.name"]
    assert link_exists(bridge)
    assert play(task, check=True)["mk"]["changed"] is False
    assert play(task)["mk"]["changed"] is False

    internal = [net("mk", subnet=SUBNET, labels={"tier": "web"}, internal=True)]
    predicted = play(internal, check=True, diff=True)["mk"]
    assert predicted["changed"] is True
    assert predicted["diff"]["before"]["internal"] is False and predicted["diff"]["after"]["internal"] is True
    replaced = play(internal)["mk"]
    assert replaced["changed"] is True and replaced["network"]["Internal"] is True
    assert replaced["network"]["Id"] != first["network"]["Id"]
    assert play(internal)["mk"]["changed"] is False

    gone = [net("rm", state="absent")]
    assert play(gone, check=True)["rm"]["changed"] is True
    assert play(gone)["rm"]["changed"] is True
    assert play(gone)["rm"]["changed"] is False
    assert info(play)["exists"] is False
    assert not link_exists(replaced["network"]["Options"]["com.docker.network.bridge.name"])


def test_bad_network_input_fails_cleanly(play) -> None:
    run = play([net("bad", subnet="10.231.17.0/33")], expect_failure=True)
    assert "\n" not in run["bad"]["msg"] and run["bad"]["msg"]
    run = play([net("bad", gateway="10.231.17.1")], expect_failure=True)
    assert "need --subnet" in run["bad"]["msg"] or "subnet" in run["bad"]["msg"]
    run = play([net("bad", name="bridge", subnet=SUBNET)], expect_failure=True)
    assert "reserved" in run["bad"]["msg"] or "predefined" in run["bad"]["msg"]
    assert info(play)["exists"] is False


def test_connected_containers_appends_and_disconnect(play, berth_env, busybox_rootfs_tar) -> None:
    berth_env.berth("import", busybox_rootfs_tar, "busybox")
    for name in ("alpha", "beta"):  # created, not started: connecting records the endpoint
        berth_env.berth("create", "--name", name, "busybox", "sleep", "300")

    def members() -> list[str]:
        names = []
        for name in ("alpha", "beta"):
            doc = berth_env.berth("inspect", name).stdout.decode()
            if '"berthtestnet"' in doc:
                names.append(name)
        return names

    task = [net("mk", subnet=SUBNET, connected=["alpha"])]
    assert play(task, check=True)["mk"]["changed"] is True
    assert members() == []
    first = play(task, diff=True)["mk"]
    assert first["changed"] is True and first["diff"]["after"]["connected"] == ["alpha"]
    assert members() == ["alpha"]
    assert play(task, check=True)["mk"]["changed"] is False
    assert play(task)["mk"]["changed"] is False

    appended = play([net("mk", subnet=SUBNET, connected=["beta"], appends=True)])["mk"]
    assert appended["changed"] is True and members() == ["alpha", "beta"]
    only_beta = [net("mk", subnet=SUBNET, connected=["beta"])]
    predicted = play(only_beta, check=True, diff=True)["mk"]
    assert predicted["changed"] is True
    assert predicted["diff"]["before"]["connected"] == ["alpha", "beta"]
    assert predicted["diff"]["after"]["connected"] == ["beta"]
    assert members() == ["alpha", "beta"], "check mode must not disconnect"
    assert play(only_beta)["mk"]["changed"] is True and members() == ["beta"]

    missing = play([net("mk", subnet=SUBNET, connected=["nobody"])], expect_failure=True)
    assert missing["mk"]["msg"] == "connected: no such container: nobody"
    for name in ("alpha", "beta"):
        berth_env.berth("rm", name)
