"""Copy-up of image content into an empty volume: metadata kept, symlinks never followed."""
from __future__ import annotations

import os
import stat

import pytest

from berth.volume import copy_up
from berth.volume.copyup import open_in_root

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chown/mknod need root")


def _tree(root: str) -> None:
    data = os.path.join(root, "srv", "data")
    os.makedirs(os.path.join(data, "sub", "deep"))
    with open(os.path.join(data, "file"), "w") as f:
        f.write("content")
    os.chown(os.path.join(data, "file"), 1000, 1001)
    os.chmod(os.path.join(data, "file"), 0o4751)
    os.setxattr(os.path.join(data, "file"), "user.origin", b"image")
    os.link(os.path.join(data, "file"), os.path.join(data, "sub", "hardlink"))
    os.symlink("/etc/shadow", os.path.join(data, "abs-link"))
    os.symlink("../file", os.path.join(data, "sub", "rel-link"))
    os.mkfifo(os.path.join(data, "fifo"), 0o640)
    os.mknod(os.path.join(data, "null"), stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.chown(os.path.join(data, "sub"), 7, 8)
    os.chmod(os.path.join(data, "sub"), 0o1770)
    os.chmod(data, 0o750)
    os.utime(os.path.join(data, "sub", "deep"), (1000000, 2000000))
    os.utime(data, (3000000, 4000000))


def test_copies_everything_with_its_metadata(tmp_path) -> None:
    rootfs, vol = str(tmp_path / "rootfs"), str(tmp_path / "vol")
    os.makedirs(vol)
    _tree(rootfs)
    os.symlink("srv/data", os.path.join(rootfs, "data"))  # the mount destination via a symlink
    assert copy_up(rootfs, "/data", vol) is True
    src = os.path.join(rootfs, "srv", "data")
    for rel in ("", "file", "sub", "sub/deep", "sub/hardlink", "abs-link", "sub/rel-link", "fifo",
                "null"):
        a = os.lstat(os.path.join(src, rel))
        b = os.lstat(os.path.join(vol, rel))
        assert (b.st_mode, b.st_uid, b.st_gid) == (a.st_mode, a.st_uid, a.st_gid), rel
        if not stat.S_ISLNK(a.st_mode):
            assert b.st_mtime_ns == a.st_mtime_ns, rel
    assert open(os.path.join(vol, "file")).read() == "content"
    assert os.getxattr(os.path.join(vol, "file"), "user.origin") == b"image"
    assert os.lstat(os.path.join(vol, "file")).st_ino == \
        os.lstat(os.path.join(vol, "sub", "hardlink")).st_ino
    assert os.readlink(os.path.join(vol, "abs-link")) == "/etc/shadow"
    assert os.lstat(os.path.join(vol, "null")).st_rdev == os.makedev(1, 3)


def test_leaves_a_non_empty_volume_alone(tmp_path) -> None:
    rootfs, vol = str(tmp_path / "rootfs"), str(tmp_path / "vol")
    _tree(rootfs)
    os.makedirs(vol)
    with open(os.path.join(vol, "mine"), "w") as f:
        f.write("user data")
    assert copy_up(rootfs, "/srv/data", vol) is False
    assert os.listdir(vol) == ["mine"]


def test_nothing_to_copy(tmp_path) -> None:
    rootfs, vol = str(tmp_path / "rootfs"), str(tmp_path / "vol")
    os.makedirs(os.path.join(rootfs, "etc"))
    os.makedirs(vol)
    with open(os.path.join(rootfs, "etc", "afile"), "w") as f:
        f.write("x")
    assert copy_up(rootfs, "/missing/dir", vol) is False
    assert copy_up(rootfs, "/etc/afile", vol) is False  # a file, not a directory
    assert os.listdir(vol) == []


def test_symlinks_cannot_lead_out_of_the_rootfs(tmp_path) -> None:
    outside = tmp_path / "host-secret"
    outside.mkdir()
    (outside / "secret").write_text("host only")
    rootfs, vol = tmp_path / "rootfs", tmp_path / "vol"
    (rootfs / "inside").mkdir(parents=True)
    (rootfs / "inside" / "benign").write_text("image file")
    vol.mkdir()
    # absolute and ../ symlinks are resolved as if the rootfs were /
    os.symlink(str(outside), rootfs / "abs")
    os.symlink("../../../../../../" + str(outside).lstrip("/"), rootfs / "rel")
    for dest in ("/abs", "/rel", "/../" + str(outside).lstrip("/")):
        assert copy_up(str(rootfs), dest, str(vol)) is False, dest
        assert os.listdir(vol) == []
    os.symlink("/inside", rootfs / "loop-ok")
    assert copy_up(str(rootfs), "/loop-ok", str(vol)) is True
    assert (vol / "benign").read_text() == "image file"


def test_open_in_root_stops_symlink_loops(tmp_path) -> None:
    from berth.volume import CopyUpError

    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(CopyUpError, match="symbolic links"):
            open_in_root(fd, "/a")
    finally:
        os.close(fd)
