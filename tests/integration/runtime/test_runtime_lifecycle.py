"""Exit codes, resource limits, freezing, exec, runc parity and cleanup."""
from __future__ import annotations

import os
import time

import pytest
from rt_helpers import read_pipes, read_until, wait_pid

import berth.runtime as rt
from berth.errors import Conflict
from berth.runtime import runc
from berth.runtime.init import EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND

POLL_LIMIT = 30.0  # guards against hangs only


@pytest.mark.parametrize("command, expected", [
    (["sh", "-c", "exit 3"], 3),
    (["sh", "-c", "sleep 60 & kill -9 $!; wait $!"], 128 + 9),
    (["true"], 0),
])
def test_exit_codes(bundle, command, expected):
    assert bundle.run(command)[0] == expected


def test_killed_by_sigkill_is_137(bundle):
    started, out_r, err_r = bundle.start(["sh", "-c", "echo up; sleep 60"])
    read_until(out_r, "up\n")
    os.kill(started.pid, 9)
    os.close(out_r)
    os.close(err_r)
    assert wait_pid(started.pid) == 137
    bundle.pids.remove(started.pid)


def test_missing_binary_is_127_and_leaves_nothing(bundle):
    bundle.write(["no-such-command"])
    with pytest.raises(rt.StartError) as err:
        rt.start(str(bundle.dir), 0, 1, 2)
    assert err.value.exit_code == EXIT_NOT_FOUND == 127
    assert err.value.step == "find executable"
    assert "no-such-command" in str(err.value)
    assert not bundle.cgroup.exists()


def test_not_executable_is_126(bundle):
    bundle.write(["/etc/passwd"])
    with pytest.raises(rt.StartError) as err:
        rt.start(str(bundle.dir), 0, 1, 2)
    assert err.value.exit_code == EXIT_NOT_EXECUTABLE == 126


def test_failing_step_is_named(bundle):
    bundle.spec["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1 << 30, "hard": 1 << 30}]
    bundle.write(["true"])
    with pytest.raises(rt.StartError) as err:
        rt.start(str(bundle.dir), 0, 1, 2)
    assert err.value.step == "rlimits"
    assert "RLIMIT_NOFILE" in str(err.value)


def test_memory_limit_kills_a_memory_hog(bundle):
    rt.apply_resources(bundle.spec, memory=32 * 1024 * 1024)
    started, out_r, err_r = bundle.start(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"])
    read_pipes(out_r, err_r)
    os.close(out_r)
    os.close(err_r)
    stats = bundle.cgroup.stats()
    assert wait_pid(started.pid) == 137
    bundle.pids.remove(started.pid)
    assert stats["memory_limit"] == 32 * 1024 * 1024
    assert stats["oom_kills"] >= 1


def test_pids_limit_stops_a_fork_bomb(bundle):
    rt.apply_resources(bundle.spec, pids_limit=20)
    # the loop runs in a subshell that dies at the first failed fork; counting uses builtins only
    script = "(i=0; while [ $i -lt 60 ]; do sleep 60 & i=$((i+1)); done); set -- /proc/[0-9]*; echo $#"
    code, out, err = bundle.run(["sh", "-c", script])
    assert code == 0
    assert "can't fork" in err
    assert 2 <= int(out.strip()) <= 20


def _count(bundle) -> str:
    try:
        return (bundle.upper / "count").read_text()
    except FileNotFoundError:
        return ""


def test_freeze_stops_a_counting_loop_and_thaw_resumes_it(bundle):
    started, out_r, err_r = bundle.start(
        ["sh", "-c", "i=0; echo go; while true; do i=$((i+1)); echo $i > /count; done"])
    cgroup = bundle.cgroup
    try:
        read_until(out_r, "go\n")
        cgroup.freeze()
        first = _count(bundle)
        time.sleep(0.2)
        assert _count(bundle) == first  # nothing runs while frozen
        cgroup.thaw()
        deadline = time.monotonic() + POLL_LIMIT
        while _count(bundle) in (first, ""):
            assert time.monotonic() < deadline, "the loop did not resume"
            time.sleep(0.01)
    finally:
        cgroup.kill_all()
        os.close(out_r)
        os.close(err_r)
    assert wait_pid(started.pid) == 137
    bundle.pids.remove(started.pid)


def test_exec_in_joins_the_running_container(bundle):
    started, out_r, err_r = bundle.start(["sh", "-c", "echo ready; sleep 60"])
    try:
        read_until(out_r, "ready\n")
        process = dict(bundle.spec["process"], args=[
            "sh", "-c", "readlink /proc/self/ns/pid; hostname; echo $$; cat /proc/1/cmdline; echo"])
        ex_out_r, ex_out_w = os.pipe()
        ex_err_r, ex_err_w = os.pipe()
        try:
            ex = rt.exec_in(started.pid, process, os.open(os.devnull, os.O_RDONLY), ex_out_w,
                            ex_err_w)
        finally:
            os.close(ex_out_w)
            os.close(ex_err_w)
        out, err = read_pipes(ex_out_r, ex_err_r)
        os.close(ex_out_r)
        os.close(ex_err_r)
        assert wait_pid(ex.pid) == 0, err
        ns, hostname, pid, cmdline = out.split("\n")[:4]
        assert ns == os.readlink(f"/proc/{started.pid}/ns/pid")
        assert hostname == bundle.spec["hostname"]
        assert pid != "1" and int(pid) < 100
        assert cmdline.replace("\0", " ").startswith("sleep 60")  # sh exec'd its last command
    finally:
        os.kill(started.pid, 9)
        os.close(out_r)
        os.close(err_r)
    assert wait_pid(started.pid) == 137
    bundle.pids.remove(started.pid)


def test_delete_leaves_no_mount_cgroup_or_process(bundle):
    rt.apply_resources(bundle.spec, memory=64 * 1024 * 1024, pids_limit=50)
    started, out_r, err_r = bundle.start(["sh", "-c", "sleep 60 & sleep 60 & echo up; wait"])
    cgroup = bundle.cgroup
    try:
        read_until(out_r, "up\n")
        assert len(cgroup.pids()) == 3
        dirs = cgroup.directories()
        assert dirs and all(os.path.isdir(d) for d in dirs)
        with pytest.raises(Conflict):
            rt.delete(str(bundle.dir))
        rt.delete(str(bundle.dir), force=True)
    finally:
        os.close(out_r)
        os.close(err_r)
    assert wait_pid(started.pid) == 137
    bundle.pids.remove(started.pid)
    rt.unmount_rootfs(str(bundle.rootfs))
    assert not any(os.path.exists(d) for d in dirs)
    with open("/proc/self/mountinfo") as f:
        assert str(bundle.dir) not in f.read()
    with pytest.raises(ProcessLookupError):
        os.kill(started.pid, 0)


def test_user_namespace_maps_root(bundle):
    for path in (bundle.dir, bundle.dir.parent):
        os.chmod(path, 0o755)  # the remapped root must be able to reach its rootfs
    rt.add_user_namespace(bundle.spec, 100000, 100000)
    code, out, err = bundle.run(["sh", "-c", "id -u; cat /proc/self/uid_map; stat -c %u /bin/sh"])
    assert code == 0, err
    lines = out.split("\n")
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "100000", "65536"]
    assert lines[2] == "65534"  # the image's files belong to the unmapped host root


PARITY_SCRIPT = ("id -u; grep -E '^Cap(Eff|Bnd)' /proc/self/status; hostname; "
                 "cut -d' ' -f5 /proc/self/mountinfo | sort; ls /dev | sort")


@pytest.mark.skipif(not runc.available(), reason="runc is not installed")
def test_runc_gives_the_same_container(make_bundle):
    ours = make_bundle("berth")
    theirs = make_bundle("runc")
    theirs.spec["hostname"] = ours.spec["hostname"]
    code_ours, out_ours, err_ours = ours.run(["sh", "-c", PARITY_SCRIPT])
    code_theirs, out_theirs, err_theirs = theirs.run(["sh", "-c", PARITY_SCRIPT])
    assert code_ours == code_theirs == 0, (err_ours, err_theirs)
    assert out_ours == out_theirs
    assert not theirs.cgroup.exists()


@pytest.mark.skipif(not runc.available(), reason="runc is not installed")
def test_runc_missing_binary_is_127(make_bundle):
    theirs = make_bundle("runc")
    theirs.write(["no-such-command"])
    with pytest.raises(rt.StartError) as err:
        runc.start(str(theirs.dir), 0, 1, 2)
    assert err.value.exit_code == 127


def test_long_lowerdir_list_is_mounted(berth_env):
    layers = []
    for i in range(60):
        layer = berth_env.base / "layers" / (f"{i:03d}-" + "x" * 46)
        (layer / f"f{i}").mkdir(parents=True)
        layers.append(str(layer))
    assert len(":".join(layers)) > 4096
    upper, work, target = (berth_env.base / n for n in ("upper", "work", "target"))
    for d in (upper, work, target):
        d.mkdir()
    cwd = os.getcwd()
    rt.mount_rootfs(layers, str(upper), str(work), str(target))
    try:
        assert os.getcwd() == cwd
        assert (target / "f0").is_dir() and (target / "f59").is_dir()
    finally:
        rt.unmount_rootfs(str(target))
    assert not (target / "f0").exists()


_VOLATILE = {"volatile", "fsync=volatile"}  # how kernels before and after 6.x show it


def _overlay_options(target: str) -> set:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == target:
                return set(fields[-1].split(","))
    raise AssertionError(f"{target} is not mounted")


def test_volatile_rootfs_skips_sync_and_mounts_again(berth_env):
    lower, upper, work, target = (berth_env.base / n for n in ("lower", "upper", "work", "target"))
    for d in (lower, upper, work, target):
        d.mkdir()
    (lower / "from-image").write_text("image")
    for round_ in range(2):  # a restart mounts the same upper/work again
        rt.mount_rootfs([str(lower)], str(upper), str(work), str(target), volatile=True)
        try:
            assert _overlay_options(str(target)) & _VOLATILE
            assert (target / "from-image").read_text() == "image"
            (target / f"written-{round_}").write_text("x")
        finally:
            rt.unmount_rootfs(str(target))
    assert sorted(p.name for p in upper.iterdir()) == ["written-0", "written-1"]
    plain_upper, plain_work = berth_env.base / "plain-upper", berth_env.base / "plain-work"
    plain_upper.mkdir()
    plain_work.mkdir()
    rt.mount_rootfs([str(lower)], str(plain_upper), str(plain_work), str(target))
    try:
        assert not _overlay_options(str(target)) & _VOLATILE
    finally:
        rt.unmount_rootfs(str(target))
