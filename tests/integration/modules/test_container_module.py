"""berth.engine.container and container_info through ansible-playbook: real containers (busybox,
network none) in the test's private BERTH_ROOT."""
from __future__ import annotations

from typing import Any

import pytest

SLEEPER = ["sleep", "300"]


@pytest.fixture
def app_image(berth_env, busybox_rootfs_tar) -> str:
    """busybox with image defaults (Env, Cmd) to merge: ``app:1``."""
    berth_env.berth("import", "-c", "ENV GREETING=hello MODE=image", "-c", 'CMD ["sleep", "300"]',
                    busybox_rootfs_tar, "app:1")
    return "app:1"


def ctr(task: str, **params: Any) -> dict[str, Any]:
    params.setdefault("name", "web")
    if params.get("state") != "absent":
        params.setdefault("network_mode", "none")
        params.setdefault("stop_timeout", 1)
    return {"name": task, "berth.engine.container": params}


def info(play, name: str = "web") -> dict[str, Any]:
    return play([{"name": "info", "berth.engine.container_info": {"name": name}}])["info"]


def test_started_idempotent_then_stopped_then_absent(play, app_image) -> None:
    task = [ctr("run", image=app_image, env={"MODE": "test"}, labels={"tier": "web"})]
    predicted = play(task, check=True, diff=True)["run"]
    assert predicted["changed"] is True and predicted["actions"] == ["create", "start"]
    assert predicted["diff"]["before"] == {"exists": False}
    assert info(play)["exists"] is False, "check mode must not create"

    first = play(task)["run"]
    assert first["changed"] is True
    cid = first["container"]["Id"]
    assert first["container"]["State"]["Status"] == "running"
    assert "MODE=test" in first["container"]["Config"]["Env"]
    assert first["container"]["Config"]["Labels"] == {"tier": "web"}
    assert play(task, check=True)["run"]["changed"] is False
    second = play(task)["run"]
    assert second["changed"] is False and second["container"]["Id"] == cid

    stop = [ctr("stop", image=app_image, state="stopped")]
    assert play(stop, check=True)["stop"]["changed"] is True
    assert info(play)["container"]["State"]["Status"] == "running"
    stopped = play(stop, diff=True)["stop"]
    assert stopped["changed"] is True and stopped["container"]["Id"] == cid
    assert stopped["container"]["State"]["Running"] is False
    assert stopped["diff"]["before"]["status"] == "running"
    assert play(stop)["stop"]["changed"] is False

    gone = [ctr("rm", state="absent")]
    assert play(gone, check=True)["rm"]["changed"] is True
    assert info(play)["exists"] is True
    assert play(gone)["rm"]["changed"] is True
    assert play(gone)["rm"]["changed"] is False
    assert info(play)["exists"] is False


def test_changed_option_recreates_and_comparisons_ignore_keeps(play, app_image) -> None:
    first = play([ctr("run", image=app_image, env={"MODE": "one"})])["run"]
    cid = first["container"]["Id"]

    change = [ctr("run", image=app_image, env={"MODE": "two"})]
    predicted = play(change, check=True, diff=True)["run"]
    assert predicted["changed"] is True and predicted["actions"] == ["recreate", "start"]
    assert predicted["diff"]["before"]["env"]["MODE"] == "one"
    assert predicted["diff"]["after"]["env"]["MODE"] == "two"
    assert info(play)["container"]["Id"] == cid

    recreated = play(change, diff=True)["run"]
    assert recreated["changed"] is True and recreated["actions"] == predicted["actions"]
    new_id = recreated["container"]["Id"]
    assert new_id != cid and recreated["container"]["Name"] == "/web"
    assert recreated["container"]["State"]["Status"] == "running"
    assert "MODE=two" in recreated["container"]["Config"]["Env"]
    assert recreated["diff"]["after"]["env"] == {"GREETING": "hello", "MODE": "two"}

    ignored = [ctr("run", image=app_image, env={"MODE": "three"}, comparisons={"env": "ignore"})]
    assert play(ignored, check=True)["run"]["changed"] is False
    kept = play(ignored)["run"]
    assert kept["changed"] is False and kept["container"]["Id"] == new_id

    more = [ctr("run", image=app_image, labels={"a": "1"}, comparisons={"labels": "allow_more_present"})]
    assert play(more)["run"]["container"]["Id"] != new_id  # labels were not there: recreated
    play([ctr("run", image=app_image, labels={"a": "1", "b": "2"})])
    subset = play(more)["run"]
    assert subset["changed"] is False, "a subset of the labels is enough with allow_more_present"


def test_image_defaults_are_not_changes(play, app_image) -> None:
    cid = play([ctr("run", image=app_image)])["run"]["container"]["Id"]
    same = [ctr("run", image=app_image, env={"GREETING": "hello"}, command=["sleep", "300"],
                stop_signal="TERM", entrypoint=[])]
    assert play(same, check=True)["run"]["changed"] is False
    again = play(same)["run"]
    assert again["changed"] is False and again["container"]["Id"] == cid
    other = play([ctr("run", image=app_image, command="sleep 301")], diff=True)["run"]
    assert other["changed"] is True and other["diff"]["after"]["command"] == ["sleep", "301"]


def test_new_image_id_for_the_tag_recreates(play, berth_env, app_image, busybox_rootfs_tar) -> None:
    cid = play([ctr("run", image=app_image)])["run"]["container"]["Id"]
    berth_env.berth("import", "-c", 'CMD ["sleep", "301"]', busybox_rootfs_tar, app_image)
    task = [ctr("run", image=app_image)]
    predicted = play(task, check=True, diff=True)["run"]
    assert predicted["changed"] is True and "image" in predicted["diff"]["after"]
    run = play(task)["run"]
    assert run["changed"] is True and run["container"]["Id"] != cid
    assert run["container"]["Config"]["Cmd"] == ["sleep", "301"]
    kept = play([ctr("run", image=app_image, comparisons={"image": "ignore"})])["run"]
    assert kept["changed"] is False


def test_present_and_one_shot_output(play, app_image) -> None:
    created = play([ctr("make", image=app_image, state="present")])["make"]
    assert created["changed"] is True and created["container"]["State"]["Status"] == "created"
    assert play([ctr("make", image=app_image, state="present")])["make"]["changed"] is False

    job = [ctr("job", name="job", image=app_image, command=["sh", "-c", "echo out; echo $GREETING"],
               detach=False, cleanup=True)]
    run = play(job)["job"]
    assert run["output"] == "out\nhello\n"
    assert info(play, "job")["exists"] is False, "cleanup removes it"

    failing = [ctr("bad job", name="job2", image=app_image, command=["sh", "-c", "exit 3"],
                   detach=False)]
    res = play(failing, expect_failure=True)
    assert res["bad job"]["msg"] == "container job2 exited with code 3"


@pytest.mark.parametrize("params, message", [
    ({"memory": "lots"}, "invalid size: 'lots'"),
    ({"env": {"DEBUG": True}}, "env: the value of DEBUG must be a string"),
    ({"comparisons": {"nonsense": "strict"}}, "comparisons: unknown option 'nonsense'"),
    ({"comparisons": {"env": "sometimes"}}, "comparisons.env: 'sometimes' is not one of"),
    ({"capabilities": ["FLY"]}, "unknown capability: 'FLY'"),
    ({"volumes": ["a:b:c:d"]}, "invalid volume specification"),
    ({"restart_retries": 3}, "maximum retry count cannot be used with restart policy 'no'"),
    ({"working_dir": "tmp"}, "needs to be an absolute path"),
    ({"image": "nothere:1", "pull": "never"}, "image nothere:1 is not in the image store"),
    ({"healthcheck": {"test": "true", "interval": "5"}}, "healthcheck: invalid argument '5'"),
    ({"healthcheck": {"test": ["CMD"]}}, "unsupported health check test"),
    ({"log_options": {"max-file": "2"}}, "max-file cannot be set without max-size"),
    ({"mounts": [{"target": "/data", "type": "bind"}]}, "field Source must not be empty"),
    ({"mounts": [{"target": "/t", "type": "tmpfs", "tmpfs_mode": "9x"}]}, "invalid tmpfs_mode"),
])
def test_bad_input_fails_cleanly(play, app_image, params, message) -> None:
    params = dict({"image": app_image}, **params)
    run = play([ctr("bad", **params)], expect_failure=True)
    assert message in run["bad"]["msg"]
    assert "\n" not in run["bad"]["msg"]
    assert info(play)["exists"] is False, "nothing half-created"


def test_healthcheck_mounts_and_log_options(play, app_image, tmp_path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("hi\n")
    params = dict(image=app_image, log_options={"max-size": "1m", "max-file": "2"},
                  healthcheck={"test": "test -f /srv/index.html", "interval": "200ms",
                               "retries": 1},
                  mounts=[{"type": "bind", "source": str(tmp_path / "site"), "target": "/srv",
                           "read_only": True},
                          {"type": "tmpfs", "target": "/scratch", "tmpfs_size": "8m"}])
    first = play([ctr("run", **params)])["run"]
    assert first["changed"] is True
    c = first["container"]
    assert c["Config"]["Healthcheck"] == {"Test": ["CMD-SHELL", "test -f /srv/index.html"],
                                          "Interval": 200_000_000, "Retries": 1}
    assert c["HostConfig"]["LogConfig"]["Config"] == {"max-size": "1m", "max-file": "2"}
    assert {m["Destination"] for m in c["Mounts"]} >= {"/srv", "/scratch"}
    again = play([ctr("run", **params)], check=True)["run"]
    assert again["changed"] is False
    # the mounts in another order are the same mounts
    reordered = {**params, "mounts": list(reversed(params["mounts"]))}
    assert play([ctr("run", **reordered)])["run"]["changed"] is False
    deadline_polls = 300
    while info(play)["container"]["State"]["Health"]["Status"] != "healthy":
        deadline_polls -= 1
        assert deadline_polls, "the health check never passed"

    changed = {**params, "healthcheck": {"test": ["CMD", "false"], "interval": "200ms",
                                         "retries": 1}}
    run = play([ctr("run", **changed)], diff=True)["run"]
    assert run["changed"] is True and run["actions"] == ["recreate", "start"]
    assert run["diff"]["after"]["healthcheck"]["Test"] == ["CMD", "false"]
    while info(play)["container"]["State"]["Health"]["Status"] != "unhealthy":
        deadline_polls -= 1
        assert deadline_polls, "the failing health check never made it unhealthy"


def test_networks_first_is_primary_others_connected_without_recreate(
        play, berth_env, app_image) -> None:
    for name, subnet in (("berthfront", "10.231.41.0/24"), ("berthback", "10.231.42.0/24"),
                         ("berthside", "10.231.43.0/24")):
        berth_env.berth("network", "create", "--subnet", subnet, name)
    nets = [{"name": "berthfront", "aliases": ["web"]},
            {"name": "berthback", "ipv4_address": "10.231.42.20"}]
    task = [ctr("run", image=app_image, state="present", network_mode=None, networks=nets)]
    first = play(task)["run"]
    assert first["changed"] is True
    assert first["actions"] == ["create", "connect networks"]
    cid = first["container"]["Id"]
    assert first["container"]["HostConfig"]["NetworkMode"] == "berthfront"
    assert play(task, check=True)["run"]["changed"] is False
    assert play(task)["run"]["changed"] is False

    moved = [ctr("run", image=app_image, state="present", network_mode=None,
                 networks=[nets[0], {"name": "berthside"}])]
    predicted = play(moved, check=True, diff=True)["run"]
    assert predicted["changed"] is True and predicted["actions"] == ["connect networks"]
    assert predicted["diff"]["before"]["networks"] == ["berthback"]
    assert predicted["diff"]["after"]["networks"] == ["berthside"]
    run = play(moved)["run"]
    assert run["changed"] is True and run["container"]["Id"] == cid, "no recreate"
    assert play(moved)["run"]["changed"] is False

    renamed = [ctr("run", image=app_image, state="present", network_mode=None,
                   networks=[{"name": "berthfront", "aliases": ["www"]}])]
    assert play(renamed)["run"]["container"]["Id"] != cid  # the first network's aliases: recreate
    clash = play([ctr("bad", image=app_image, network_mode="berthfront", networks=nets)],
                 expect_failure=True)
    assert "network_mode and networks are mutually exclusive" in clash["bad"]["msg"]
    play([ctr("rm", state="absent")])
