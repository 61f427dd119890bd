from __future__ import annotations

import pytest

from berth.errors import InvalidArgument
from berth.image import reference

H = "a" * 64


@pytest.mark.parametrize("text, full, familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/user/app:v1", "docker.io/user/app:v1", "user/app:v1"),
    ("user/app", "docker.io/user/app:latest", "user/app:latest"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000/a/b:t"),
    ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest"),
    ("quay.io/org/img@sha256:" + H, "quay.io/org/img@sha256:" + H, "quay.io/org/img@sha256:" + H),
    ("busybox:tag@sha256:" + H, "docker.io/library/busybox:tag@sha256:" + H,
     "busybox:tag@sha256:" + H),
    ("a__b-c/e---f.g", "docker.io/a__b-c/e---f.g:latest", "a__b-c/e---f.g:latest"),
    ("my.host/x", "my.host/x:latest", "my.host/x:latest"),
])
def test_normalises_like_docker(text: str, full: str, familiar: str) -> None:
    ref = reference.parse(text)
    assert str(ref) == full
    assert ref.familiar == familiar


@pytest.mark.parametrize("text", [
    "", "Busybox", "busybox:", ":tag", "busy box", "a/../b", "-a", "a//b", "a:b:c",
    "busybox@sha256:abc", "busybox@md5:" + H, "x" * 256, "a/b/" + "C", "tag:" + "t" * 129,
])
def test_rejects_malformed(text: str) -> None:
    with pytest.raises(InvalidArgument):
        reference.parse(text)


def test_ids_and_prefixes() -> None:
    assert reference.parse_id(H) == "sha256:" + H
    assert reference.parse_id("sha256:" + H) == "sha256:" + H
    assert reference.parse_id("abc") is None
    assert reference.id_prefix("abc123") == "abc123"
    assert reference.id_prefix("sha256:abc") == "abc"
    assert reference.id_prefix("busybox") is None


def test_uppercase_error_names_the_rule() -> None:
    with pytest.raises(InvalidArgument, match="must be lowercase"):
        reference.parse("BusyBox")
