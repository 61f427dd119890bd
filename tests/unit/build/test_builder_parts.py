"""Pieces of the builder that need no kernel: source paths and wildcards, contexts from streams,
chown/chmod parsing, source checksums, cache keys, stage selection."""
from __future__ import annotations

import io
import os
import tarfile

import pytest

from berth.build import instructions as ins
from berth.build import parse
from berth.build.builder import Builder
from berth.build.cache import step_key
from berth.build.context import BuildContext, clean_source, match_path
from berth.build.copy import Source, checksum, is_archive, parse_chmod, resolve_chown
from berth.build.download import filename_of
from berth.errors import InvalidArgument, NotFound


def test_sources_never_leave_the_context() -> None:
    assert clean_source("a/b/../c") == "a/c"
    assert clean_source("../../etc/passwd") == "etc/passwd"
    assert clean_source("/abs/x") == "abs/x"
    assert clean_source(".") == "." and clean_source("./") == "."


def test_wildcards_follow_go_filepath_match() -> None:
    assert match_path("*.txt", "a.txt")
    assert not match_path("*.txt", "dir/a.txt")  # * never crosses a /
    assert match_path("d?r/*", "dir/x")
    assert match_path("[a-c]*", "b1") and not match_path("[^a-c]*", "b1")
    assert match_path("a\\*", "a*") and not match_path("a\\*", "ab")


def test_context_resolution_and_dockerignore(tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "keep.txt").write_text("k")
    (tmp_path / "drop.txt").write_text("d")
    (tmp_path / "link").symlink_to("/etc")
    (tmp_path / ".dockerignore").write_text("drop.txt\n")
    ctx = BuildContext.from_directory(str(tmp_path))
    assert ctx.resolve("*.txt") == ["keep.txt"]
    with pytest.raises(NotFound):
        ctx.resolve("drop.txt")
    # a symlink is followed inside the context only: /etc here is the context's etc
    with pytest.raises(NotFound):
        ctx.resolve("link/passwd")


def test_context_from_stream_tar_or_bare_dockerfile(tmp_path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in (("build/Custom", b"FROM scratch\n"), ("x", b"1")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    ctx = BuildContext.from_stream(io.BytesIO(raw.getvalue()), str(tmp_path), "build/Custom")
    try:
        assert ctx.dockerfile_text == b"FROM scratch\n" and ctx.dockerfile_name == "Custom"
        assert ctx.resolve("x") == ["x"]
    finally:
        ctx.close()
    assert not os.path.exists(ctx.root)
    bare = BuildContext.from_stream(io.BytesIO(b"FROM busybox\n"), str(tmp_path))
    assert bare.dockerfile_text == b"FROM busybox\n" and os.listdir(bare.root) == []
    bare.close()
    assert os.listdir(tmp_path) == []


def test_chmod_and_chown_parsing(tmp_path) -> None:
    assert parse_chmod("755") == 0o755 and parse_chmod("4755") == 0o4755
    for bad in ("u+x", "9", "", "77777"):
        with pytest.raises(InvalidArgument):
            parse_chmod(bad)
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1001:1002::/app:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\nstaff:x:50:\n")
    assert resolve_chown(str(tmp_path), "app") == (1001, 1001)  # GID = UID, Docker's rule
    assert resolve_chown(str(tmp_path), "app:staff") == (1001, 50)
    assert resolve_chown(str(tmp_path), "7:8") == (7, 8)
    with pytest.raises(InvalidArgument):
        resolve_chown(str(tmp_path), "ghost")
    with pytest.raises(InvalidArgument):
        resolve_chown(str(tmp_path), "app:")


def test_checksum_ignores_mtime_but_not_mode_content_or_links(tmp_path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("one")
    (src / "l").symlink_to("f")
    source = Source(str(src), "src")
    base = checksum([source])
    os.utime(src / "f", (1, 1))
    assert checksum([source]) == base
    os.chmod(src / "f", 0o600)
    changed_mode = checksum([source])
    assert changed_mode != base
    (src / "f").write_text("two")
    assert checksum([source]) not in (base, changed_mode)
    os.unlink(src / "l")
    (src / "l").symlink_to("elsewhere")
    assert len({checksum([source]), base, changed_mode}) == 3


def test_archives_are_detected_by_content(tmp_path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:xz") as tar:
        info = tarfile.TarInfo("a")
        tar.addfile(info, io.BytesIO(b""))
    (tmp_path / "data.bin").write_bytes(raw.getvalue())
    (tmp_path / "fake.tar").write_bytes(b"hello")
    assert is_archive(str(tmp_path / "data.bin"))
    assert not is_archive(str(tmp_path / "fake.tar"))


def test_step_keys_are_stable_and_sensitive() -> None:
    assert step_key("run", "sha256:a", "echo") == step_key("run", "sha256:a", "echo")
    assert step_key("run", "sha256:a", "echo") != step_key("run", "sha256:b", "echo")
    assert step_key("meta", None, {"a": 1, "b": 2}) == step_key("meta", None, {"b": 2, "a": 1})


def test_only_needed_stages_are_built() -> None:
    df = parse("FROM busybox AS a\nFROM busybox AS b\nRUN x\nFROM b AS c\nCOPY --from=0 / /\n"
               "FROM busybox AS d\n")
    assert Builder._needed(df.stages, 2) == {0, 1, 2}
    assert Builder._needed(df.stages, 3) == {3}
    df = parse("ARG S=a\nFROM busybox AS a\nFROM busybox\nCOPY --from=$S / /\n")
    assert Builder._needed(df.stages, 1) == {0, 1}


def test_url_file_names() -> None:
    assert filename_of("https://example.com/a/b/file.tar.gz?x=1") == "file.tar.gz"
    assert filename_of("http://example.com/dir/") == "dir"
    with pytest.raises(InvalidArgument):
        filename_of("http://example.com/")


def test_label_step_of_the_label_option() -> None:
    builder = Builder.__new__(Builder)
    builder.options = type("O", (), {"labels": {"b": 'say "hi"', "a": "1"}})()
    step = builder._label_step()
    assert isinstance(step, ins.Label) and step.pairs == (("a", "1"), ("b", 'say "hi"'))
    assert step.original == 'LABEL a="1" b="say \\"hi\\""'


def test_join_in_context_is_secure_join(tmp_path) -> None:
    """The plain-join shortcut gives exactly ``secure_join``'s answer, symlinks or not."""
    from berth.build.context import join_in_context
    from berth.runtime.mounts import secure_join

    root = tmp_path / "ctx"
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "dir" / "sub" / "f").write_text("f")
    (root / "file").write_text("x")
    (root / "abs").symlink_to("/dir")            # absolute: resolved inside the context
    (root / "up").symlink_to("../../../etc")     # never above the root
    (root / "dir" / "rel").symlink_to("sub")
    (root / "dir" / "sub" / "last").symlink_to("/file")
    (root / "loop").symlink_to("loop")
    cases = [".", "file", "dir", "dir/sub/f", "missing", "missing/deeper", "file/below",
             "abs", "abs/sub/f", "up", "up/passwd", "dir/rel/f", "dir/sub/last", "dir/./sub",
             "dir/../file"]
    for rel in cases:
        assert join_in_context(str(root), rel) == secure_join(str(root), rel), rel
    with pytest.raises(OSError):
        secure_join(str(root), "loop")
    with pytest.raises(OSError):
        join_in_context(str(root), "loop")


def test_the_builders_default_path_is_the_runtimes() -> None:
    from berth.build.builder import DEFAULT_PATH
    from berth.runtime.spec import DEFAULT_PATH as RUNTIME_DEFAULT_PATH

    assert DEFAULT_PATH == RUNTIME_DEFAULT_PATH
