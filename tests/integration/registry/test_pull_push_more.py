"""berth login/logout with an htpasswd registry, docker.io mirrors, multi-platform indexes pushed by
skopeo, and a 200 MB image."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from registry_helpers import free_port
from test_pull_push import SKOPEO, import_random, inspect

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def empty_env(berth_env):
    base = berth_env.base / "second"
    base.mkdir()
    return type(berth_env)(base)


# -- authentication ----------------------------------------------------------------------------
def test_push_needs_login_and_fails_again_after_logout(auth_registry, berth_env, busybox):
    host = auth_registry.host
    name = f"{host}/berth/private:v1"
    berth_env.berth("tag", "busybox", name)
    proc = berth_env.berth("push", name, check=False)
    assert proc.returncode == 125
    err = proc.stderr.decode()
    assert err.startswith("Error: authentication required for") and len(err.strip().splitlines()) == 1

    proc = berth_env.berth("login", "-u", "alice", "--password-stdin", host, input=b"wrong\n", check=False)
    assert proc.returncode == 125 and b"authentication required" in proc.stderr
    assert not (berth_env.config / "config.json").exists()  # nothing stored for bad credentials

    password = auth_registry.users["alice"]
    out = berth_env.berth("login", "-u", "alice", "--password-stdin", host, input=password.encode() + b"\n")
    assert out.stdout == b"Login Succeeded\n"
    auths = json.loads((berth_env.config / "config.json").read_text())["auths"]
    assert auths[host]["auth"] == "YWxpY2U6czNjcmV0IHBhc3M="  # base64("alice:s3cret pass")
    assert (berth_env.config / "config.json").stat().st_mode & 0o777 == 0o600

    digest = berth_env.berth("push", "-q", name).stdout.decode().strip()
    berth_env.berth("rmi", name)
    out = berth_env.berth("pull", name).stdout.decode()
    assert f"Digest: {digest}" in out

    assert berth_env.berth("logout", host).stdout.decode() == f"Removing login credentials for {host}\n"
    assert berth_env.berth("logout", host).stdout.decode() == f"Not logged in to {host}\n"
    berth_env.berth("tag", name, f"{host}/berth/private:v2")
    proc = berth_env.berth("push", f"{host}/berth/private:v2", check=False)
    assert proc.returncode == 125 and b"authentication required" in proc.stderr
    proc = berth_env.berth("pull", f"{host}/berth/private:v1", check=False)
    assert proc.returncode == 125 and b"authentication required" in proc.stderr


def test_login_without_password_on_a_pipe_is_refused(berth_env):
    proc = berth_env.berth("login", "-u", "alice", "127.0.0.1:1", check=False)
    assert proc.returncode == 125 and b"non TTY" in proc.stderr


# -- mirrors -----------------------------------------------------------------------------------
def _publish_as_busybox(registry, berth_env) -> str:
    """The local registry plays docker.io: it holds library/busybox:latest."""
    name = f"{registry.host}/library/busybox:latest"
    berth_env.berth("tag", "busybox", name)
    return berth_env.berth("push", "-q", name).stdout.decode().strip()


@pytest.mark.parametrize("dead_first", [False, True], ids=["mirror", "dead-mirror-first"])
def test_busybox_pull_uses_the_configured_mirror(registry, berth_env, busybox, empty_env, dead_first):
    digest = _publish_as_busybox(registry, berth_env)
    mirrors = [f"http://{registry.host}"]
    if dead_first:
        mirrors.insert(0, f"http://127.0.0.1:{free_port()}")
    (empty_env.config / "daemon.json").write_text(json.dumps({"registry-mirrors": mirrors}))
    out = empty_env.berth("pull", "busybox").stdout.decode()
    assert "latest: Pulling from library/busybox" in out
    assert f"Digest: {digest}" in out
    assert out.strip().splitlines()[-1] == "docker.io/library/busybox:latest"
    pulled = inspect(empty_env, "busybox")
    assert pulled["Id"] == busybox
    assert pulled["RepoTags"] == ["busybox:latest"]
    assert pulled["RepoDigests"] == [f"busybox@{digest}"]


# -- multi-platform indexes written by skopeo --------------------------------------------------
def _blob(layout: Path, data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (layout / "blobs/sha256" / digest[7:]).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _two_platform_layout(berth_env, busybox: str, tmp_path: Path) -> tuple[Path, str]:
    """An OCI layout whose tag "multi" is an index: busybox for linux/amd64 and a random-data image
    for linux/arm64/v8. Returns the layout and the arm64 image's config digest."""
    layout = tmp_path / "multi-layout"
    berth_env.berth("save", "--format", "oci", "-o", str(layout), "busybox")
    index = json.loads((layout / "index.json").read_text())
    amd64 = dict(index["manifests"][0])
    amd64.pop("annotations", None)
    amd64["platform"] = {"os": "linux", "architecture": "amd64"}

    import_random(berth_env, tmp_path, "arm-data:v1", size=64 * 1024)
    arm_layout = tmp_path / "arm-layout"
    berth_env.berth("save", "--format", "oci", "-o", str(arm_layout), "arm-data:v1")
    arm_entry = json.loads((arm_layout / "index.json").read_text())["manifests"][0]
    arm_manifest = json.loads((arm_layout / "blobs/sha256" / arm_entry["digest"][7:]).read_bytes())
    arm_config = json.loads((arm_layout / "blobs/sha256" / arm_manifest["config"]["digest"][7:]).read_bytes())
    arm_config.update(architecture="arm64", variant="v8")
    for d in arm_manifest["layers"]:
        (layout / "blobs/sha256" / d["digest"][7:]).write_bytes(
            (arm_layout / "blobs/sha256" / d["digest"][7:]).read_bytes())
    config_desc = _blob(layout, json.dumps(arm_config).encode())
    arm_manifest["config"].update(config_desc)
    arm = {"mediaType": OCI_MANIFEST, **_blob(layout, json.dumps(arm_manifest).encode()),
           "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
    inner = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [arm, amd64]}
    entry = {"mediaType": OCI_INDEX, **_blob(layout, json.dumps(inner).encode()),
             "annotations": {"org.opencontainers.image.ref.name": "multi"}}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    return layout, config_desc["digest"]


def test_pull_multi_platform_index_pushed_by_skopeo(registry, berth_env, busybox, empty_env, tmp_path):
    layout, arm_config = _two_platform_layout(berth_env, busybox, tmp_path)
    name = f"{registry.host}/berth/multi:v1"
    subprocess.run(SKOPEO + ["copy", "--all", "--dest-tls-verify=false", f"oci:{layout}:multi",
                             f"docker://{name}"], capture_output=True, check=True)
    raw = subprocess.run(SKOPEO + ["inspect", "--raw", "--tls-verify=false", f"docker://{name}"],
                         capture_output=True, check=True).stdout
    assert json.loads(raw)["mediaType"] == OCI_INDEX
    index_digest = "sha256:" + hashlib.sha256(raw).hexdigest()

    out = empty_env.berth("pull", name).stdout.decode()  # this host: linux/amd64
    assert f"Digest: {index_digest}" in out
    host_image = inspect(empty_env, name)
    assert host_image["Id"] == busybox
    assert host_image["RepoDigests"] == [f"{name.rsplit(':', 1)[0]}@{index_digest}"]
    # The index is kept: berth can name the image by the digest the tag resolved to.
    assert inspect(empty_env, f"{name.rsplit(':', 1)[0]}@{index_digest}")["Id"] == busybox

    empty_env.berth("pull", "--platform", "linux/arm64", name)
    arm = inspect(empty_env, name)
    assert arm["Id"] == arm_config and arm["Architecture"] == "arm64"
    proc = empty_env.berth("pull", "--platform", "linux/s390x", name, check=False)
    assert proc.returncode == 125 and b"no matching manifest for linux/s390x" in proc.stderr


# -- a big image -------------------------------------------------------------------------------
BIG = 200 * 1000 * 1000


def test_200mb_image_pushes_and_pulls(registry, berth_env, empty_env, tmp_path):
    name = f"{registry.host}/berth/big:v1"
    started = time.monotonic()
    image_id = import_random(berth_env, tmp_path, name, size=BIG)
    os.unlink(next(tmp_path.glob("*.tar")))
    digest = berth_env.berth("push", "-q", name, timeout=600).stdout.decode().strip()
    out = empty_env.berth("pull", name, timeout=600).stdout.decode()
    assert f"Digest: {digest}" in out
    pulled = inspect(empty_env, name)
    assert pulled["Id"] == image_id
    lower = pulled["GraphDriver"]["Data"]["LowerDir"]
    assert os.path.getsize(os.path.join(lower, "data/random.bin")) == BIG
    print(f"200 MB import+push+pull: {time.monotonic() - started:.1f}s")


# -- Docker v2 manifests, interrupted pulls ----------------------------------------------------
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def test_docker_v2_manifest_is_pulled_and_pushed_again_unchanged(registry, berth_env, busybox, empty_env,
                                                                 tmp_path):
    layout = tmp_path / "layout"
    berth_env.berth("save", "--format", "oci", "-o", str(layout), "busybox")
    name = f"{registry.host}/berth/v2s2:v1"
    subprocess.run(SKOPEO + ["copy", "--format", "v2s2", "--dest-tls-verify=false",
                             f"oci:{layout}:latest", f"docker://{name}"], capture_output=True, check=True)
    raw = subprocess.run(SKOPEO + ["inspect", "--raw", "--tls-verify=false", f"docker://{name}"],
                         capture_output=True, check=True).stdout
    assert json.loads(raw)["mediaType"] == DOCKER_MANIFEST
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    out = empty_env.berth("pull", name).stdout.decode()
    assert f"Digest: {digest}" in out
    assert inspect(empty_env, name)["Id"] == busybox
    # Pushed elsewhere, the stored manifest is sent as it came, with its own Content-Type.
    copy = f"{registry.host}/berth/v2s2-copy:v1"
    empty_env.berth("tag", name, copy)
    assert empty_env.berth("push", "-q", copy).stdout.decode().strip() == digest
    again = subprocess.run(SKOPEO + ["inspect", "--raw", "--tls-verify=false", f"docker://{copy}"],
                           capture_output=True, check=True).stdout
    assert again == raw


def test_interrupted_pull_continues_where_it_stopped(registry, berth_env, tmp_path):
    from registry_helpers import make_image
    from test_pull_push import Recorder

    from berth.errors import DigestMismatch
    from berth.image import ImageStore
    from berth.registry import RegistryClient, push_blob
    from berth.registry.pull import pull
    from berth.store.blobs import BlobStore

    scratch = BlobStore(str(tmp_path / "scratch"))
    sample = make_image(scratch, big_layer_size=256 * 1024, seed="resume")
    repo = "berth/resume"
    with RegistryClient(registry.host) as client:
        for digest in sample.blobs:
            push_blob(client, scratch, repo, digest)
        client.put_manifest(repo, "v1", sample.manifest, OCI_MANIFEST)
    (small, _small_size), (big, _big_size) = sample.layers
    data = registry.blob_data_path(big)
    good = data.read_bytes()
    data.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # the pull dies on the second layer

    images = ImageStore()
    try:
        name = f"{registry.host}/{repo}:v1"
        with pytest.raises(DigestMismatch, match="hashes to|verification"):
            pull(images, name, workers=1)
        assert images.all() == []
        assert images.store.blobs.exists(small) and not images.store.blobs.exists(big)
        data.write_bytes(good)
        progress = Recorder()
        image = pull(images, name, progress=progress, workers=1)
        assert (small[7:19], "Already exists") in progress.events
        assert (big[7:19], "Pull complete") in progress.events
        assert image.manifest_digest == sample.manifest_digest
        assert [layer.blob_digest for layer in image.layers] == [small, big]
    finally:
        images.store.close()
