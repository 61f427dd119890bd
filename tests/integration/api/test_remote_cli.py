"""``berth -H`` verbs that send a body to berthd: import (a file by sendfile, a pipe chunked) and
build (the context directory as a tar; the daemon applies .dockerignore and caches steps)."""
from __future__ import annotations


def test_berth_host_import(berthd, busybox_rootfs_tar):
    env = berthd.env
    out = env.berth("--host", berthd.host, "import", busybox_rootfs_tar, "imported:1")
    assert out.stdout.decode().strip().startswith("sha256:")
    with open(busybox_rootfs_tar, "rb") as f:  # a pipe: sent chunked
        piped = env.berth("--host", berthd.host, "import", "-", "imported:2", input=f.read())
    assert piped.stdout.decode().strip().startswith("sha256:")
    images = env.berth("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.decode().split()
    assert {"imported:1", "imported:2"} <= set(images)
    bad = env.berth("--host", berthd.host, "import", "/nonexistent.tar", "x:1", check=False)
    assert bad.returncode != 0 and b"no such file" in bad.stderr


def test_berth_host_build_context_ignore_and_cache(berthd, tmp_path):
    env = berthd.env
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY . /ctx/\nRUN cat /ctx/data.txt > /copied\n")
    (ctx / "data.txt").write_text("some data\n")
    (ctx / "secret.txt").write_text("not sent to the image\n")
    (ctx / ".dockerignore").write_text("secret.txt\n")
    host = ["--host", berthd.host]
    first = env.berth(*host, "build", "-t", "remote:1", str(ctx))
    assert b"Successfully tagged remote:1" in first.stdout
    again = env.berth(*host, "build", "-t", "remote:1", str(ctx))
    assert again.stdout.count(b"Using cache") == 2
    listing = env.berth(*host, "run", "--rm", "--network", "none", "remote:1", "sh", "-c",
                        "ls -a /ctx; cat /copied").stdout.decode().split()
    assert "secret.txt" not in listing and "data.txt" in listing and "some" in listing
    # a Dockerfile outside the context, and -q printing only the image ID
    outside = tmp_path / "Other.dockerfile"
    outside.write_text("FROM busybox\nCOPY data.txt /d\n")
    quiet = env.berth(*host, "build", "-q", "-f", str(outside), str(ctx))
    assert quiet.stdout.decode().strip().startswith("sha256:")
    failed = env.berth(*host, "build", "-f", str(outside), str(tmp_path / "missing"), check=False)
    assert failed.returncode != 0 and b"not found" in failed.stderr
