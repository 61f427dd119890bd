"""apply_layer: what a well-formed layer tar becomes on disk (runs as root: owners, nodes, xattrs)."""
from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
from testlib import tar_of

from berth.errors import InvalidArgument
from berth.image.layers import apply_layer

MTIME = 1_600_000_000


def ent(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", mode: int = 0o644,
        uid: int = 0, gid: int = 0, mtime: float = MTIME, link: str = "", major: int = 0,
        minor: int = 0, pax: dict[str, str] | None = None) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, uid, gid, mtime
    info.linkname, info.devmajor, info.devminor = link, major, minor
    info.size = len(data)
    if pax:
        info.pax_headers = dict(pax)
    return info, data


def apply(tmp_path: Path, *entries: tuple[tarfile.TarInfo, bytes]) -> Path:
    dest = tmp_path / "dest"
    dest.mkdir()
    apply_layer(io.BytesIO(tar_of(*entries)), str(dest))
    return dest


def test_regular_files_keep_content_owner_mode_and_time(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    written = apply_layer(io.BytesIO(tar_of(
        ent("bin/", tarfile.DIRTYPE, mode=0o755),
        ent("bin/su", data=b"\x7fELF-ish", mode=0o4755, uid=0, gid=0),
        ent("bin/wall", data=b"w" * 3000, mode=0o2711, uid=12, gid=5, mtime=MTIME + 0.25),
        ent("empty", mode=0o600, uid=1000, gid=1000),
    )), str(dest))
    assert written == len(b"\x7fELF-ish") + 3000
    su, wall, empty = (os.lstat(dest / p) for p in ("bin/su", "bin/wall", "empty"))
    assert (dest / "bin/su").read_bytes() == b"\x7fELF-ish"
    assert stat.S_IMODE(su.st_mode) == 0o4755 and stat.S_ISREG(su.st_mode)
    assert stat.S_IMODE(wall.st_mode) == 0o2711 and (wall.st_uid, wall.st_gid) == (12, 5)
    assert wall.st_mtime_ns == (MTIME * 10**9) + 250_000_000 and wall.st_size == 3000
    assert (empty.st_uid, empty.st_gid, stat.S_IMODE(empty.st_mode)) == (1000, 1000, 0o600)
    assert su.st_mtime == MTIME


def test_directories_get_their_mtime_after_their_content(tmp_path: Path) -> None:
    dest = apply(tmp_path,
                 ent("tmp/", tarfile.DIRTYPE, mode=0o1777, mtime=MTIME - 50),
                 ent("tmp/a/", tarfile.DIRTYPE, mode=0o700, uid=7, gid=8, mtime=MTIME - 40),
                 ent("tmp/a/f", data=b"x"),
                 ent("tmp/.wh.gone"))
    tmp, a = os.lstat(dest / "tmp"), os.lstat(dest / "tmp/a")
    assert stat.S_IMODE(tmp.st_mode) == 0o1777 and tmp.st_mtime == MTIME - 50
    assert stat.S_IMODE(a.st_mode) == 0o700 and (a.st_uid, a.st_gid) == (7, 8)
    assert a.st_mtime == MTIME - 40


def test_symlinks_hardlinks_fifos_and_devices(tmp_path: Path) -> None:
    dest = apply(tmp_path,
                 ent("bin/busybox", data=b"bb", mode=0o755),
                 ent("bin/sh", tarfile.LNKTYPE, link="bin/busybox"),
                 ent("./bin/ls", tarfile.LNKTYPE, link="./bin/busybox"),
                 ent("usr/bin/env", tarfile.SYMTYPE, link="/bin/busybox", uid=3, gid=4,
                     mtime=MTIME - 7),
                 ent("dangling", tarfile.SYMTYPE, link="../../nowhere"),
                 ent("run/fifo", tarfile.FIFOTYPE, mode=0o620),
                 ent("dev/null", tarfile.CHRTYPE, mode=0o666, major=1, minor=3),
                 ent("dev/sda", tarfile.BLKTYPE, mode=0o4660, gid=6, major=8, minor=0))
    busybox = os.lstat(dest / "bin/busybox")
    assert os.lstat(dest / "bin/sh").st_ino == busybox.st_ino == os.lstat(dest / "bin/ls").st_ino
    assert busybox.st_nlink == 3
    env = os.lstat(dest / "usr/bin/env")
    assert stat.S_ISLNK(env.st_mode) and os.readlink(dest / "usr/bin/env") == "/bin/busybox"
    assert (env.st_uid, env.st_gid, env.st_mtime) == (3, 4, MTIME - 7)
    assert os.readlink(dest / "dangling") == "../../nowhere"
    fifo = os.lstat(dest / "run/fifo")
    assert stat.S_ISFIFO(fifo.st_mode) and stat.S_IMODE(fifo.st_mode) == 0o620
    null, sda = os.lstat(dest / "dev/null"), os.lstat(dest / "dev/sda")
    assert stat.S_ISCHR(null.st_mode) and (os.major(null.st_rdev), os.minor(null.st_rdev)) == (1, 3)
    assert stat.S_IMODE(null.st_mode) == 0o666
    assert stat.S_ISBLK(sda.st_mode) and os.major(sda.st_rdev) == 8
    assert stat.S_IMODE(sda.st_mode) == 0o4660 and sda.st_gid == 6


def test_xattrs_from_pax_records(tmp_path: Path) -> None:
    cap = b"\x01\x00\x00\x02\x00\x20\x00\x00" + b"\x00" * 12  # binary: cap_net_raw+ep
    dest = apply(tmp_path,
                 ent("ping", data=b"p", mode=0o755, pax={
                     "SCHILY.xattr.security.capability": cap.decode("utf-8", "surrogateescape"),
                     "SCHILY.xattr.user.note": "héllo"}),
                 ent("d/", tarfile.DIRTYPE, pax={"SCHILY.xattr.trusted.berth": "t"}),
                 ent("la", pax={"LIBARCHIVE.xattr.user.from%20libarchive": "aGk="}))
    assert os.getxattr(dest / "ping", "security.capability") == cap
    assert os.getxattr(dest / "ping", "user.note") == "héllo".encode()
    assert os.getxattr(dest / "d", "trusted.berth") == b"t"
    assert os.getxattr(dest / "la", "user.from libarchive") == b"hi"


def test_root_entry_sets_dest_metadata(tmp_path: Path) -> None:
    dest = apply(tmp_path, ent("./", tarfile.DIRTYPE, mode=0o750, uid=5, gid=6, mtime=MTIME),
                 ent("./f", data=b"1"))
    st = os.lstat(dest)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime) == (0o750, 5, 6, MTIME)


def test_dest_is_0755_without_root_entry(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir(mode=0o700)
    apply_layer(io.BytesIO(tar_of(ent("f"))), str(dest))
    assert stat.S_IMODE(os.lstat(dest).st_mode) == 0o755


def test_names_are_normalised_and_parents_made(tmp_path: Path) -> None:
    dest = apply(tmp_path, ent("./a//b/./c", data=b"c"), ent(".//x", data=b"x"))
    assert (dest / "a/b/c").read_bytes() == b"c" and (dest / "x").read_bytes() == b"x"
    assert sorted(os.listdir(dest)) == ["a", "x"]
    assert stat.S_IMODE(os.lstat(dest / "a/b").st_mode) == 0o755  # implicit parent, like Docker


def test_whiteouts_become_overlayfs_whiteouts(tmp_path: Path) -> None:
    dest = apply(tmp_path,
                 ent("etc/.wh.motd", uid=0),
                 ent("var/cache/.wh..wh..opq"),
                 ent(".wh.top", uid=9, gid=9))
    for path, owner in (("etc/motd", 0), ("top", 9)):
        st = os.lstat(dest / path)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0 and st.st_uid == owner
    assert not (dest / "etc/.wh.motd").exists() and not os.path.lexists(dest / ".wh.top")
    assert os.getxattr(dest / "var/cache", "trusted.overlay.opaque") == b"y"
    assert os.listdir(dest / "var/cache") == []


def test_whiteout_never_hides_content_of_its_own_layer(tmp_path: Path) -> None:
    dest = apply(tmp_path,
                 ent("keep", data=b"mine"), ent(".wh.keep"),  # file first: the file stays
                 ent(".wh.later"), ent("later", data=b"new"),  # whiteout first: the file replaces it
                 ent("dir/", tarfile.DIRTYPE), ent("dir/f", data=b"f"), ent(".wh.dir"),
                 ent(".wh.dir2"), ent("dir2/", tarfile.DIRTYPE))
    assert (dest / "keep").read_bytes() == b"mine" and (dest / "later").read_bytes() == b"new"
    # the lower "dir" is deleted but this layer's dir stays: in overlayfs terms an opaque dir
    assert (dest / "dir/f").read_bytes() == b"f"
    assert os.getxattr(dest / "dir", "trusted.overlay.opaque") == b"y"
    assert os.getxattr(dest / "dir2", "trusted.overlay.opaque") == b"y"


def test_later_entries_replace_earlier_ones(tmp_path: Path) -> None:
    dest = apply(tmp_path,
                 ent("f", data=b"old"), ent("f", data=b"new", mode=0o600),
                 ent("d/", tarfile.DIRTYPE, mode=0o700), ent("d/in", data=b"i"),
                 ent("d/", tarfile.DIRTYPE, mode=0o711, uid=4),  # dir over dir merges
                 ent("t/", tarfile.DIRTYPE), ent("t/deep/er", data=b"x"),
                 ent("t", data=b"now a file"),  # file over dir replaces the whole tree
                 ent("s", tarfile.SYMTYPE, link="f"), ent("s/", tarfile.DIRTYPE),  # dir over link
                 ent("n", data=b"x"), ent("n", tarfile.SYMTYPE, link="/etc"))
    assert (dest / "f").read_bytes() == b"new" and stat.S_IMODE(os.lstat(dest / "f").st_mode) == 0o600
    d = os.lstat(dest / "d")
    assert (dest / "d/in").read_bytes() == b"i" and stat.S_IMODE(d.st_mode) == 0o711 and d.st_uid == 4
    assert (dest / "t").read_bytes() == b"now a file"
    assert stat.S_ISDIR(os.lstat(dest / "s").st_mode)
    assert os.readlink(dest / "n") == "/etc"


def test_empty_layers(tmp_path: Path) -> None:
    for i, data in enumerate((b"", b"\x00" * 1024, tar_of())):
        dest = tmp_path / str(i)
        dest.mkdir()
        assert apply_layer(io.BytesIO(data), str(dest)) == 0
        assert os.listdir(dest) == []


def test_stops_at_end_of_archive_and_reads_forwards_only(tmp_path: Path) -> None:
    class Forward:
        def __init__(self, data: bytes) -> None:
            self.raw = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self.raw.read(n)

    dest = tmp_path / "dest"
    dest.mkdir()
    stream = Forward(tar_of(ent("a", data=b"a")) + b"trailing bytes belong to the caller")
    assert apply_layer(stream, str(dest)) == 1  # type: ignore[arg-type]
    assert os.listdir(dest) == ["a"]


def test_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "old").write_text("x")
    with pytest.raises(InvalidArgument, match="not empty"):
        apply_layer(io.BytesIO(tar_of(ent("f"))), str(dest))


def test_truncated_tar_is_invalid(tmp_path: Path) -> None:
    data = tar_of(ent("big", data=b"z" * 100_000))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(InvalidArgument, match="invalid layer tar"):
        apply_layer(io.BytesIO(data[:50_000]), str(dest))


def test_unsupported_entry_type_is_invalid(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(InvalidArgument, match="unsupported type"):
        apply_layer(io.BytesIO(tar_of(ent("vol", b"V"))), str(dest))
