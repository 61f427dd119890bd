"""Pure-Python parts of the runtime: spec defaults and helpers, option parsing, path resolution."""
from __future__ import annotations

import os
import resource

import pytest

from berth.errors import InvalidArgument
from berth.runtime import caps, init, mounts
from berth.runtime import spec as rspec
from berth.runtime.cgroups_v1 import device_rule
from berth.runtime.cgroups_v2 import shares_to_weight


def test_default_spec_has_dockers_defaults():
    s = rspec.default_spec(["sh"], env=["A=1"], user="1000:50", hostname="h", rootfs_path="/r",
                           cgroups_path="/berth/x")
    proc = s["process"]
    assert proc["args"] == ["sh"] and proc["user"] == {"uid": 1000, "gid": 50}
    assert proc["env"][0].startswith("PATH=") and "A=1" in proc["env"]
    assert len(proc["capabilities"]["bounding"]) == 14
    assert proc["capabilities"]["effective"] == proc["capabilities"]["bounding"]
    assert "inheritable" not in proc["capabilities"]
    assert {m["destination"] for m in s["mounts"]} == {
        "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"}
    assert "/proc/kcore" in s["linux"]["maskedPaths"] and "/proc/sys" in s["linux"]["readonlyPaths"]
    assert {ns["type"] for ns in s["linux"]["namespaces"]} == {
        "pid", "network", "ipc", "uts", "mount", "cgroup"}
    assert {d["path"] for d in s["linux"]["devices"]} == {
        "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}
    nofile = proc["rlimits"][0]
    assert nofile["type"] == "RLIMIT_NOFILE"
    assert nofile["hard"] <= resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert s["linux"]["cgroupsPath"] == "/berth/x"


@pytest.mark.parametrize("kwargs", [{"args": []}, {"args": ["sh"], "cwd": "rel"},
                                    {"args": ["sh"], "user": "root"}])
def test_default_spec_rejects_bad_input(kwargs):
    with pytest.raises(InvalidArgument):
        rspec.default_spec(**kwargs)


def test_apply_caps():
    s = rspec.default_spec(["sh"])
    rspec.apply_caps(s, cap_add=["net_admin", "CAP_SYS_TIME"], cap_drop=["CHOWN"])
    bounding = s["process"]["capabilities"]["bounding"]
    assert "CAP_NET_ADMIN" in bounding and "CAP_SYS_TIME" in bounding
    assert "CAP_CHOWN" not in bounding
    rspec.apply_caps(s, cap_drop=["ALL"])
    assert s["process"]["capabilities"]["effective"] == []
    with pytest.raises(InvalidArgument):
        rspec.apply_caps(s, cap_add=["NOT_A_CAP"])


def test_apply_privileged_and_read_only():
    s = rspec.default_spec(["sh"])
    rspec.apply_privileged(s)
    rspec.apply_read_only(s)
    assert set(s["process"]["capabilities"]["bounding"]) == set(caps.bounding_caps())
    assert s["linux"]["maskedPaths"] == [] and s["linux"]["readonlyPaths"] == []
    sys_mount = next(m for m in s["mounts"] if m["destination"] == "/sys")
    assert "ro" not in sys_mount["options"]
    assert s["root"]["readonly"] is True


def test_apply_resources():
    s = rspec.default_spec(["sh"])
    rspec.apply_resources(s, memory=32 << 20, cpu_shares=512, cpus=1.5, cpuset_cpus="0",
                          pids_limit=20)
    res = s["linux"]["resources"]
    assert res["memory"] == {"limit": 32 << 20, "swap": 64 << 20}
    assert res["cpu"] == {"shares": 512, "quota": 150000, "period": 100000, "cpus": "0"}
    assert res["pids"] == {"limit": 20}
    with pytest.raises(InvalidArgument):
        rspec.apply_resources(s, memory=1 << 20)
    with pytest.raises(InvalidArgument):
        rspec.apply_resources(s, memory=64 << 20, memory_swap=32 << 20)


def test_parse_options():
    flags, propagation, data = mounts.parse_options(
        ["nosuid", "ro", "rw", "rbind", "rslave", "mode=755", "size=1k"])
    assert flags & mounts.linux.MS_NOSUID and not flags & mounts.linux.MS_RDONLY
    assert flags & mounts.linux.MS_BIND and flags & mounts.linux.MS_REC
    assert propagation == mounts.linux.MS_SLAVE | mounts.linux.MS_REC
    assert data == "mode=755,size=1k"


def test_secure_join_keeps_symlinks_inside_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../etc", root / "rel")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    assert mounts.secure_join(str(root), "/abs/passwd") == f"{root}/etc/passwd"
    assert mounts.secure_join(str(root), "/rel/passwd") == f"{root}/etc/passwd"
    assert mounts.secure_join(str(root), "/../../x") == f"{root}/x"
    assert mounts.secure_join(str(root), "/") == str(root)
    with pytest.raises(OSError):
        mounts.secure_join(str(root), "/loop1")


def test_find_executable(tmp_path):
    (tmp_path / "tool").write_text("#!/bin/sh\n")
    (tmp_path / "tool").chmod(0o755)
    (tmp_path / "data").write_text("x")
    assert init.find_executable("tool", f"/nonexistent:{tmp_path}") == f"{tmp_path}/tool"
    with pytest.raises(init.InitError) as err:
        init.find_executable("data", str(tmp_path))
    assert err.value.exit_code == 126
    with pytest.raises(init.InitError) as err:
        init.find_executable("missing", str(tmp_path))
    assert err.value.exit_code == 127 and "$PATH" in err.value.message


def test_step_names_the_failure():
    def fail() -> None:
        raise OSError(2, "mount: No such file or directory", "/x")
    with pytest.raises(init.InitError) as err:
        init.step("mount /x", fail)
    assert str(err.value) == "mount /x: mount: No such file or directory: /x"


def test_cgroup_value_conversions():
    assert device_rule({"allow": False, "access": "rwm"}) == "a"
    assert device_rule({"type": "c", "major": 136, "access": "rwm"}) == "c 136:* rwm"
    assert device_rule({"type": "c", "major": 1, "minor": 3, "access": "rwm"}) == "c 1:3 rwm"
    assert shares_to_weight(2) == 1 and shares_to_weight(1024) == 39
    assert shares_to_weight(262144) == 10000


def test_env_dict():
    assert init.env_dict(["A=1", "B=x=y", "BAD", "A=2"]) == {"A": "2", "B": "x=y"}
