"""write_tree / write_diff: deterministic layer tars, and exact round trips through apply_layer."""
from __future__ import annotations

import hashlib
import io
import os
import socket
import stat
import tarfile
from pathlib import Path

import pytest

from berth.errors import InvalidArgument
from berth.image.layers import apply_layer, write_diff, write_tree

T0 = 1_650_000_000
CAP_NET_RAW = b"\x01\x00\x00\x02\x00\x20\x00\x00" + b"\x00" * 12


def snapshot(root: Path, skip_xattrs: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Everything below ``root`` that a layer must carry, keyed by relative path."""
    result: dict[str, tuple] = {}
    first_name: dict[tuple[int, int], str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            content = link = b""
            if stat.S_ISREG(st.st_mode):
                content = hashlib.sha256(Path(path).read_bytes()).digest()
            elif stat.S_ISLNK(st.st_mode):
                link = os.fsencode(os.readlink(path))
            hard = first_name.setdefault((st.st_dev, st.st_ino), rel) if st.st_nlink > 1 and \
                stat.S_ISREG(st.st_mode) else rel
            xattrs = tuple(sorted(
                (k, os.getxattr(path, k, follow_symlinks=False))
                for k in os.listxattr(path, follow_symlinks=False) if not k.startswith(skip_xattrs)))
            rdev = st.st_rdev if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else 0
            result[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                           int(st.st_mtime), content, link, rdev, xattrs, hard)
    return result


def rich_tree(root: Path) -> Path:
    """A tree with every kind of entry and attribute a layer can hold."""
    root.mkdir()
    for d, mode, owner in (("bin", 0o755, 0), ("sbin", 0o700, 0), ("tmp", 0o1777, 0),
                           ("srv", 0o2750, 33), ("deep/a/b/c/d", 0o755, 0), ("dev", 0o755, 0)):
        (root / d).mkdir(parents=True)
        os.chmod(root / d, mode)
        os.chown(root / d, owner, owner)
    (root / "bin/busybox").write_bytes(b"\x7fELF busybox")
    os.link(root / "bin/busybox", root / "bin/sh")
    os.link(root / "bin/busybox", root / "sbin/init")
    (root / "bin/su").write_bytes(b"su")
    os.chmod(root / "bin/su", 0o4755)
    (root / "bin/ping").write_bytes(b"ping")
    os.setxattr(root / "bin/ping", "security.capability", CAP_NET_RAW)
    os.setxattr(root / "bin/ping", "user.comment", b"binary \xff\x00 value")
    os.setxattr(root / "srv", "user.dir", b"d")
    (root / "big").write_bytes(os.urandom(300_000))
    (root / "empty").write_bytes(b"")
    (root / "srv/data").write_text("x")
    os.chown(root / "srv/data", 3_000_000, 3_000_001)  # past the ustar field: needs PAX
    (root / ("deep/a/b/c/d/" + "long-name-" * 14)).write_text("long")
    (root / os.fsdecode(b"caf\xe9-latin1")).write_text("not utf-8")
    (root / "unicodé").write_text("utf-8")
    os.symlink("/bin/busybox", root / "bin/abs")
    os.symlink("../bin/su", root / "sbin/rel")
    os.symlink("nowhere/at/all", root / "dangling")
    os.symlink("bin", root / "bindir")
    os.setxattr(root / "dangling", "trusted.berth", b"on a symlink", follow_symlinks=False)
    os.mkfifo(root / "tmp/fifo", 0o640)
    os.mknod(root / "dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(root / "dev/loop0", 0o660 | stat.S_IFBLK, os.makedev(7, 0))
    os.chown(root / "dev/loop0", 0, 6)
    os.lchown(root / "sbin/rel", 5, 6)
    # times last, deepest first, so writing children does not move them again
    for i, (dirpath, dirnames, filenames) in enumerate(sorted(os.walk(root), key=lambda w: -len(w[0]))):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), ns=(T0 * 10**9, (T0 + i) * 10**9 + 123),
                     follow_symlinks=False)
    return root


def tar_bytes(fn, root: Path, **kw) -> bytes:
    out = io.BytesIO()
    fn(str(root), out, **kw)
    return out.getvalue()


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as t:
        return t.getmembers()


def unpack(data: bytes, dest: Path) -> Path:
    dest.mkdir()
    apply_layer(io.BytesIO(data), str(dest))
    return dest


def test_round_trip_is_exact(tmp_path: Path) -> None:
    src = rich_tree(tmp_path / "src")
    data = tar_bytes(write_tree, src)
    dst = unpack(data, tmp_path / "dst")
    expected = snapshot(src)
    assert snapshot(dst) == expected
    assert expected["bin/sh"][-1] == expected["sbin/init"][-1] == "bin/busybox"  # checked: links kept
    assert dict(expected["bin/ping"][8])["security.capability"] == CAP_NET_RAW
    # the copy tars to the very same bytes, although every inode differs
    assert tar_bytes(write_tree, dst) == data


def test_output_is_deterministic_sorted_pax(tmp_path: Path) -> None:
    src = rich_tree(tmp_path / "src")
    first = tar_bytes(write_tree, src)
    for path in src.rglob("*"):  # reading changes atimes, which must not leak into the tar
        if path.is_file() and not path.is_symlink():
            path.read_bytes()
    assert tar_bytes(write_tree, src) == first
    assert first[257:265] == b"ustar\x0000"  # POSIX (PAX) headers, not GNU
    found = members(first)
    names = [m.name for m in found]
    assert names[:3] == ["big", "bin", "bin/abs"]
    assert names.index("deep") < names.index("deep/a") < names.index("dev")  # depth first
    assert "." not in names and "" not in names  # no root entry
    assert all(m.uname == "" and m.gname == "" for m in found)
    assert all(not any(k in m.pax_headers for k in ("atime", "ctime")) for m in found)
    data = next(m for m in found if m.name == "srv/data")
    assert (data.uid, data.gid) == (3_000_000, 3_000_001)
    links = {m.name: m.linkname for m in found if m.islnk()}
    assert links == {"bin/sh": "bin/busybox", "sbin/init": "bin/busybox"}
    assert all(not m.name.startswith("bindir/") for m in found)  # symlinked dirs are not entered


def test_mtime_override(tmp_path: Path) -> None:
    src = rich_tree(tmp_path / "src")
    found = members(tar_bytes(write_tree, src, mtime=946684800))
    assert {m.mtime for m in found} == {946684800}


def test_exclude_drops_paths_and_subtrees(tmp_path: Path) -> None:
    src = rich_tree(tmp_path / "src")
    names = [m.name for m in members(tar_bytes(write_tree, src, exclude=["deep/a", "./bin/su"]))]
    assert "bin/su" not in names and not any(n.startswith("deep/a") for n in names)
    assert "deep" in names and "bin/ping" in names


def fake_upper(root: Path) -> Path:
    """What overlayfs leaves in an upper dir after rm, rm -r + mkdir, copy-up and writes."""
    root.mkdir()
    os.mknod(root / "gone", stat.S_IFCHR | 0o000, os.makedev(0, 0))
    (root / "etc").mkdir()
    os.setxattr(root / "etc", "trusted.overlay.origin", b"\x00\xfb opaque handle")
    os.setxattr(root / "etc", "trusted.overlay.impure", b"y")
    (root / "etc/new").write_text("new")
    (root / "etc/hostname").write_text("per-container")
    os.mknod(root / "etc/.wh-not-a-whiteout", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    (root / "var/cache").mkdir(parents=True)
    os.setxattr(root / "var/cache", "trusted.overlay.opaque", b"y")
    os.setxattr(root / "var/cache", "user.kept", b"k")
    (root / "var/cache/fresh").write_text("fresh")
    (root / "var/cache/-sorts-before-dot").write_text("x")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "var/sock"))
    sock.close()
    for path in (root / "gone", root / "var/cache", root / "etc"):
        os.utime(path, (T0, T0), follow_symlinks=False)
    return root


def test_write_diff_turns_overlay_markers_into_oci_whiteouts(tmp_path: Path) -> None:
    upper = fake_upper(tmp_path / "upper")
    data = tar_bytes(write_diff, upper, exclude=["etc/hostname"])
    found = members(data)
    assert [m.name for m in found] == [
        "etc", "etc/.wh-not-a-whiteout", "etc/new", ".wh.gone", "var", "var/cache",
        "var/cache/.wh..wh..opq", "var/cache/-sorts-before-dot", "var/cache/fresh"]
    wh = found[3]
    assert wh.isreg() and wh.size == 0 and wh.mode == 0o600 and wh.mtime == T0
    assert found[1].ischr() and (found[1].devmajor, found[1].devminor) == (1, 3)
    assert found[6].isreg() and found[6].size == 0
    for m in found:
        assert not any("overlay" in k for k in m.pax_headers), m.name
    assert found[5].pax_headers == {"SCHILY.xattr.user.kept": "k"}
    assert tar_bytes(write_diff, upper, exclude=["etc/hostname"]) == data


def test_write_diff_round_trips_to_the_same_upper(tmp_path: Path) -> None:
    upper = fake_upper(tmp_path / "upper")
    os.unlink(upper / "var/sock")
    dst = unpack(tar_bytes(write_diff, upper), tmp_path / "dst")
    skip = ("trusted.overlay.origin", "trusted.overlay.impure")
    assert snapshot(dst, skip) == snapshot(upper, skip)
    assert os.getxattr(dst / "var/cache", "trusted.overlay.opaque") == b"y"
    assert os.lstat(dst / "gone").st_rdev == 0 and stat.S_ISCHR(os.lstat(dst / "gone").st_mode)


def test_write_tree_does_not_interpret_overlay_markers(tmp_path: Path) -> None:
    upper = fake_upper(tmp_path / "upper")
    found = {m.name: m for m in members(tar_bytes(write_tree, upper))}
    assert found["gone"].ischr() and ".wh.gone" not in found
    assert "var/cache/.wh..wh..opq" not in found
    assert "var/sock" not in found  # sockets have no tar form


@pytest.mark.parametrize("xattr", ["trusted.overlay.redirect", "trusted.overlay.metacopy"])
def test_write_diff_refuses_uppers_it_cannot_express(tmp_path: Path, xattr: str) -> None:
    upper = tmp_path / "upper"
    (upper / "moved").mkdir(parents=True)
    os.setxattr(upper / "moved", xattr, b"/elsewhere")
    with pytest.raises(InvalidArgument, match="cannot express"):
        write_diff(str(upper), io.BytesIO())


def test_write_tree_never_follows_a_symlinked_root_child(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("secret")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(str(secret), root / "link")
    found = members(tar_bytes(write_tree, root))
    assert [(m.name, m.issym(), m.linkname) for m in found] == [("link", True, str(secret))]


@pytest.mark.parametrize("writer", [write_diff, write_tree])
def test_names_reserved_for_whiteouts_are_refused(tmp_path: Path, writer) -> None:
    """A real file named .wh.x would delete x from lower layers once applied: refuse, clearly."""
    (tmp_path / "root/d").mkdir(parents=True)
    (tmp_path / "root/d/.wh.x").write_text("")
    with pytest.raises(InvalidArgument, match=r"d/\.wh\.x: names starting with \.wh\. are reserved"):
        writer(str(tmp_path / "root"), io.BytesIO())
