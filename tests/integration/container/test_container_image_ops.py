"""commit, export, top, stats: a container's filesystem and processes seen from outside."""
from __future__ import annotations

import io
import tarfile


def test_commit_then_run_the_committed_image_sees_the_file(ctr) -> None:
    ctr.run_d("--name", "src", "busybox", "sh", "-c", "echo committed > /hello.txt; sleep 1000")
    ctr.wait_for(lambda: ctr("exec", "src", "test", "-f", "/hello.txt", check=False).returncode == 0,
                 "the file")
    image_id = ctr.out("commit", "-a", "Jane <jane@example.com>", "-m", "add hello", "src",
                       "snap:v1").strip()
    assert image_id.startswith("sha256:")
    assert ctr.inspect("src")["State"]["Running"]  # commit pauses and resumes
    assert ctr.out("run", "--rm", "snap:v1", "cat", "/hello.txt") == "committed\n"
    doc = ctr.inspect("snap:v1")
    assert doc["Author"] == "Jane <jane@example.com>"
    assert len(doc["RootFS"]["Layers"]) == 2
    assert doc["Parent"] == ctr.image_id or doc.get("Parent", "") in ("", ctr.image_id)
    history = ctr.out("history", "--no-trunc", "snap:v1")
    assert "add hello" in history


def test_commit_with_changes(ctr) -> None:
    ctr("create", "--name", "base", "busybox", "true")
    ctr("commit", "-c", "CMD [\"echo\", \"from-cmd\"]", "-c", "ENV GREETING=hi", "base", "changed")
    assert ctr.out("run", "--rm", "changed") == "from-cmd\n"
    assert ctr.out("run", "--rm", "changed", "sh", "-c", "echo $GREETING") == "hi\n"


def test_export_contains_the_containers_file(ctr, tmp_path) -> None:
    ctr("run", "--name", "exp", "busybox", "sh", "-c", "mkdir /out && echo exported > /out/f")
    streamed = ctr("export", "exp").stdout
    with tarfile.open(fileobj=io.BytesIO(streamed)) as tar:
        names = tar.getnames()
        assert "out/f" in names and "bin/busybox" in names
        assert tar.extractfile("out/f").read() == b"exported\n"
        assert tar.getmember("bin/sh").issym()
    target = tmp_path / "exp.tar"
    ctr("export", "-o", str(target), "exp")
    with tarfile.open(target) as tar:
        assert "out/f" in tar.getnames()


def test_top_and_stats(ctr) -> None:
    cid = ctr.run_d("--name", "busy", "-m", "64m", "busybox", "sh", "-c",
                    "sleep 1000 & sleep 2000; echo done")
    ctr.wait_for(lambda: len(ctr.out("top", "busy").splitlines()) == 4, "both sleeps")
    table = ctr.out("top", "busy").splitlines()
    assert table[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    commands = sorted(line.split(None, 7)[7] for line in table[1:])
    assert commands == ["sh -c sleep 1000 & sleep 2000; echo done", "sleep 1000", "sleep 2000"]
    stats = ctr.out("stats", "--no-stream", "busy").splitlines()
    assert stats[0].startswith("CONTAINER ID")
    row = stats[1].split()
    assert row[0] == cid[:12] and row[1] == "busy"
    assert "64MiB" in stats[1] and row[-1] == "3"
    assert ctr("top", "nosuch", check=False).returncode == 125
