"""The cgroup manager on this host's real hierarchies."""
from __future__ import annotations

import os
import signal
import uuid

import pytest

from berth.runtime import cgroups
from berth.runtime.cgroups import Cgroup


@pytest.fixture
def group_path():
    path = f"/berth-test/{uuid.uuid4().hex[:12]}"
    yield path
    Cgroup(path).destroy()


def test_detect_finds_this_hosts_layout():
    layout = cgroups.detect()
    assert layout.mode in ("v1", "v2", "hybrid")
    if layout.unified:
        assert cgroups._fs_type(layout.unified) == cgroups.CGROUP2_SUPER_MAGIC
    for mountpoint, controllers in layout.v1:
        assert os.path.isdir(mountpoint) and controllers


def test_create_applies_limits_and_destroy_removes_every_directory(group_path):
    resources = {"memory": {"limit": 64 << 20}, "pids": {"limit": 30},
                 "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"}}
    group = Cgroup.create(group_path, resources)
    dirs = group.directories()
    assert dirs and all(os.path.isdir(d) for d in dirs)
    stats = group.stats()
    assert stats["memory_limit"] == 64 << 20
    assert stats["pids"] == 0
    if group.v1:
        cpu = group.v1.by_controller.get("cpu")
        if cpu:
            assert open(os.path.join(cpu, "cpu.cfs_quota_us")).read().strip() == "50000"
            assert open(os.path.join(cpu, "cpu.shares")).read().strip() == "512"
        cpuset = group.v1.by_controller.get("cpuset")
        if cpuset:
            assert open(os.path.join(cpuset, "cpuset.cpus")).read().strip() == "0"
    group.update({"pids": {"limit": 40}})
    pids_dir = group.v1.by_controller.get("pids") if group.v1 else group.v2.dir
    assert open(os.path.join(pids_dir, "pids.max")).read().strip() == "40"
    group.destroy()
    assert not any(os.path.exists(d) for d in dirs)


def test_add_freeze_kill_all(group_path):
    group = Cgroup.create(group_path)
    pid = os.fork()
    if pid == 0:  # a child that just waits to be killed
        try:
            signal.pause()
        finally:
            os._exit(0)
    try:
        group.add(pid)
        assert group.pids() == [pid]
        group.freeze()
        group.thaw()
        group.kill_all()
        _pid, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    group.destroy()
    assert not group.exists()


def test_invalid_path_is_rejected():
    with pytest.raises(Exception, match="invalid cgroup path"):
        Cgroup("/berth/../../etc")
