""".dockerignore matching (Docker's documented examples) and the context walk."""
from __future__ import annotations

import os
from pathlib import Path
from typing import List

import pytest

from berth.build import DockerIgnore
from berth.build.dockerignore import go_clean
from berth.errors import InvalidArgument

DOCS_EXAMPLE = "# comment\n*/temp*\n*/*/temp*\ntemp?\n"


@pytest.mark.parametrize("patterns, path, excluded", [
    # The Dockerfile reference's example file.
    (DOCS_EXAMPLE, "somedir/temporary.txt", True),
    (DOCS_EXAMPLE, "somedir/temp", True),
    (DOCS_EXAMPLE, "somedir/temp/inside.txt", True),
    (DOCS_EXAMPLE, "somedir/subdir/temporary.txt", True),
    (DOCS_EXAMPLE, "tempa", True),
    (DOCS_EXAMPLE, "tempb", True),
    (DOCS_EXAMPLE, "temp", False),
    (DOCS_EXAMPLE, "temporary.txt", False),
    (DOCS_EXAMPLE, "a/b/c/temp", False),
    (DOCS_EXAMPLE, "# comment", False),
    # ** matches any number of directories, including none.
    ("**/*.go", "main.go", True),
    ("**/*.go", "cmd/tool/main.go", True),
    ("**/*.go", "main.gox", False),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("a/**/b", "a/x/y/c", False),
    ("docs/**", "docs/a/b.md", True),
    ("docs/**", "docs", False),
    ("**", "anything/at/all", True),
    ("**/node_modules", "node_modules", True),
    ("**/node_modules", "web/node_modules/x/y.js", True),
    # Exceptions, last match wins.
    ("*.md\n!README.md", "README.md", False),
    ("*.md\n!README.md", "CHANGES.md", True),
    ("*.md\n!README*.md\nREADME-secret.md", "README-secret.md", True),
    ("*.md\n!README*.md\nREADME-secret.md", "README-public.md", False),
    ("*.md\nREADME-secret.md\n!README*.md", "README-secret.md", False),
    ("build\n!build/keep.txt", "build/keep.txt", False),
    ("build\n!build/keep.txt", "build/other.txt", True),
    ("build\n!build/keep.txt", "build", True),
    # Parent directories match everything below them.
    ("vendor", "vendor/github.com/x/y.go", True),
    ("vendor/", "vendor/a", True),
    ("vendor", "myvendor/a", False),
    # Cleaning: leading slash, ./, .., doubled slashes, surrounding space.
    ("/secret", "secret", True),
    ("./secret/../keys", "keys", True),
    ("a//b/", "a/b/c", True),
    ("   spaced   ", "spaced", True),
    ("*\n! spaced-exception", "spaced-exception", False),
    ("! spaced-exception\n*", "spaced-exception", True),
    # Go filepath.Match: ?, classes, negation, ranges, escapes; * never crosses /.
    ("file?.txt", "file1.txt", True),
    ("file?.txt", "file10.txt", False),
    ("*", "a/b", True),  # matches the parent "a"
    ("a/*", "a/b/c", True),
    ("a/*.txt", "a/b/c.txt", False),
    ("[a-c].log", "b.log", True),
    ("[a-c].log", "d.log", False),
    ("[^a-c].log", "d.log", True),
    ("[^a-c].log", "a.log", False),
    ("[!a].log", "!.log", True),  # Go has no ! negation: the class holds ! and a
    ("[\\]x].log", "].log", True),
    ("\\*.txt", "*.txt", True),
    ("\\*.txt", "a.txt", False),
    ("\\[x]", "[x]", True),
    ("a+b(c)|{d}$.txt", "a+b(c)|{d}$.txt", True),
    ("x.y", "xzy", False),
])
def test_matches(patterns: str, path: str, excluded: bool) -> None:
    assert DockerIgnore(patterns).matches(path) is excluded


@pytest.mark.parametrize("text, message", [
    ("ok\n[a-\n", ".dockerignore:2: bad pattern '[a-': syntax error in pattern"),
    ("[]a]", ".dockerignore:1: bad pattern '[]a]': syntax error in pattern"),
    ("[z-a]", ".dockerignore:1: bad pattern '[z-a]': syntax error in pattern"),
    ("foo\\", ".dockerignore:1: bad pattern 'foo\\\\': syntax error in pattern"),
    ("x\n\n!\n", '.dockerignore:3: illegal exclusion pattern: "!"'),
])
def test_bad_patterns(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        DockerIgnore(text)
    assert str(info.value) == message


def test_comments_blank_lines_bom_and_bytes() -> None:
    di = DockerIgnore(b"\xef\xbb\xbf# comment\n\n  \n#not-a-pattern\n  # indented is a pattern\n")
    assert [p.text for p in di.patterns] == ["# indented is a pattern"]
    assert di.matches("# indented is a pattern")
    assert not di.matches("#not-a-pattern")


@pytest.mark.parametrize("path, cleaned", [
    ("", "."), ("a//b", "a/b"), ("a/./b/", "a/b"), ("a/../../b", "../b"), ("//a", "/a"),
    ("/../a", "/a"),
])
def test_go_clean(path: str, cleaned: str) -> None:
    assert go_clean(path) == cleaned


def make_tree(root: Path, paths: List[str]) -> None:
    for rel in paths:
        target = root / rel
        if rel.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rel)


def test_walk_lists_included_paths(tmp_path: Path) -> None:
    make_tree(tmp_path, ["Dockerfile", ".dockerignore", "app.py", "README.md", "docs/a.md",
                         "build/out.bin", "build/keep/me.txt", "src/x.py", "src/x.pyc", "empty/"])
    os.symlink("/etc", tmp_path / "link")
    di = DockerIgnore("*\n!app.py\n!src\nsrc/*.pyc\n!build/keep/me.txt\n!link\n")
    assert list(di.walk(str(tmp_path))) == [
        ".dockerignore", "Dockerfile", "app.py", "build", "build/keep", "build/keep/me.txt",
        "link", "src", "src/x.py"]


def test_walk_always_sends_custom_dockerfile(tmp_path: Path) -> None:
    make_tree(tmp_path, ["ci/Dockerfile.prod", "ci/other", ".dockerignore", "x"])
    di = DockerIgnore("ci\n.dockerignore\nx\n")
    assert list(di.walk(str(tmp_path), dockerfile="./ci/Dockerfile.prod")) == [
        ".dockerignore", "ci", "ci/Dockerfile.prod"]


def test_walk_prunes_only_dirs_no_exception_can_reach(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path, ["node_modules/a/b.js", "cache/x/keep.txt", "cache/x/drop.txt",
                         "cache/y/drop.txt", "Dockerfile"])
    listed: List[str] = []
    real_scandir = os.scandir

    def recording_scandir(path: str):  # type: ignore[no-untyped-def]
        listed.append(os.path.relpath(path, tmp_path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", recording_scandir)
    di = DockerIgnore("node_modules\ncache\n!cache/x/keep.txt\n")
    assert di.may_include_below("cache") and di.may_include_below("cache/x")
    assert not di.may_include_below("cache/y") and not di.may_include_below("node_modules")
    assert list(di.walk(str(tmp_path))) == ["Dockerfile", "cache", "cache/x",
                                            "cache/x/keep.txt"]
    assert sorted(listed) == [".", "cache", "cache/x"]


def test_double_star_exception_keeps_everything_reachable() -> None:
    di = DockerIgnore("logs\n!**/important.log\n")
    assert di.may_include_below("logs")
    assert not di.matches("logs/deep/important.log")
    assert di.matches("logs/deep/other.log")
    assert not DockerIgnore("logs\n!other/x\n").may_include_below("logs")
