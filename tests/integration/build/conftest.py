"""Fixtures for build tests: one private BERTH_ROOT with busybox imported per test module.

Building is additive (every build makes new images, nothing else changes), so the tests of one
module share the store; teardown removes every container, network and mount the module made and
fails if a build left a container, a mount or a temp dir behind.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from build_helpers import BuildEnv


def _detach_mounts(prefix: str) -> list[str]:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    left = []
    with open("/proc/self/mountinfo") as f:
        points = [ln.split()[4].encode().decode("unicode_escape") for ln in f]
    for point in sorted(points, key=len, reverse=True):
        if point.startswith(prefix.rstrip("/") + "/"):
            left.append(point)
            libc.umount2(point.encode(), 2)
    return left


@pytest.fixture(scope="module")
def bb(busybox_rootfs_tar: str) -> Iterator[BuildEnv]:
    """A store with ``busybox:latest`` imported; shared by the tests of one module."""
    base = Path(tempfile.mkdtemp(prefix="berth-build-"))
    env = BuildEnv(base)
    saved = {k: os.environ.get(k) for k in ("BERTH_ROOT", "BERTH_RUN", "BERTH_CONFIG")}
    os.environ.update(env.environ_overrides())
    try:
        out = env.berth("import", busybox_rootfs_tar, "busybox")
        env.busybox_id = out.stdout.decode().strip()
        yield env
    finally:
        problems = []
        try:
            leftover = env.berth("ps", "-aq", "--no-trunc", check=False).stdout.decode().split()
            if leftover:
                problems.append(f"containers left: {leftover}")
                for cid in leftover:
                    env.berth("rm", "-f", cid, check=False)
            builds = env.root / "builds"
            if builds.exists() and os.listdir(builds):
                problems.append(f"build temp dirs left: {os.listdir(builds)}")
            try:
                from berth.network import NetworkManager
                from berth.store import Store

                NetworkManager(Store(str(env.root), str(env.run))).remove_all()
            except ImportError:
                pass
            mounts = _detach_mounts(str(base))
            if mounts:
                problems.append(f"mounts left: {mounts}")
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            shutil.rmtree(base, ignore_errors=True)
        assert not problems, problems
