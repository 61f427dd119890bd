"""Shared pytest fixtures: a private BERTH_ROOT/BERTH_RUN per test and cached base rootfs tarballs.

Every test that touches engine state uses ``berth_env``; its teardown detaches any mount left under
the test's directories, so a failing test cannot leak mounts into the next one.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from testlib import mounts_under

REPO = Path(__file__).resolve().parent.parent
FIXTURE_CACHE = os.environ.get("BERTH_FIXTURE_CACHE") or "/var/cache/berth-fixtures"


def detach_mounts(prefix: str) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    mnt_detach = 2
    for point in mounts_under(prefix):
        libc.umount2(point.encode(), mnt_detach)


class BerthEnv:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.run = base / "run"
        self.config = base / "config"
        for d in (self.root, self.run, self.config):
            d.mkdir()

    def environ(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(BERTH_ROOT=str(self.root), BERTH_RUN=str(self.run), BERTH_CONFIG=str(self.config))
        return env

    def berth(self, *args: str, input: bytes | None = None, check: bool = True,
              timeout: float = 120) -> subprocess.CompletedProcess:
        """Run the ``berth`` CLI as a user would, with the real interpreter of this venv."""
        proc = subprocess.run([sys.executable, "-m", "berth.cli", *args], env=self.environ(),
                              input=input, capture_output=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"berth {' '.join(args)} exited {proc.returncode}: "
                                 f"{proc.stderr.decode(errors='replace')}")
        return proc


@pytest.fixture
def berth_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[BerthEnv]:
    base = Path(tempfile.mkdtemp(prefix="berth-test-"))
    env = BerthEnv(base)
    monkeypatch.setenv("BERTH_ROOT", str(env.root))
    monkeypatch.setenv("BERTH_RUN", str(env.run))
    monkeypatch.setenv("BERTH_CONFIG", str(env.config))
    try:
        yield env
    finally:
        _release_networks()
        detach_mounts(str(base))
        shutil.rmtree(base, ignore_errors=True)


def _release_networks() -> None:
    """Remove the bridges, veths, netns files and iptables rules this test's BERTH_ROOT made."""
    try:
        from berth.network import NetworkManager
        from berth.store import Store
    except ImportError:
        return
    try:
        NetworkManager(Store()).remove_all()
    except Exception as exc:  # noqa: BLE001 - teardown must go on to unmount and delete
        print(f"berth_env teardown: network cleanup failed: {exc}")


@pytest.fixture(scope="session")
def busybox_rootfs_tar() -> str:
    """Path of the cached busybox rootfs tarball built from Debian's busybox-static."""
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "base_images.py"), "busybox",
                          "--cache", FIXTURE_CACHE], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture(scope="session")
def busybox_rootfs_dir(busybox_rootfs_tar: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The busybox rootfs extracted once per session (read-only use: copy before writing)."""
    dest = tmp_path_factory.mktemp("busybox-rootfs")
    with tarfile.open(busybox_rootfs_tar) as tar:
        tar.extractall(dest, filter="tar") if hasattr(tarfile, "data_filter") else tar.extractall(dest)
    return str(dest)


@pytest.fixture
def busybox(berth_env, busybox_rootfs_tar):
    """berth_env with the busybox rootfs imported as ``busybox:latest``; yields its image ID."""
    out = berth_env.berth("import", "-m", "busybox from Debian", busybox_rootfs_tar, "busybox")
    image_id = out.stdout.decode().strip()
    assert image_id.startswith("sha256:")
    return image_id
