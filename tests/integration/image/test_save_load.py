"""Round trips through every archive format, and interoperability with skopeo."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from image_helpers import inspect

needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")


def _layers(env, name: str) -> list[str]:
    return inspect(env, name)["RootFS"]["Layers"]


@pytest.mark.parametrize("fmt", ["docker-archive", "oci", "oci-archive"])
def test_save_rmi_load_gives_the_same_image(berth_env, busybox, tmp_path, fmt) -> None:
    before = inspect(berth_env, "busybox")
    berth_env.berth("tag", "busybox", "example.com/team/bb:v1")
    target = tmp_path / ("layout" if fmt == "oci" else "image.tar")
    berth_env.berth("save", "--format", fmt, "-o", str(target), "busybox", "example.com/team/bb:v1")
    berth_env.berth("rmi", "busybox", "example.com/team/bb:v1")
    assert berth_env.berth("images", "-q").stdout == b""
    assert os.listdir(berth_env.root / "snapshots") == []  # rmi removed the content too
    out = berth_env.berth("load", "-i", str(target)).stdout.decode()
    assert "Loaded image: busybox:latest" in out
    assert "Loaded image: example.com/team/bb:v1" in out
    after = inspect(berth_env, "busybox")
    assert after["Id"] == before["Id"] == busybox
    assert after["RootFS"]["Layers"] == before["RootFS"]["Layers"]
    assert inspect(berth_env, "example.com/team/bb:v1")["Id"] == busybox


def test_load_from_stdin_and_save_to_stdout(berth_env, busybox) -> None:
    archive = berth_env.berth("save", "busybox").stdout
    berth_env.berth("rmi", "busybox")
    out = berth_env.berth("load", input=archive).stdout.decode()
    assert out.strip() == "Loaded image: busybox:latest"
    assert inspect(berth_env, "busybox")["Id"] == busybox


@needs_skopeo
def test_skopeo_reads_berth_archives(berth_env, busybox, tmp_path) -> None:
    layout = tmp_path / "layout"
    archive = tmp_path / "image.tar"
    berth_env.berth("save", "--format", "oci", "-o", str(layout), "busybox")
    berth_env.berth("save", "-o", str(archive), "busybox")
    layers = _layers(berth_env, "busybox")
    # oci -> oci keeps the config bytes; docker-archive -> oci makes skopeo re-encode the config
    # as an OCI config (new digest), so there only the layers must match.
    for source, dest, same_config in ((f"oci:{layout}:latest", tmp_path / "copy1", True),
                                      (f"docker-archive:{archive}", tmp_path / "copy2", False)):
        subprocess.run(["skopeo", "copy", "--quiet", source, f"oci:{dest}:latest"], check=True,
                       capture_output=True)
        index = json.loads((dest / "index.json").read_text())
        manifest_digest = index["manifests"][0]["digest"]
        manifest = json.loads((dest / "blobs" / "sha256" / manifest_digest[7:]).read_text())
        config = json.loads((dest / "blobs" / "sha256" / manifest["config"]["digest"][7:]).read_text())
        assert (manifest["config"]["digest"] == busybox) == same_config
        assert config["rootfs"]["diff_ids"] == layers
    info = subprocess.run(["skopeo", "inspect", f"docker-archive:{archive}"], check=True,
                          capture_output=True, text=True)
    assert json.loads(info.stdout)["Layers"]


@needs_skopeo
def test_berth_loads_what_skopeo_wrote(berth_env, busybox, tmp_path) -> None:
    archive = tmp_path / "image.tar"
    berth_env.berth("save", "-o", str(archive), "busybox")
    ours = tmp_path / "berth-layout"
    berth_env.berth("save", "--format", "oci", "-o", str(ours), "busybox")
    layout = tmp_path / "skopeo-layout"
    subprocess.run(["skopeo", "copy", "--quiet", f"oci:{ours}:latest",
                    f"oci:{layout}:example.com/from/skopeo:1"], check=True, capture_output=True)
    oci_archive = tmp_path / "skopeo-oci.tar"
    subprocess.run(["skopeo", "copy", "--quiet", f"docker-archive:{archive}",
                    f"oci-archive:{oci_archive}:skopeo/archive:2"], check=True, capture_output=True)
    berth_env.berth("rmi", "busybox")
    assert "Loaded image: example.com/from/skopeo:1" in berth_env.berth("load", "-i", str(layout)).stdout.decode()
    assert "Loaded image: skopeo/archive:2" in berth_env.berth("load", "-i", str(oci_archive)).stdout.decode()
    assert inspect(berth_env, "example.com/from/skopeo:1")["Id"] == busybox
    converted = inspect(berth_env, "skopeo/archive:2")  # skopeo re-encoded the config as OCI
    assert converted["RootFS"]["Layers"] == inspect(berth_env, "example.com/from/skopeo:1")["RootFS"]["Layers"]
    assert converted["Comment"] == "busybox from Debian"


def test_load_rejects_a_tampered_layer(berth_env, busybox, tmp_path) -> None:
    layout = tmp_path / "layout"
    berth_env.berth("save", "--format", "oci", "-o", str(layout), "busybox")
    berth_env.berth("rmi", "busybox")
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_text())
    blob = layout / "blobs/sha256" / manifest["layers"][0]["digest"][7:]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    out = berth_env.berth("load", "-i", str(layout), check=False)
    assert out.returncode == 125
    assert b"Error:" in out.stderr and len(out.stderr.decode().strip().splitlines()) == 1
    assert berth_env.berth("images", "-q").stdout == b""
    assert not [n for n in os.listdir(berth_env.root / "snapshots") if not n.startswith(".")]
