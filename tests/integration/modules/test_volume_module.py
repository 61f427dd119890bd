"""berth.engine.volume and volume_info through ansible-playbook."""
from __future__ import annotations

import os
from typing import Any


def vol(task: str, **params: Any) -> dict[str, Any]:
    params.setdefault("name", "data")
    return {"name": task, "berth.engine.volume": params}


def info(play) -> dict[str, Any]:
    return play([{"name": "info", "berth.engine.volume_info": {"name": "data"}}])["info"]


def test_volume_lifecycle_with_check_diff_and_recreate(play) -> None:
    task = [vol("mk", labels={"app": "db"})]
    assert play(task, check=True)["mk"]["changed"] is True
    assert info(play)["exists"] is False
    first = play(task)["mk"]
    assert first["changed"] is True and first["volume"]["Labels"] == {"app": "db"}
    mountpoint = first["volume"]["Mountpoint"]
    assert os.path.isdir(mountpoint)
    assert play(task, check=True)["mk"]["changed"] is False
    assert play(task)["mk"]["changed"] is False

    other = [vol("mk", labels={"app": "web"})]
    kept = play(other)
    assert kept["mk"]["changed"] is False
    assert "differs in labels" in kept.output
    replace = [vol("mk", labels={"app": "web"}, recreate="options-changed")]
    predicted = play(replace, check=True, diff=True)["mk"]
    assert predicted["changed"] is True
    assert predicted["diff"]["before"]["labels"] == {"app": "db"}
    assert predicted["diff"]["after"]["labels"] == {"app": "web"}
    assert play(replace)["mk"]["volume"]["Labels"] == {"app": "web"}
    assert play(replace)["mk"]["changed"] is False

    gone = [vol("rm", state="absent")]
    assert play(gone, check=True)["rm"]["changed"] is True
    assert info(play)["exists"] is True
    assert play(gone)["rm"]["changed"] is True
    assert play(gone)["rm"]["changed"] is False
    assert not os.path.exists(mountpoint)


def test_bad_volume_input_fails_cleanly(play) -> None:
    run = play([vol("bad", name="no/slashes")], expect_failure=True)
    assert "\n" not in run["bad"]["msg"] and "no/slashes" in run["bad"]["msg"]
    run = play([vol("bad", driver="nfs-plugin")], expect_failure=True)
    assert "only the local driver" in run["bad"]["msg"]
    assert info(play)["exists"] is False
