"""``kill -9`` in the middle of ``berth load`` leaves a store the next command uses without error."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import time

from image_helpers import inspect


def _big_rootfs(path, files: int, size: int) -> None:
    with tarfile.open(path, "w") as tar:
        for i in range(files):
            info = tarfile.TarInfo(f"data/blob{i}")
            info.size = size
            tar.addfile(info, io.BytesIO(os.urandom(size)))


def _temp_entries(root) -> list[str]:
    found = []
    for sub in ("blobs/tmp", "snapshots"):
        d = root / sub
        if d.is_dir():
            found += [f"{sub}/{n}" for n in os.listdir(d) if n.startswith(".tmp-")]
    return found


def test_kill_during_load_leaves_a_usable_store(berth_env, tmp_path) -> None:
    rootfs = tmp_path / "big.tar"
    _big_rootfs(rootfs, files=24, size=4 << 20)  # ~100 MB: the load takes long enough to interrupt
    image_id = berth_env.berth("import", str(rootfs), "big:1").stdout.decode().strip()
    archive = tmp_path / "big-image.tar"
    berth_env.berth("save", "-o", str(archive), "big:1")
    berth_env.berth("rmi", "big:1")

    interrupted = 0
    for delay in (0.05, 0.2, 0.5):
        proc = subprocess.Popen([sys.executable, "-m", "berth.cli", "load", "-i", str(archive)],
                                env=berth_env.environ(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not _temp_entries(berth_env.root) and proc.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(delay)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                interrupted += 1
        finally:
            proc.wait(30)
        listing = berth_env.berth("images", "-q")  # the next command works, and sees no half image
        assert listing.returncode == 0
        assert listing.stdout.decode().split() in ([], [image_id[7:19]])
        if listing.stdout.strip():
            berth_env.berth("rmi", "big:1")
    assert interrupted >= 1, "load always finished before it could be killed"

    out = berth_env.berth("load", "-i", str(archive)).stdout.decode()
    assert out.strip() == "Loaded image: big:1"
    assert inspect(berth_env, "big:1")["Id"] == image_id
    berth_env.berth("image", "prune", "-f")  # garbage collection clears what the killed loads left
    assert _temp_entries(berth_env.root) == []
    assert inspect(berth_env, "big:1")["Id"] == image_id
