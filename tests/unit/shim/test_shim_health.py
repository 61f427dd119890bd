"""The health status rules (Docker's daemon/health.go) as the shim applies them, the merge of the
image's and the container's checks, and the validation of shim.json's ``health``."""
from __future__ import annotations

import json
import sys

import pytest

from berth.container import health
from berth.errors import InvalidArgument
from berth.shim.config import ShimConfig
from berth.shim.health import LOG_ENTRIES, HealthChecker
from berth.shim.loop import Loop
from berth.shim.state import State

SETTINGS = {"probe": [sys.executable, "-c", "pass"], "interval": 30, "timeout": 30,
            "retries": 2, "start_period": 0}


def _checker(tmp_path, **overrides) -> HealthChecker:
    loop = Loop()
    checker = HealthChecker(dict(SETTINGS, **overrides), loop,
                            State(str(tmp_path / "state.json"), 1))
    checker.start(pid1=12345)
    loop.close()
    return checker


def _saved(tmp_path) -> dict:
    return json.loads((tmp_path / "state.json").read_text())["health"]


def test_retries_failures_in_a_row_make_it_unhealthy_and_a_success_heals(tmp_path) -> None:
    checker = _checker(tmp_path)
    assert checker.state.health["status"] == "starting"
    checker.record(1, "no\n", "t0")
    assert _saved(tmp_path)["status"] == "starting" and _saved(tmp_path)["failing_streak"] == 1
    checker.record(3, "no\n", "t1")
    assert _saved(tmp_path)["status"] == "unhealthy" and _saved(tmp_path)["failing_streak"] == 2
    checker.record(0, "yes\n", "t2")
    saved = _saved(tmp_path)
    assert (saved["status"], saved["failing_streak"]) == ("healthy", 0)
    assert [e["ExitCode"] for e in saved["log"]] == [1, 3, 0]
    assert saved["log"][-1]["Output"] == "yes\n" and saved["log"][-1]["Start"] == "t2"


def test_failures_during_the_start_period_do_not_count_until_a_success(tmp_path) -> None:
    checker = _checker(tmp_path, start_period=3600)
    for _probe in range(5):
        checker.record(1, "", "t")
    assert (_saved(tmp_path)["status"], _saved(tmp_path)["failing_streak"]) == ("starting", 0)
    checker.record(0, "", "t")
    checker.record(1, "", "t")  # after a success, failures count even in the start period
    checker.record(1, "", "t")
    assert _saved(tmp_path)["status"] == "unhealthy"


def test_the_log_keeps_the_last_results_and_a_restart_starts_over(tmp_path) -> None:
    checker = _checker(tmp_path)
    for code in range(LOG_ENTRIES + 3):
        checker.record(code, str(code), "t")
    assert [e["Output"] for e in _saved(tmp_path)["log"]] == [str(c) for c in range(3, 8)]
    checker.start(pid1=12346)
    assert checker.state.health["status"] == "starting"
    assert checker.state.health["failing_streak"] == 0 and len(checker.state.health["log"]) == 5


def test_the_containers_check_goes_over_the_images() -> None:
    image = {"Test": ["CMD", "true"], "Interval": 30, "Retries": 2}
    assert health.merge({"Test": [], "Interval": 5}, image) == dict(image, Interval=5)
    assert health.merge({"Test": ["NONE"]}, image)["Test"] == ["NONE"]
    assert not health.active(health.merge({"Test": ["NONE"]}, image))
    assert health.merge(None, None) is None and health.merge({"Interval": 5}, None) is None
    assert health.command(["CMD-SHELL", "a && b"]) == ["/bin/sh", "-c", "a && b"]
    assert health.command(["CMD", "curl", "-f", "x"]) == ["curl", "-f", "x"]
    with pytest.raises(InvalidArgument):
        health.command(["CMD"])


def test_flags_give_dockers_shape() -> None:
    assert health.from_options() is None
    assert health.from_options(disable=True) == {"Test": ["NONE"]}
    assert health.from_options("curl -f x", "5s", "1m30s", "100ms", 4) == {
        "Test": ["CMD-SHELL", "curl -f x"], "Interval": 5 * 10**9, "Timeout": 90 * 10**9,
        "StartPeriod": 10**8, "Retries": 4}
    assert health.from_options(interval="2s") == {"Test": [], "Interval": 2 * 10**9}


BASE = {"bundle": "/b", "log_path": "/l"}


def test_shim_json_health_is_validated() -> None:
    assert ShimConfig(BASE).health is None
    good = {"probe": ["/usr/bin/python3", "-m", "x"], "interval": 1, "timeout": 0.5,
            "retries": 1}
    assert ShimConfig(dict(BASE, health=good)).health["timeout"] == 0.5
    for bad in ({"probe": ["python3"]}, {"probe": []}, dict(good, interval=0),
                dict(good, retries=0), dict(good, probe_env={"A": 1}), dict(good, timeout="1")):
        with pytest.raises(InvalidArgument):
            ShimConfig(dict(BASE, health=bad))
