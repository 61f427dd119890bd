"""``berth run`` as a user runs it: output, exit codes, options, exec, rename, inspect."""
from __future__ import annotations

import os

from ctr_helpers import cgroup_dirs, mounts_under, shim_pids


def test_run_prints_output_and_exits_with_the_container_code(ctr) -> None:
    proc = ctr("run", "--name", "hello", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3",
               check=False)
    assert proc.returncode == 3
    assert proc.stdout == b"out\n"
    assert proc.stderr == b"err\n"
    doc = ctr.inspect("hello")
    assert doc["State"]["Status"] == "exited" and doc["State"]["ExitCode"] == 3
    assert doc["Name"] == "/hello" and doc["Image"] == ctr.image_id
    assert doc["Path"] == "sh" and doc["Args"] == ["-c", "echo out; echo err >&2; exit 3"]
    # a finished foreground run holds nothing: no rootfs mount, no cgroup, no shim
    cid = doc["Id"]
    assert not [m for m in mounts_under(str(ctr.env.base)) if cid in m]
    assert not [d for d in cgroup_dirs() if cid in d]
    assert not shim_pids(str(ctr.env.run))


def test_exit_codes_like_docker(ctr) -> None:
    missing = ctr("run", "--rm", "busybox", "no-such-command", check=False)
    assert missing.returncode == 127, missing.stderr
    assert b"not found" in missing.stderr
    not_exec = ctr("run", "--rm", "busybox", "/etc/passwd", check=False)
    assert not_exec.returncode == 126, not_exec.stderr
    no_image = ctr("run", "--rm", "nothere:1.0", "true", check=False)
    assert no_image.returncode == 125
    assert b"Unable to find image 'nothere:1.0' locally" in no_image.stderr
    bad_flag = ctr("run", "--restart", "sometimes", "busybox", "true", check=False)
    assert bad_flag.returncode == 125
    # PID 1 of a PID namespace ignores even its own SIGKILL (kernel rule), as under Docker
    assert ctr("run", "--rm", "busybox", "sh", "-c", "kill -9 $$; exit 4",
               check=False).returncode == 4
    assert ctr.ids() == []  # --rm removed all of them, failed starts included


def test_run_options_reach_the_process(ctr, tmp_path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("FROM_FILE=1\n")
    out = ctr.out("run", "--rm", "-e", "A=b c", "--env-file", str(env_file), "-w", "/tmp/work",
                  "-u", "nobody", "-h", "boxhost", "-l", "x=y", "busybox", "sh", "-c",
                  "echo $A; echo $FROM_FILE; pwd; id -u; hostname; echo $HOSTNAME; echo $$")
    assert out.splitlines() == ["b c", "1", "/tmp/work", "65534", "boxhost", "boxhost", "1"]


def test_entrypoint_override_and_image_defaults(ctr) -> None:
    out = ctr.out("run", "--rm", "--entrypoint", "echo", "busybox", "from", "entrypoint")
    assert out == "from entrypoint\n"
    create = ctr("create", "busybox", check=False)  # busybox has no CMD
    assert create.returncode == 125 and b"No command specified" in create.stderr


def test_network_none_has_only_loopback_up(ctr) -> None:
    out = ctr.out("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                  "ls /sys/class/net; ip -o link show lo")
    lines = out.splitlines()
    assert lines[0] == "lo" and len([ln for ln in lines if ln and " " not in ln]) == 1
    assert ",UP" in lines[-1] or "<UP" in lines[-1]
    netns = ctr.env.run / "netns"
    assert not netns.exists() or not os.listdir(netns)  # --rm released the namespace


def test_network_host_shares_the_host_interfaces(ctr) -> None:
    out = ctr.out("run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net")
    assert sorted(out.split()) == sorted(os.listdir("/sys/class/net"))


def test_bind_mount_read_write_and_read_only(ctr, tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("host\n")
    ctr("run", "--rm", "-v", f"{data}:/data", "busybox", "sh", "-c",
        "cat /data/in.txt > /data/out.txt")
    assert (data / "out.txt").read_text() == "host\n"
    ro = ctr("run", "--rm", "-v", f"{data}:/data:ro", "busybox", "touch", "/data/x", check=False)
    assert ro.returncode == 1 and not (data / "x").exists()


def test_exec_joins_the_container(ctr) -> None:
    cid = ctr.run_d("--name", "box", "-h", "inside", "busybox", "sleep", "1000")
    out = ctr.out("exec", "box", "sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '")
    assert out.splitlines() == ["inside", "sleep 1000 "]
    assert ctr("exec", "box", "sh", "-c", "exit 7", check=False).returncode == 7
    assert ctr("exec", "box", "nothing-here", check=False).returncode == 127
    assert ctr.out("exec", "-u", "nobody", "-w", "/tmp", "-e", "X=1", "box", "sh", "-c",
                   "id -u; pwd; echo $X") == "65534\n/tmp\n1\n"
    assert ctr.out("exec", "-i", "box", "cat", input=b"piped\n") == "piped\n"
    ctr("exec", "-d", "box", "sh", "-c", "echo detached > /tmp/mark")
    ctr.wait_for(lambda: ctr("exec", "box", "test", "-f", "/tmp/mark", check=False).returncode == 0,
                 "the detached exec")
    assert ctr.inspect(cid)["State"]["Running"] is True


def test_rename_and_name_rules(ctr) -> None:
    cid = ctr.out("create", "--name", "first", "busybox", "true").strip()
    ctr("rename", "first", "second")
    assert ctr.inspect("second")["Id"] == cid
    assert ctr("inspect", "first", check=False).returncode == 1
    clash = ctr("create", "--name", "second", "busybox", "true", check=False)
    assert clash.returncode == 125 and b"already in use" in clash.stderr
    assert ctr.inspect(cid[:8])["Name"] == "/second"  # short ID prefixes resolve
    auto = ctr.out("create", "busybox", "true").strip()
    assert "_" in ctr.inspect(auto)["Name"]


def test_inspect_has_dockers_shape(ctr) -> None:
    cid = ctr.run_d("--name", "shape", "-m", "64m", "--restart", "on-failure:2", "-l", "k=v",
                    "--cap-add", "NET_ADMIN", "busybox", "sleep", "1000")
    doc = ctr.inspect("shape")
    assert doc["Id"] == cid
    state = doc["State"]
    assert state["Status"] == "running" and state["Running"] and not state["Paused"]
    assert state["Pid"] > 0 and os.path.exists(f"/proc/{state['Pid']}")
    assert state["StartedAt"].endswith("Z") and state["FinishedAt"].startswith("0001")
    host = doc["HostConfig"]
    assert host["Memory"] == 64 * 1024 * 1024
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert host["CapAdd"] == ["NET_ADMIN"]
    assert doc["Config"]["Labels"] == {"k": "v"} and doc["Config"]["Cmd"] == ["sleep", "1000"]
    assert doc["LogPath"].endswith(f"{cid}-json.log") and doc["RestartCount"] == 0
    assert set(doc["NetworkSettings"]) >= {"IPAddress", "Networks", "Ports", "SandboxKey"}
    assert ctr.out("inspect", "-f", "{{.State.Status}} {{.Name}}", "shape") == "running /shape\n"
    with open(f"/proc/{state['Pid']}/status") as f:
        caps = next(ln for ln in f if ln.startswith("CapEff")).split()[1]
    assert int(caps, 16) & (1 << 12)  # CAP_NET_ADMIN


def test_init_runs_as_pid_1_and_reaps(ctr) -> None:
    import pytest

    from berth.container.mounts import init_binary

    if init_binary() is None:
        pytest.skip("--init needs Debian's tini package (/usr/bin/tini-static); not installed")
    out = ctr.out("run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$")
    first, pid = out.splitlines()
    assert first.startswith("/sbin/berth-init -- sh") and pid != "1"
