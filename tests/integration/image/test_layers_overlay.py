"""Layers as overlayfs sees them: applied whiteouts mounted for real, a real upper dir turned into a
layer and back, and GNU tar as an independent reader and writer of the same tars."""
from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.image.layers import apply_layer, write_diff, write_tree

_libc = ctypes.CDLL(None, use_errno=True)
MNT_DETACH = 2
MS_RDONLY = 1


@contextlib.contextmanager
def overlay(target: Path, lowers: list[Path], upper: Path | None = None,
            work: Path | None = None) -> Iterator[Path]:
    """Mount an overlay at ``target`` (lowers top first); always unmounted on exit."""
    target.mkdir(exist_ok=True)
    opts = "lowerdir=" + ":".join(str(p) for p in lowers)
    if upper is not None:
        opts += f",upperdir={upper},workdir={work}"
    flags = 0 if upper is not None else MS_RDONLY
    if _libc.mount(b"overlay", str(target).encode(), b"overlay", flags, opts.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount overlay {opts}: {os.strerror(err)}")
    try:
        yield target
    finally:
        _libc.umount2(str(target).encode(), MNT_DETACH)


def view(root: Path) -> dict[str, tuple]:
    """What a process in the container would see below ``root`` (not the root itself)."""
    result: dict[str, tuple] = {}
    first: dict[tuple[int, int], str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            body = b""
            if stat.S_ISREG(st.st_mode):
                body = hashlib.sha256(Path(path).read_bytes()).digest()
            elif stat.S_ISLNK(st.st_mode):
                body = os.fsencode(os.readlink(path))
            hard = first.setdefault((st.st_dev, st.st_ino), rel) if stat.S_ISREG(st.st_mode) and \
                st.st_nlink > 1 else ""
            xattrs = tuple(sorted((k, os.getxattr(path, k, follow_symlinks=False))
                                  for k in os.listxattr(path, follow_symlinks=False)
                                  if not k.startswith("trusted.overlay.")))
            rdev = st.st_rdev if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else 0
            result[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                           int(st.st_mtime), body, rdev, xattrs, hard)
    return result


def lower_layer(root: Path) -> Path:
    root.mkdir()
    (root / "etc").mkdir()
    (root / "etc/keep").write_text("keep")
    (root / "etc/gone").write_text("gone")
    (root / "etc/motd").write_text("old motd")
    (root / "cache/sub").mkdir(parents=True)
    (root / "cache/old").write_text("old")
    (root / "cache/sub/older").write_text("older")
    (root / "data").mkdir()
    (root / "data/base").write_text("base")
    (root / "bin").mkdir()
    (root / "bin/tool").write_text("tool")
    return root


def layer_tar(*entries: tuple[str, bytes, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.type, info.size, info.mode = kind, len(data), 0o755 if kind == tarfile.DIRTYPE else 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_applied_whiteouts_and_opaque_dirs_work_in_a_real_overlay_mount(tmp_path: Path) -> None:
    lower = lower_layer(tmp_path / "lower")
    diff = tmp_path / "diff"
    diff.mkdir()
    apply_layer(io.BytesIO(layer_tar(
        ("etc/.wh.gone", tarfile.REGTYPE, b""),
        ("cache/", tarfile.DIRTYPE, b""),
        ("cache/.wh..wh..opq", tarfile.REGTYPE, b""),
        ("cache/new", tarfile.REGTYPE, b"new"),
        ("data/added", tarfile.REGTYPE, b"added"),
        (".wh.bin", tarfile.REGTYPE, b""),
    )), str(diff))
    with overlay(tmp_path / "merged", [diff, lower]) as merged:
        assert sorted(os.listdir(merged / "etc")) == ["keep", "motd"]  # the whiteout hides "gone"
        assert not os.path.lexists(merged / "etc/gone")
        assert sorted(os.listdir(merged / "cache")) == ["new"]  # opaque: lower content hidden
        assert sorted(os.listdir(merged / "data")) == ["added", "base"]  # plain dir: merged
        assert not os.path.lexists(merged / "bin")  # a whole directory whited out
        assert (merged / "etc/keep").read_text() == "keep"
    assert (lower / "etc/gone").exists() and (lower / "cache/old").exists()  # lower untouched


def test_container_changes_survive_write_diff_and_apply(tmp_path: Path) -> None:
    """Change a real overlay as a container would; its upper dir as a layer gives the same view."""
    lower = lower_layer(tmp_path / "lower")
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    with overlay(tmp_path / "rw", [lower], upper, work) as rw:
        os.unlink(rw / "etc/gone")  # -> whiteout char device
        shutil.rmtree(rw / "cache")  # rm -r + mkdir -> opaque dir
        (rw / "cache").mkdir()
        (rw / "cache/fresh").write_text("fresh")
        (rw / "etc/motd").write_text("new motd")  # copy-up
        os.chmod(rw / "bin/tool", 0o4750)  # metadata-only copy-up
        os.chown(rw / "bin/tool", 0, 50)
        shutil.rmtree(rw / "data")  # directory deleted outright
        (rw / "srv/www").mkdir(parents=True)
        (rw / "srv/www/index.html").write_text("<h1>hi</h1>")
        os.link(rw / "srv/www/index.html", rw / "srv/www/default.html")
        os.symlink("/srv/www", rw / "www")
        os.mkfifo(rw / "srv/pipe")
        os.mknod(rw / "srv/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        os.setxattr(rw / "srv/www/index.html", "user.lang", b"en")
        os.utime(rw / "srv/www", (1_700_000_000, 1_700_000_000))
        expected = view(rw)
    assert stat.S_ISCHR(os.lstat(upper / "etc/gone").st_mode)  # the kernel's own markers
    assert os.getxattr(upper / "cache", "trusted.overlay.opaque") == b"y"

    blob = io.BytesIO()
    write_diff(str(upper), blob)
    names = [m.name for m in tarfile.open(fileobj=io.BytesIO(blob.getvalue())).getmembers()]
    assert "etc/.wh.gone" in names and ".wh.data" in names
    assert names.index("cache") + 1 == names.index("cache/.wh..wh..opq")
    diff = tmp_path / "diff"
    diff.mkdir()
    apply_layer(io.BytesIO(blob.getvalue()), str(diff))
    with overlay(tmp_path / "ro", [diff, lower]) as ro:
        assert view(ro) == expected
        assert not os.path.lexists(ro / "cache/old") and not os.path.lexists(ro / "data")


def gnu_tar(*args: str) -> None:
    subprocess.run(["tar", *args], check=True, capture_output=True)


XATTR_ARGS = ("--xattrs", "--xattrs-include=*", "--numeric-owner")


def sample_tree(root: Path) -> Path:
    (root / "d/e").mkdir(parents=True)
    (root / "d/f").write_bytes(b"content " * 1000)
    os.chmod(root / "d/f", 0o2755)
    os.chown(root / "d/f", 1234, 4321)
    os.link(root / "d/f", root / "d/g")
    os.symlink("../d/f", root / "d/s")
    os.mkfifo(root / "p")
    os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.setxattr(root / "d/f", "user.x", b"1")
    (root / ("n" * 120)).write_text("long name")
    for path in sorted(root.rglob("*"), key=lambda p: -len(p.parts)):
        os.utime(path, (1_600_000_000, 1_600_000_000), follow_symlinks=False)
    return root


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar is not installed")
def test_gnu_tar_reads_what_write_tree_writes(tmp_path: Path) -> None:
    src = sample_tree(tmp_path / "src")
    with open(tmp_path / "layer.tar", "wb") as f:
        write_tree(str(src), f)
    out = tmp_path / "out"
    out.mkdir()
    gnu_tar(*XATTR_ARGS, "-xpf", str(tmp_path / "layer.tar"), "-C", str(out))
    assert view(out) == view(src)


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar is not installed")
def test_apply_layer_reads_what_gnu_tar_writes(tmp_path: Path) -> None:
    src = sample_tree(tmp_path / "src")
    gnu_tar("--format=posix", *XATTR_ARGS, "-cf", str(tmp_path / "gnu.tar"), "-C", str(src), ".")
    dest = tmp_path / "dest"
    dest.mkdir()
    with open(tmp_path / "gnu.tar", "rb") as f:
        apply_layer(f, str(dest))
    assert view(dest) == view(src)
