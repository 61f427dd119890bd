"""The fast layer paths end to end: import (hash once), first push (parallel gzip), pull (blocks on
their own threads). Whatever the speed work changed, the trees and digests must come out the same,
and Go's readers (skopeo, umoci) must accept the gzip berth writes."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

SKOPEO = ["skopeo", "--insecure-policy"]
NOISE = os.urandom(3 << 20)  # random: stored gzip blocks
TEXT = b"".join(b"%d compressible line\n" % i for i in range(150_000))  # ~3 MB: deflated blocks


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "",
          mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.linkname, info.size = kind, mode, 1_600_000_000, link, len(data)
    return info, data


def rootfs(path: Path) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in (
            entry("bin/", tarfile.DIRTYPE, mode=0o755),
            entry("bin/noise", data=NOISE, mode=0o755),
            entry("bin/noise-again", tarfile.LNKTYPE, link="bin/noise"),
            entry("bin/sh", tarfile.SYMTYPE, link="noise"),
            entry("etc/", tarfile.DIRTYPE, mode=0o755),
            entry("etc/text", data=TEXT),
            entry("etc/.wh.removed"),
            entry("var/", tarfile.DIRTYPE, mode=0o755),
            entry("var/.wh..wh..opq"),
        ):
            tar.addfile(info, io.BytesIO(data) if data else None)
    return path


def inspect(env, name: str) -> dict:
    return json.loads(env.berth("inspect", name).stdout)[0]


def lowerdir(env, name: str) -> Path:
    dirs = inspect(env, name)["GraphDriver"]["Data"]["LowerDir"].split(":")
    assert len(dirs) == 1
    return Path(dirs[0])


def check_tree(root: Path) -> None:
    assert (root / "bin/noise").read_bytes() == NOISE
    assert os.stat(root / "bin/noise-again").st_ino == os.stat(root / "bin/noise").st_ino
    assert os.readlink(root / "bin/sh") == "noise"
    assert (root / "etc/text").read_bytes() == TEXT
    removed = os.lstat(root / "etc/removed")
    assert stat.S_ISCHR(removed.st_mode) and removed.st_rdev == 0
    assert os.getxattr(root / "var", "trusted.overlay.opaque") == b"y"
    assert not list(root.rglob(".wh.*"))


@pytest.fixture
def second_env(berth_env):
    berth_env.base.joinpath("second").mkdir()
    return type(berth_env)(berth_env.base / "second")


def test_import_push_pull_keep_tree_and_digests(registry, berth_env, second_env, tmp_path):
    tar = rootfs(tmp_path / "rootfs.tar")
    raw = tar.read_bytes()
    name = f"{registry.host}/berth/layer-paths:v1"
    berth_env.berth("import", str(tar), name)
    imported = inspect(berth_env, name)
    # A plain tar: blob digest and DiffID are the same hash of the same bytes.
    assert imported["RootFS"]["Layers"] == ["sha256:" + hashlib.sha256(raw).hexdigest()]
    check_tree(lowerdir(berth_env, name))

    digest = berth_env.berth("push", "-q", name).stdout.decode().strip()
    manifest = json.loads(subprocess.run(
        SKOPEO + ["inspect", "--raw", "--tls-verify=false", f"docker://{name}"],
        capture_output=True, check=True).stdout)
    layer = manifest["layers"][0]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    blob = registry.blob_data_path(layer["digest"]).read_bytes()
    assert len(blob) == layer["size"] and "sha256:" + hashlib.sha256(blob).hexdigest() == layer["digest"]
    # Several blocks, one member: gzip, Python and zlib agree on the content.
    assert gzip.decompress(blob) == raw
    assert subprocess.run(["gzip", "-dc"], input=blob, capture_output=True, check=True).stdout == raw

    # Go's gzip reader (umoci, through skopeo's copy) unpacks it.
    layout = tmp_path / "layout"
    subprocess.run(SKOPEO + ["copy", "--src-tls-verify=false", f"docker://{name}", f"oci:{layout}:v1"],
                   capture_output=True, check=True)
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:v1", str(bundle)], capture_output=True,
                   check=True)
    assert (bundle / "rootfs/bin/noise").read_bytes() == NOISE
    assert (bundle / "rootfs/etc/text").read_bytes() == TEXT

    # Pulled into an empty store: same image, same DiffID, the same tree with its whiteouts.
    out = second_env.berth("pull", name).stdout.decode()
    assert f"Digest: {digest}" in out
    pulled = inspect(second_env, name)
    assert pulled["Id"] == imported["Id"] and pulled["RootFS"] == imported["RootFS"]
    check_tree(lowerdir(second_env, name))


def test_first_push_is_reproducible_across_stores(registry, berth_env, second_env, tmp_path):
    """The gzip blob's digest depends on the layer only: two stores compress it to the same bytes."""
    tar = rootfs(tmp_path / "rootfs.tar")
    digests = []
    for env, tag in ((berth_env, "one"), (second_env, "two")):
        name = f"{registry.host}/berth/reproducible:{tag}"
        env.berth("import", str(tar), name)
        env.berth("push", "-q", name)
        manifest = json.loads(subprocess.run(
            SKOPEO + ["inspect", "--raw", "--tls-verify=false", f"docker://{name}"],
            capture_output=True, check=True).stdout)
        digests.append(manifest["layers"][0]["digest"])
    assert digests[0] == digests[1]
