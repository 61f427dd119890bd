"""mount_rootfs: read-only views of one or several layers, and the writable overlay."""
from __future__ import annotations

import os

import pytest

import berth.runtime as rt


def _is_mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


@pytest.mark.parametrize("layers", [1, 2])
def test_readonly_rootfs_of_any_layer_count(tmp_path, layers: int) -> None:
    lowers = []
    for i in range(layers):
        d = tmp_path / f"layer{i}"
        d.mkdir()
        (d / f"file{i}").write_text(str(i))
        lowers.append(str(d))
    target = tmp_path / "rootfs"
    target.mkdir()
    rt.mount_rootfs(lowers, "", "", str(target), readonly=True)
    try:
        assert sorted(os.listdir(target)) == [f"file{i}" for i in range(layers)]
        with pytest.raises(OSError) as err:
            (target / "new").write_text("x")
        assert err.value.strerror == "Read-only file system"
    finally:
        rt.unmount_rootfs(str(target))
    assert not _is_mounted(str(target))
