"""Builds that must fail: one line naming the Dockerfile line, exit code 1, nothing left behind."""
from __future__ import annotations

import io
import tarfile

import pytest
from build_helpers import BuildEnv


def hostile_tar() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("../../escape.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    return raw.getvalue()


NEGATIVE = [
    ("unknown-instruction", "FROM busybox\nFROBNICATE x\n", {}, (),
     "Dockerfile:2: FROBNICATE: unknown instruction: FROBNICATE"),
    ("run-exit-code", "FROM busybox\nLABEL a=b\nRUN echo partial > /p; exit 3\n", {}, (),
     "Dockerfile:3: RUN: The command '/bin/sh -c echo partial > /p; exit 3' returned a "
     "non-zero code: 3"),
    ("copy-missing-source", "FROM busybox\n\nCOPY nothere /x\n", {}, (),
     "Dockerfile:3: COPY: file not found in build context or excluded by .dockerignore"),
    ("copy-excluded-source", "FROM busybox\nCOPY secret /x\n",
     {"secret": "s", ".dockerignore": "secret\n"}, (),
     "Dockerfile:2: COPY: file not found in build context or excluded by .dockerignore"),
    ("copy-several-to-file", "FROM busybox\nCOPY a b /dest\n", {"a": "1", "b": "2"}, (),
     "Dockerfile:2: COPY: When using COPY with more than one source file, the destination "
     "must be a directory and end with a /"),
    ("copy-outside-context-is-clamped", "FROM busybox\nCOPY ../../etc/passwd /p\n", {}, (),
     "Dockerfile:2: COPY: file not found in build context"),
    ("chown-unknown-user", "FROM busybox\nCOPY --chown=nosuchuser a /a\n", {"a": "1"}, (),
     "Dockerfile:2: COPY: unable to convert user 'nosuchuser' to an ID"),
    ("bad-chmod", "FROM busybox\nCOPY --chmod=u+x a /a\n", {"a": "1"}, (),
     "Dockerfile:2: COPY: invalid chmod parameter"),
    ("from-missing-stage-image", "FROM localhost:1/nothing:latest\n", {}, (),
     "Dockerfile:1: FROM: pull access denied for localhost:1/nothing:latest"),
    ("bad-stopsignal", "FROM busybox\nSTOPSIGNAL SIGNOPE\n", {}, (),
     "Dockerfile:2: STOPSIGNAL: Invalid signal: SIGNOPE"),
    ("bad-expose", "FROM busybox\nEXPOSE 80/icmp\n", {}, (),
     "Dockerfile:2: EXPOSE: invalid proto: icmp"),
    ("run-on-scratch", "FROM scratch\nRUN true\n", {}, (),
     "Dockerfile:2: RUN: cannot RUN in a stage with no filesystem"),
    ("add-hostile-tar", "FROM busybox\nADD evil.tar /x/\n", {"evil.tar": hostile_tar()}, (),
     "Dockerfile:2: ADD: layer entry '../../escape.txt' has a '..' component"),
    ("empty-scratch", "FROM scratch\n", {}, (),
     "No image was generated. Is your Dockerfile empty?"),
    ("unknown-target", "FROM busybox AS a\n", {}, ("--target", "b"),
     "target stage 'b' could not be found"),
    ("unterminated-heredoc", "FROM busybox\nRUN <<EOF\necho\n", {}, (),
     "Dockerfile:2: RUN: unterminated heredoc"),
    ("bad-substitution", "FROM busybox\nENV A=${B:?required}\n", {}, (),
     "Dockerfile:2: ENV: failed to process"),
]


@pytest.mark.parametrize("dockerfile,files,flags,message",
                         [pytest.param(*c[1:], id=c[0]) for c in NEGATIVE])
def test_failing_build(bb: BuildEnv, dockerfile: str, files: dict, flags: tuple,
                       message: str) -> None:
    images_before = bb.image_ids()
    ctx = bb.context(dockerfile, files)
    proc = bb.build(ctx, *flags, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1, (proc.returncode, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    # whatever the failed build made is gone: images, containers (checked at teardown too)
    assert bb.image_ids() == images_before
    assert bb.container_ids() == []


def test_failed_run_shows_its_output_and_no_partial_layer(bb: BuildEnv) -> None:
    ctx = bb.context("FROM busybox\nRUN echo before-failing; exit 7\n")
    proc = bb.build(ctx, check=False)
    assert proc.returncode == 1
    assert b"before-failing" in proc.stdout
    assert b"returned a non-zero code: 7" in proc.stderr
    assert not list((bb.root / "builds").iterdir())
