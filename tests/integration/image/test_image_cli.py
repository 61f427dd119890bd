"""The image verbs as a user runs them: images, tag, rmi, history, inspect, import, prune."""
from __future__ import annotations

import io
import json
import os
import tarfile

from image_helpers import inspect


def _tar(entries: list[tuple[str, bytes | None, str]]) -> bytes:
    """A tar of (name, data, symlink target) entries; data None with a target makes a symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, target in entries:
            info = tarfile.TarInfo(name)
            if target:
                info.type = tarfile.SYMTYPE
                info.linkname = target
                tar.addfile(info)
            else:
                info.size = len(data or b"")
                tar.addfile(info, io.BytesIO(data or b""))
    return buf.getvalue()


def test_images_history_inspect_show_the_imported_image(berth_env, busybox) -> None:
    table = berth_env.berth("images").stdout.decode().splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert table[1].split()[:3] == ["busybox", "latest", busybox[7:19]]
    rows = [json.loads(line) for line in berth_env.berth("images", "--format", "json").stdout.splitlines()]
    assert [(r["Repository"], r["Tag"]) for r in rows] == [("busybox", "latest")]
    assert berth_env.berth("images", "--format", "{{.Repository}}:{{.Tag}}").stdout == b"busybox:latest\n"
    history = berth_env.berth("history", "busybox").stdout.decode().splitlines()
    assert history[0].split()[:2] == ["IMAGE", "CREATED"]
    assert history[1].startswith(busybox[7:19]) and "busybox from Debian" in history[1]
    doc = inspect(berth_env, "busybox")
    assert doc["Id"] == busybox and doc["RepoTags"] == ["busybox:latest"]
    assert doc["Os"] == "linux" and doc["RootFS"]["Type"] == "layers" and len(doc["RootFS"]["Layers"]) == 1
    assert doc["Size"] > 1_000_000
    lower = doc["GraphDriver"]["Data"]["LowerDir"]
    assert os.path.isfile(os.path.join(lower, "bin", "busybox"))
    assert berth_env.berth("inspect", "-f", "{{.Os}}/{{json .RepoTags}}", busybox[7:19]).stdout == \
        b'linux/["busybox:latest"]\n'


def test_import_applies_changes(berth_env, busybox_rootfs_tar) -> None:
    berth_env.berth("import", "-c", "CMD [\"httpd\", \"-f\"]", "-c", "ENV A=1 B=two", "-c", "EXPOSE 80",
                    "-c", "WORKDIR /www", "-c", "LABEL team=web", busybox_rootfs_tar, "web:1")
    config = inspect(berth_env, "web:1")["Config"]
    assert config["Cmd"] == ["httpd", "-f"]
    assert config["Env"] == ["A=1", "B=two"]
    assert config["ExposedPorts"] == {"80/tcp": {}}
    assert config["WorkingDir"] == "/www"
    assert config["Labels"] == {"team": "web"}


def test_tags_untag_and_delete_like_docker(berth_env, busybox) -> None:
    berth_env.berth("tag", "busybox", "bb:one")
    berth_env.berth("tag", busybox[7:19], "registry.example:5000/bb:two")
    refused = berth_env.berth("rmi", busybox[7:19], check=False)
    assert refused.returncode != 0 and b"must be forced" in refused.stderr
    assert berth_env.berth("rmi", "bb:one").stdout == b"Untagged: bb:one\n"
    out = berth_env.berth("rmi", "-f", busybox).stdout.decode().splitlines()
    assert "Untagged: busybox:latest" in out and "Untagged: registry.example:5000/bb:two" in out
    assert f"Deleted: {busybox}" in out
    assert berth_env.berth("images", "-q").stdout == b""
    missing = berth_env.berth("rmi", "busybox", check=False)
    assert missing.returncode != 0 and missing.stderr == b"Error: No such image: busybox\n"


def test_dangling_images_are_listed_and_pruned(berth_env, busybox, busybox_rootfs_tar) -> None:
    second = berth_env.berth("import", "-m", "second", busybox_rootfs_tar, "busybox").stdout.decode().strip()
    assert second != busybox  # a new "created" time gives a new config, so a new ID
    dangling = berth_env.berth("images", "-f", "dangling=true", "-q").stdout.decode().split()
    assert dangling == [busybox[7:19]]
    out = berth_env.berth("image", "prune", "-f").stdout.decode()
    assert busybox in out
    assert berth_env.berth("images", "-q").stdout.decode().split() == [second[7:19]]
    # the layer is shared: pruning the old image must not remove the snapshot the new one uses
    assert os.path.isfile(os.path.join(inspect(berth_env, "busybox")["GraphDriver"]["Data"]["LowerDir"],
                                       "bin", "busybox"))


def test_hostile_rootfs_is_rejected_and_nothing_is_written(berth_env, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    cases = [
        _tar([("../../x", b"evil", "")]),
        _tar([("/etc/x", b"evil", "")]),
        _tar([("a", None, str(outside)), ("a/passwd", b"evil", "")]),
    ]
    for data in cases:
        path = tmp_path / "evil.tar"
        path.write_bytes(data)
        proc = berth_env.berth("import", str(path), "evil", check=False)
        assert proc.returncode == 125, proc.stderr
        assert len(proc.stderr.decode().strip().splitlines()) == 1
        assert os.listdir(outside) == []
    assert berth_env.berth("images", "-q").stdout == b""
    assert [n for n in os.listdir(berth_env.root / "snapshots") if not n.startswith(".")] == []
    assert os.listdir(berth_env.root / "blobs" / "sha256") == []


def test_bad_input_fails_with_one_line(berth_env, tmp_path) -> None:
    for args in (["inspect", "nothing"], ["tag", "nothing", "x"], ["import", str(tmp_path / "none")],
                 ["load", "-i", str(tmp_path / "none")], ["tag", "x", "UPPER"],
                 ["save", "--format", "oci", "nothing"]):
        proc = berth_env.berth(*args, check=False)
        assert proc.returncode in (1, 125), args
        assert len(proc.stderr.decode().strip().splitlines()) == 1, (args, proc.stderr)
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"not a tar at all" * 100)
    proc = berth_env.berth("load", "-i", str(garbage), check=False)
    assert proc.returncode == 125 and proc.stderr.startswith(b"Error: ")
