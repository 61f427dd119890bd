"""Health checks (``--health-*`` and the image's HEALTHCHECK) and json-file log options, end to end:
the shim probes a running container and inspect/ps show what Docker shows."""
from __future__ import annotations

import glob
import os
import subprocess

import pytest


def _health(ctr, name: str) -> dict:
    return ctr.inspect(name)["State"].get("Health") or {}


def test_health_goes_from_unhealthy_to_healthy_and_ps_shows_it(ctr) -> None:
    ctr.run_d("--name", "checked", "--network", "none", "--health-cmd",
              "echo probing; test -f /tmp/ready", "--health-interval", "200ms",
              "--health-retries", "2", "busybox", "sleep", "300")
    assert _health(ctr, "checked")["Status"] == "starting"  # the first probe comes after 200ms
    ctr.wait_for(lambda: _health(ctr, "checked")["Status"] == "unhealthy", "unhealthy")
    health = _health(ctr, "checked")
    assert health["FailingStreak"] >= 2
    assert health["Log"][-1]["ExitCode"] == 1 and health["Log"][-1]["Output"] == "probing\n"
    assert "(unhealthy)" in ctr.out("ps", "--format", "{{.Status}}")
    assert ctr.out("ps", "-q", "--filter", "health=healthy") == ""

    ctr("exec", "checked", "touch", "/tmp/ready")
    ctr.wait_for(lambda: _health(ctr, "checked")["Status"] == "healthy", "healthy")
    health = _health(ctr, "checked")
    assert health["FailingStreak"] == 0 and health["Log"][-1]["ExitCode"] == 0
    assert len(health["Log"]) <= 5
    assert "(healthy)" in ctr.out("ps", "--format", "{{.Status}}")
    assert ctr.out("ps", "-q", "--filter", "health=healthy").strip()
    assert ctr.inspect("checked")["Config"]["Healthcheck"] == {
        "Test": ["CMD-SHELL", "echo probing; test -f /tmp/ready"], "Interval": 200_000_000,
        "Retries": 2}


def test_a_probe_over_its_timeout_fails_and_its_process_is_killed(ctr) -> None:
    cid = ctr.run_d("--name", "slow", "--network", "none", "--health-cmd", "sleep 77",
                    "--health-interval", "200ms", "--health-timeout", "300ms",
                    "--health-retries", "1", "busybox", "sleep", "300")
    ctr.wait_for(lambda: _health(ctr, "slow")["Status"] == "unhealthy", "unhealthy")
    entry = _health(ctr, "slow")["Log"][-1]
    assert entry["ExitCode"] == -1 and entry["Output"] == "Health check exceeded timeout (0.3s)"
    pid = ctr.inspect("slow")["State"]["Pid"]

    def probe_tests() -> list[str]:  # `sleep 77` left in the container's pid namespace
        out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True,
                             check=True).stdout
        return [line for line in out.splitlines() if "sleep 77" in line]
    # a probe in flight may hold one test; none of the timed-out ones may survive
    ctr.wait_for(lambda: len(probe_tests()) <= 1, "the timed-out tests to be killed")
    assert os.path.exists(f"/proc/{pid}") and cid


def test_image_healthcheck_is_honoured_and_no_healthcheck_disables_it(ctr, tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD [\"true\"]\n")
    ctr("build", "-q", "-t", "checked-image", str(tmp_path))
    ctr.run_d("--name", "from-image", "--network", "none", "checked-image", "sleep", "300")
    ctr.wait_for(lambda: _health(ctr, "from-image").get("Status") == "healthy", "healthy")
    ctr.run_d("--name", "unchecked", "--network", "none", "--no-healthcheck", "checked-image",
              "sleep", "300")
    inspected = ctr.inspect("unchecked")
    assert "Health" not in inspected["State"]
    assert inspected["Config"]["Healthcheck"]["Test"] == ["NONE"]
    assert ctr.out("ps", "-q", "--filter", "health=none").strip() == inspected["Id"][:12]


@pytest.mark.parametrize("flags, message", [
    (["--no-healthcheck", "--health-cmd", "true"], "conflicts with --health-*"),
    (["--health-interval", "5"], "missing unit"),
    (["--health-timeout", "10us"], "cannot be less than 1ms"),
    (["--health-retries", "-1"], "cannot be negative"),
    (["--log-driver", "syslog"], "logging driver 'syslog' is not supported"),
    (["--log-opt", "max-file=3"], "max-file cannot be set without max-size"),
    (["--log-opt", "colour=red"], "unknown log opt 'colour'"),
])
def test_bad_health_and_log_options_fail_with_one_line(ctr, flags, message) -> None:
    proc = ctr("run", "-d", *flags, "busybox", "true", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 125 and message in err and len(err.strip().splitlines()) == 1
    assert ctr.ids() == []


def test_log_options_rotate_the_json_file(ctr) -> None:
    ctr.run_d("--name", "chatty", "--network", "none", "--log-opt", "max-size=2k",
              "--log-opt", "max-file=2", "busybox", "sh", "-c",
              "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done")
    ctr.wait_for(lambda: ctr.inspect("chatty")["State"]["Status"] == "exited", "the exit")
    inspected = ctr.inspect("chatty")
    assert inspected["HostConfig"]["LogConfig"] == {
        "Type": "json-file", "Config": {"max-size": "2k", "max-file": "2"}}
    files = glob.glob(inspected["LogPath"] + "*")
    assert len(files) == 2 and all(os.path.getsize(f) <= 2048 for f in files)
    lines = ctr.logs("chatty").split()
    assert lines[-1] == "line-399" and "line-0" not in lines
