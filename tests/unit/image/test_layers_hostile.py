"""apply_layer against hostile tars: each is refused and nothing outside the destination changes.

Every case runs in a temp dir laid out as::

    tmp/dest/        the layer's destination (empty)
    tmp/sentinel/    must stay empty
    tmp/fake_etc/    an /etc look-alike (passwd, shadow) that must stay byte-identical

The real /etc is never a target: escapes aim at the temp look-alike by absolute path.
"""
from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Callable

import pytest

from berth.errors import UnsafeArchive
from berth.image.layers import apply_layer

Entry = tuple[tarfile.TarInfo, bytes]


def ent(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "",
        pax: dict[str, str] | None = None) -> Entry:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size, info.mode = kind, link, len(data), 0o644
    if pax:
        info.pax_headers = dict(pax)
    return info, data


def tar_of(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def outside_state(tmp: Path) -> dict[str, tuple]:
    """Everything in tmp except dest: names, types, modes, owners, contents, xattrs."""
    state: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(tmp):
        if Path(dirpath) == tmp:
            dirnames[:] = [d for d in dirnames if d != "dest"]
        for name in dirnames + filenames + [""]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            content = Path(path).read_bytes() if os.path.isfile(path) and not os.path.islink(path) else b""
            xattrs = tuple(sorted(os.listxattr(path, follow_symlinks=False)))
            state[os.path.relpath(path, tmp)] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns,
                                                 st.st_nlink, content, xattrs)
    return state


@pytest.fixture
def arena(tmp_path: Path):
    (tmp_path / "dest").mkdir()
    (tmp_path / "sentinel").mkdir()
    etc = tmp_path / "fake_etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    return tmp_path


def cases(arena: Path) -> dict[str, list[Entry]]:
    etc, sentinel = str(arena / "fake_etc"), str(arena / "sentinel")
    return {
        "absolute": [ent(sentinel + "/pwned", data=b"x")],
        "absolute-root": [ent("/", tarfile.DIRTYPE)],
        "dotdot": [ent("../sentinel/pwned", data=b"x")],
        "dotdot-inner": [ent("a/../../sentinel/pwned", data=b"x")],
        "dotdot-dir": [ent("a/b/../../../sentinel/", tarfile.DIRTYPE)],
        "symlink-abs-parent": [ent("a", tarfile.SYMTYPE, link=etc), ent("a/passwd", data=b"owned")],
        "symlink-rel-parent": [ent("a", tarfile.SYMTYPE, link="../sentinel"), ent("a/pwned")],
        "symlink-up-and-up": [ent("a", tarfile.SYMTYPE, link="../../.."), ent("a/x", data=b"x")],
        "symlink-chain": [ent("b", tarfile.SYMTYPE, link=sentinel), ent("a", tarfile.SYMTYPE, link="b"),
                          ent("a/pwned")],
        "symlink-deep-parent": [ent("d/", tarfile.DIRTYPE), ent("d/l", tarfile.SYMTYPE, link=etc),
                                ent("d/l/new/", tarfile.DIRTYPE)],
        "symlink-dir-entry": [ent("a", tarfile.SYMTYPE, link=sentinel), ent("a/sub/", tarfile.DIRTYPE)],
        "symlink-fifo": [ent("a", tarfile.SYMTYPE, link=sentinel), ent("a/p", tarfile.FIFOTYPE)],
        "symlink-symlink": [ent("a", tarfile.SYMTYPE, link=sentinel),
                            ent("a/l", tarfile.SYMTYPE, link="/x")],
        "symlink-whiteout": [ent("a", tarfile.SYMTYPE, link=sentinel), ent("a/.wh.x")],
        "symlink-opaque": [ent("a", tarfile.SYMTYPE, link=sentinel), ent("a/.wh..wh..opq")],
        "symlink-hardlink-dest": [ent("f", data=b"f"), ent("a", tarfile.SYMTYPE, link=sentinel),
                                  ent("a/h", tarfile.LNKTYPE, link="f")],
        "hardlink-absolute": [ent("h", tarfile.LNKTYPE, link=etc + "/passwd")],
        "hardlink-dotdot": [ent("h", tarfile.LNKTYPE, link="../fake_etc/passwd")],
        "hardlink-missing": [ent("h", tarfile.LNKTYPE, link="nothing")],
        "hardlink-missing-parent": [ent("h", tarfile.LNKTYPE, link="no/thing")],
        "hardlink-to-dir": [ent("d/", tarfile.DIRTYPE), ent("h", tarfile.LNKTYPE, link="d")],
        "hardlink-to-symlink": [ent("s", tarfile.SYMTYPE, link=etc + "/passwd"),
                                ent("h", tarfile.LNKTYPE, link="s")],
        "hardlink-to-fifo": [ent("p", tarfile.FIFOTYPE), ent("h", tarfile.LNKTYPE, link="p")],
        "hardlink-to-whiteout": [ent(".wh.w"), ent("h", tarfile.LNKTYPE, link="w")],
        "hardlink-through-symlink": [ent("a", tarfile.SYMTYPE, link=etc),
                                     ent("h", tarfile.LNKTYPE, link="a/passwd")],
        "hardlink-to-root": [ent("h", tarfile.LNKTYPE, link="./")],
        "hardlink-to-itself": [ent("h", data=b"h"), ent("h", tarfile.LNKTYPE, link="h")],
        "nul-in-name": [ent("x", data=b"x", pax={"path": "ok\x00/../../sentinel/x"})],
        "nul-in-link-target": [ent("f", data=b"f"),
                               ent("h", tarfile.LNKTYPE, pax={"linkpath": "f\x00x"})],
        "nul-in-symlink-target": [ent("s", tarfile.SYMTYPE, pax={"linkpath": "a\x00b"})],
        "xattr-opaque": [ent("d/", tarfile.DIRTYPE, pax={"SCHILY.xattr.trusted.overlay.opaque": "y"})],
        "xattr-redirect": [ent("d/", tarfile.DIRTYPE,
                               pax={"SCHILY.xattr.trusted.overlay.redirect": "/etc"})],
        "xattr-user-overlay": [ent("f", pax={"SCHILY.xattr.user.overlay.whiteout": "y"})],
        "xattr-libarchive-overlay": [ent("d/", tarfile.DIRTYPE, pax={
            "LIBARCHIVE.xattr.trusted.overlay.opaque": "eQ=="})],
        "xattr-on-whiteout": [ent("d/.wh..wh..opq", pax={"SCHILY.xattr.trusted.overlay.redirect": "/"})],
        "xattr-on-root": [ent("./", tarfile.DIRTYPE, pax={"SCHILY.xattr.trusted.overlay.opaque": "y"})],
        "whiteout-unknown-kind": [ent(".wh..wh.plnk")],
        "whiteout-of-nothing": [ent("d/.wh.")],
        "whiteout-of-dot": [ent("d/.wh..")],
        "whiteout-of-parent": [ent("d/.wh...")],
        "inside-whiteout": [ent(".wh.x/y", data=b"y")],
        "root-as-file": [ent(".", data=b"not a dir")],
        "empty-name": [ent("", data=b"x")],
        "too-long": [ent("a/" * 2100 + "f")],
    }


CASE_NAMES = sorted(cases(Path("/nonexistent")))


@pytest.mark.parametrize("case", CASE_NAMES)
def test_hostile_tar_is_refused_and_nothing_outside_changes(arena: Path, case: str) -> None:
    before = outside_state(arena)
    entries = cases(arena)[case]
    with pytest.raises(UnsafeArchive) as err:
        apply_layer(io.BytesIO(tar_of(entries)), str(arena / "dest"))
    message = str(err.value)
    assert "\n" not in message and message.startswith("layer ")
    assert os.listdir(arena / "sentinel") == []
    assert outside_state(arena) == before


def test_messages_name_the_entry(arena: Path) -> None:
    entries = cases(arena)["symlink-abs-parent"]
    with pytest.raises(UnsafeArchive, match=r"'a/passwd' passes through the symlink 'a'"):
        apply_layer(io.BytesIO(tar_of(entries)), str(arena / "dest"))


def test_file_replacing_a_symlink_does_not_write_through_it(arena: Path) -> None:
    """Not refused, but the later file replaces the link itself; the link's target is untouched."""
    before = outside_state(arena)
    etc = str(arena / "fake_etc")
    tar = tar_of([ent("passwd", tarfile.SYMTYPE, link=etc + "/passwd"), ent("passwd", data=b"mine"),
                  ent("dir", tarfile.SYMTYPE, link=etc), ent("dir/", tarfile.DIRTYPE),
                  ent("dir/shadow", data=b"mine"),
                  ent("dev", tarfile.SYMTYPE, link=etc + "/shadow"), ent("dev", tarfile.FIFOTYPE),
                  ent("link", tarfile.SYMTYPE, link=etc + "/passwd"), ent("hard", data=b"h"),
                  ent("link", tarfile.LNKTYPE, link="hard")])
    apply_layer(io.BytesIO(tar), str(arena / "dest"))
    assert (arena / "dest/passwd").read_bytes() == b"mine"
    assert not os.path.islink(arena / "dest/dir") and (arena / "dest/dir/shadow").read_bytes() == b"mine"
    assert (arena / "dest/link").read_bytes() == b"h"
    assert outside_state(arena) == before


class SwapDuringRead:
    """Reads ``data``; once ``at`` bytes are read, runs ``swap`` (a concurrent attacker).

    apply_layer reads 1 MiB at a time, so ``at`` must lie past the first MiB for the swap to come
    after the first entries were written."""

    def __init__(self, data: bytes, at: int, swap: Callable[[], None]) -> None:
        self.raw, self.at, self.swap, self.done = io.BytesIO(data), at, swap, False

    def read(self, n: int = -1) -> bytes:
        chunk = self.raw.read(n)
        if not self.done and self.raw.tell() >= self.at:
            self.done = True
            self.swap()
        return chunk


def test_directory_swapped_for_a_symlink_mid_unpack(arena: Path) -> None:
    """A racer replaces an extracted dir with a symlink outside; later entries must not follow it."""
    dest, sentinel = arena / "dest", arena / "sentinel"
    big = b"b" * (4 << 20)

    def swap() -> None:
        os.rename(dest / "d", arena / "moved-away")
        os.symlink(str(sentinel), dest / "d")

    tar = tar_of([ent("d/", tarfile.DIRTYPE), ent("d/big", data=big), ent("d/after", data=b"x"),
                  ent("d/sub/", tarfile.DIRTYPE)])
    with pytest.raises(UnsafeArchive, match="passes through the symlink 'd'"):
        apply_layer(SwapDuringRead(tar, 2 << 20, swap), str(dest))  # type: ignore[arg-type]
    assert os.listdir(sentinel) == []
    assert os.path.getsize(arena / "moved-away/big") == len(big)  # the open file was finished


def test_symlink_swapped_in_before_deferred_dir_times(arena: Path) -> None:
    """Directory mtimes are set at the end; a dir replaced by a link by then is skipped, not followed."""
    dest, sentinel = arena / "dest", arena / "sentinel"
    before = os.lstat(sentinel).st_mtime_ns

    def swap() -> None:
        os.rename(dest / "d", arena / "moved-away")
        os.symlink(str(sentinel), dest / "d")

    tar = tar_of([ent("d/", tarfile.DIRTYPE), ent("big", data=b"b" * (4 << 20))])
    apply_layer(SwapDuringRead(tar, 2 << 20, swap), str(dest))  # type: ignore[arg-type]
    assert os.lstat(sentinel).st_mtime_ns == before
