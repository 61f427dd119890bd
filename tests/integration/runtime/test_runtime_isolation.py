"""berth's runtime isolates a busybox container the way Docker's defaults do."""
from __future__ import annotations

import os

import pytest
from rt_helpers import read_until, wait_pid

import berth.runtime as rt
from berth.runtime import caps

DEFAULT_MASK = caps.to_mask(caps.DEFAULT_CAPS)
STANDARD_POINTS = {"/", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                   "/sys/fs/cgroup"}


def mount_points(mountinfo: str) -> list[str]:
    return [line.split()[4] for line in mountinfo.splitlines() if line.strip()]


def cap_line(status: str, name: str) -> int:
    for line in status.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1], 16)
    raise AssertionError(f"{name} missing from {status!r}")


def test_command_is_pid1_and_sees_only_its_processes(bundle):
    code, out, err = bundle.run(["sh", "-c", "echo $$; ps -o pid,comm; true"])
    assert code == 0, err
    lines = out.split("\n")
    assert lines[0] == "1"
    rows = [line.split() for line in lines[2:] if line.strip()]
    assert {comm for _pid, comm in rows} == {"sh", "ps"}
    assert "1" in {pid for pid, _comm in rows}


def test_hostname_is_the_containers(bundle):
    code, out, _err = bundle.run(["hostname"])
    assert code == 0
    assert out.strip() == bundle.spec["hostname"] != os.uname().nodename


def test_host_mounts_are_not_visible_and_nothing_leaks_out(bundle):
    with open("/proc/self/mountinfo") as f:
        host_before = mount_points(f.read())
    started, out_r, err_r = bundle.start(["sh", "-c", "cat /proc/self/mountinfo; echo END; sleep 60"])
    try:
        out = read_until(out_r, "END\n")
        with open("/proc/self/mountinfo") as f:
            host_during = mount_points(f.read())
    finally:
        os.kill(started.pid, 9)
        os.close(out_r)
        os.close(err_r)
    assert wait_pid(started.pid) == 137
    assert host_during == host_before  # the container's mounts stay in its namespace
    inside = set(mount_points(out.replace("END\n", "")))
    linux = bundle.spec["linux"]
    allowed = STANDARD_POINTS | set(linux["maskedPaths"]) | set(linux["readonlyPaths"])
    unexpected = {p for p in inside - allowed if not p.startswith("/sys/fs/cgroup/")}
    assert not unexpected
    assert inside >= STANDARD_POINTS
    assert set(host_before) - allowed - {"/sys/fs/cgroup/" + n for n in os.listdir("/sys/fs/cgroup")}
    root_line = next(line for line in out.splitlines() if line.split()[4] == "/")
    assert f"upperdir={bundle.upper}" in root_line


@pytest.mark.parametrize("command, error", [
    ("echo 1 > /proc/sys/kernel/domainname", "Read-only file system"),
    ("mkdir -p /mnt && mount -t tmpfs none /mnt", "permission denied"),
    ("ip link add dummy0 type dummy", "Operation not permitted"),
    ("touch /sys/kernel/x", "Read-only file system"),
])
def test_default_container_is_confined(bundle, command, error):
    code, _out, err = bundle.run(["sh", "-c", command])
    assert code != 0
    assert error in err


def test_masked_paths_are_empty(bundle):
    with open("/proc/timer_list") as f:
        assert f.read(1)  # the host's file has content
    code, out, err = bundle.run(["sh", "-c", "wc -c < /proc/timer_list; ls /sys/firmware | wc -l"])
    assert code == 0, err
    assert out.split() == ["0", "0"]


def test_default_capabilities_are_dockers(bundle):
    code, out, _err = bundle.run(["cat", "/proc/self/status"])
    assert code == 0
    assert cap_line(out, "CapEff") == DEFAULT_MASK
    assert cap_line(out, "CapBnd") == DEFAULT_MASK
    assert cap_line(out, "CapPrm") == DEFAULT_MASK


def test_cap_drop_and_cap_add(bundle):
    rt.apply_caps(bundle.spec, cap_add=["NET_ADMIN"], cap_drop=["ALL"])
    code, out, _err = bundle.run(["sh", "-c", "cat /proc/self/status; ip link set lo up"])
    assert code == 0
    want = 1 << caps.CAP_NUMBERS["CAP_NET_ADMIN"]
    assert cap_line(out, "CapEff") == want == cap_line(out, "CapBnd")


def test_cap_drop_single(bundle):
    rt.apply_caps(bundle.spec, cap_drop=["chown"])
    code, _out, _err = bundle.run(["chown", "1:1", "/etc/passwd"])
    assert code != 0


def test_privileged(bundle):
    rt.apply_privileged(bundle.spec)
    code, out, err = bundle.run(["sh", "-c", "cat /proc/self/status; mkdir /mnt && mount -t tmpfs none /mnt"])
    assert code == 0, err
    assert cap_line(out, "CapEff") == caps.to_mask(caps.bounding_caps())


def test_non_root_user_has_no_effective_caps(bundle):
    bundle.spec["process"]["user"] = {"uid": 1000, "gid": 1000}
    code, out, _err = bundle.run(["sh", "-c", "id -u; id -g; grep CapEff /proc/self/status"])
    assert code == 0
    lines = out.split("\n")
    assert lines[:2] == ["1000", "1000"]
    assert int(lines[2].split()[1], 16) == 0


def test_writes_go_to_the_upper_layer(bundle):
    code, _out, _err = bundle.run(["sh", "-c", "echo data > /etc/written && mkdir /newdir"])
    assert code == 0
    assert (bundle.upper / "etc" / "written").read_text() == "data\n"
    assert not os.path.exists(os.path.join(bundle.lowerdir, "etc", "written"))
    assert not os.path.exists(os.path.join(bundle.lowerdir, "newdir"))


def test_read_only_root(bundle):
    rt.apply_read_only(bundle.spec)
    code, _out, err = bundle.run(["sh", "-c", "echo x > /etc/written"])
    assert code != 0
    assert "Read-only" in err
    code, _out, _err = bundle.run(["sh", "-c", "echo x > /dev/shm/ok"])
    assert code == 0


def test_workdir_env_and_rlimit(bundle):
    bundle.spec["process"]["cwd"] = "/work/dir"
    bundle.spec["process"]["env"].append("GREETING=hello world")
    code, out, _err = bundle.run(["sh", "-c", "pwd; echo $GREETING; ulimit -n"])
    assert code == 0
    assert out.split("\n")[:3] == ["/work/dir", "hello world",
                                   str(rt.spec.nofile_limit())]


def test_console_gives_a_terminal(bundle):
    started, out_r, err_r = bundle.start(["sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo isatty"],
                                         console=True)
    os.close(out_r)
    os.close(err_r)
    data = b""
    try:
        while True:
            try:
                chunk = os.read(started.console_fd, 1024)
            except OSError:  # EIO once the terminal's last user exits
                break
            if not chunk:
                break
            data += chunk
    finally:
        os.close(started.console_fd)
    assert wait_pid(started.pid) == 0
    assert b"isatty" in data
