"""berth pull / push against a real docker-registry, with skopeo as the interop oracle."""
from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import requests

from berth.image import ImageStore
from berth.registry.progress import Progress
from berth.registry.pull import pull
from berth.registry.push import push
from berth.registry.records import Records

SKOPEO = ["skopeo", "--insecure-policy"]


class Recorder(Progress):
    """Collects (short id, status) events and messages."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.messages: list[str] = []

    def message(self, text: str) -> None:
        self.messages.append(text)

    def layer(self, ident, status, current=None, total=None) -> None:
        self.events.append((ident.split(":")[-1][:12], status))

    def statuses(self) -> set[str]:
        return {s for _ident, s in self.events}


@pytest.fixture
def http_log(monkeypatch) -> list[tuple[str, str]]:
    """Every HTTP request berth sends in this process, as (method, path?query); the requests are
    really sent, this only watches them."""
    log: list[tuple[str, str]] = []
    real_send = requests.Session.send

    def send(self, request, **kwargs):
        url = requests.utils.urlparse(request.url)
        log.append((request.method, url.path + (f"?{url.query}" if url.query else "")))
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    return log


@pytest.fixture
def images(berth_env):
    store = ImageStore()
    yield store
    store.store.close()


def random_rootfs(path: Path, size: int, seed: str) -> Path:
    """A root filesystem tarball with ``size`` random bytes (incompressible) and a marker file."""
    with tarfile.open(path, "w") as tar:
        marker = f"seed {seed}\n".encode()
        info = tarfile.TarInfo("etc/seed")
        info.size = len(marker)
        tar.addfile(info, io.BytesIO(marker))
        info = tarfile.TarInfo("data/random.bin")
        info.size = size
        with open("/dev/urandom", "rb") as rnd:
            tar.addfile(info, _Limited(rnd, size))
    return path


class _Limited:
    def __init__(self, f, n: int) -> None:
        self.f, self.left = f, n

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.f.read(n)
        self.left -= len(data)
        return data


def inspect(env, name: str) -> dict:
    return json.loads(env.berth("inspect", name).stdout)[0]


def import_random(env, tmp_path: Path, name: str, size: int = 256 * 1024) -> str:
    tar = random_rootfs(tmp_path / f"{name.replace('/', '_').replace(':', '_')}.tar", size, name)
    return env.berth("import", str(tar), name).stdout.decode().strip()


def fresh_env(berth_env, name: str):
    """A second, empty berth state next to ``berth_env`` (same class, own root/run/config)."""
    other = type(berth_env)(berth_env.base / name)
    return other


@pytest.fixture
def empty_env(berth_env):
    berth_env.base.joinpath("second").mkdir()
    return fresh_env(berth_env, "second")


# -- round trips -----------------------------------------------------------------------------
def test_push_then_pull_round_trip_keeps_ids_and_digests(registry, berth_env, busybox):
    name = f"{registry.host}/berth/busybox:1.35"
    berth_env.berth("tag", "busybox", name)
    out = berth_env.berth("push", name).stdout.decode()
    assert f"The push refers to repository [{registry.host}/berth/busybox]" in out
    assert ": Pushed" in out
    digest = out.strip().splitlines()[-1].split("digest: ")[1].split()[0]
    before = inspect(berth_env, name)
    assert f"{registry.host}/berth/busybox@{digest}" in before["RepoDigests"]

    berth_env.berth("rmi", name, "busybox")
    assert berth_env.berth("images", "-q").stdout.strip() == b""
    out = berth_env.berth("pull", name).stdout.decode()
    assert ": Pull complete" in out
    assert f"Digest: {digest}" in out
    assert f"Status: Downloaded newer image for {name}" in out
    assert out.strip().splitlines()[-1] == name
    after = inspect(berth_env, name)
    assert after["Id"] == busybox == before["Id"]
    assert after["RootFS"] == before["RootFS"]
    assert after["RepoDigests"] == [f"{registry.host}/berth/busybox@{digest}"]
    # The pulled image runs from its snapshots: its files are there.
    lower = after["GraphDriver"]["Data"]["LowerDir"].split(":")
    assert any(os.path.exists(os.path.join(d, "bin/busybox")) for d in lower)

    out = berth_env.berth("pull", name).stdout.decode()
    assert f"Status: Image is up to date for {name}" in out


def test_skopeo_reads_what_berth_pushed(registry, berth_env, busybox, tmp_path):
    name = f"{registry.host}/berth/skopeo-reads:v1"
    berth_env.berth("tag", "busybox", name)
    digest = berth_env.berth("push", "-q", name).stdout.decode().strip()
    assert digest.startswith("sha256:")
    info = json.loads(subprocess.run(SKOPEO + ["inspect", "--tls-verify=false", f"docker://{name}"],
                                     capture_output=True, check=True).stdout)
    assert info["Digest"] == digest
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    raw = subprocess.run(SKOPEO + ["inspect", "--raw", "--tls-verify=false", f"docker://{name}"],
                         capture_output=True, check=True).stdout
    manifest = json.loads(raw)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["digest"] == busybox
    # The imported layer was stored uncompressed; it went out gzipped.
    assert manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    # skopeo copies it out, checking every digest, and umoci unpacks the result.
    layout = tmp_path / "layout"
    subprocess.run(SKOPEO + ["copy", "--src-tls-verify=false", f"docker://{name}", f"oci:{layout}:v1"],
                   capture_output=True, check=True)
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:v1", str(bundle)], capture_output=True, check=True)
    assert (bundle / "rootfs/bin/busybox").is_file()


def test_pull_by_digest(registry, berth_env, busybox, empty_env):
    name = f"{registry.host}/berth/by-digest"
    berth_env.berth("tag", "busybox", name)
    digest = berth_env.berth("push", "-q", name).stdout.decode().strip()
    out = empty_env.berth("pull", f"{name}@{digest}").stdout.decode()
    assert out.strip().splitlines()[-1] == f"{name}@{digest}"
    assert "Using default tag" not in out
    pulled = inspect(empty_env, f"{name}@{digest}")
    assert pulled["Id"] == busybox
    assert pulled["RepoTags"] == []  # a digest pull does not tag
    assert pulled["RepoDigests"] == [f"{name}@{digest}"]
    wrong = "sha256:" + "0" * 64
    proc = empty_env.berth("pull", f"{name}@{wrong}", check=False)
    assert proc.returncode == 125 and b"manifest unknown" in proc.stderr


def test_second_pull_downloads_nothing(registry, images, berth_env, tmp_path, http_log):
    name = f"{registry.host}/berth/twice:v1"
    import_random(berth_env, tmp_path, name)
    push(images, name)
    image = images.resolve(name)
    berth_env.berth("rmi", name)
    first = Recorder()
    pulled = pull(images, name, progress=first)
    assert pulled.id == image.id
    assert ("Pull complete" in first.statuses()) and ("Already exists" not in first.statuses())
    http_log.clear()
    second = Recorder()
    assert pull(images, name, progress=second).id == image.id
    assert not [r for r in http_log if "/blobs/" in r[1]], http_log
    assert second.statuses() == {"Pulling fs layer", "Already exists"}
    assert second.messages[-1] == f"Status: Image is up to date for {name}"


def test_push_after_push_uploads_nothing_and_compresses_once(registry, images, berth_env, tmp_path,
                                                             http_log):
    name = f"{registry.host}/berth/again:v1"
    import_random(berth_env, tmp_path, name)
    image = images.resolve(name)
    layer = image.layers[0]
    assert layer.media_type == "application/vnd.oci.image.layer.v1.tar"  # import stores it plain
    first = Recorder()
    digest = push(images, name, progress=first)
    assert {"Compressing", "Pushed"} <= first.statuses()
    compressed = Records(images.db).compressed(layer.diff_id)
    assert compressed is not None and compressed.blob_digest != layer.blob_digest
    assert images.store.blobs.exists(compressed.blob_digest)
    mtime = os.stat(images.store.blobs.path(compressed.blob_digest)).st_mtime_ns

    http_log.clear()
    second = Recorder()
    assert push(images, name, progress=second) == digest
    assert "Compressing" not in second.statuses()
    assert second.statuses() == {"Preparing", "Layer already exists"}
    assert not [r for r in http_log if r[0] in ("POST", "PATCH") or (r[0] == "PUT" and "/blobs/" in r[1])]
    assert os.stat(images.store.blobs.path(compressed.blob_digest)).st_mtime_ns == mtime
    # Garbage collection keeps the compressed blob while the image exists.
    berth_env.berth("image", "prune", "-f")
    assert images.store.blobs.exists(compressed.blob_digest)


def test_push_to_another_repository_mounts_blobs(registry, images, berth_env, tmp_path, http_log):
    src = f"{registry.host}/berth/mount-src:v1"
    dst = f"{registry.host}/berth/mount-dst:v1"
    import_random(berth_env, tmp_path, src)
    push(images, src)
    berth_env.berth("tag", src, dst)
    http_log.clear()
    progress = Recorder()
    push(images, dst, progress=progress)
    assert "Mounted from berth/mount-src" in progress.statuses()
    mounts = [r for r in http_log if r[0] == "POST" and "mount=" in r[1]]
    assert mounts and all("from=berth%2Fmount-src" in r[1] for r in mounts)
    assert not [r for r in http_log if r[0] == "PATCH"]


def test_pull_after_pull_from_another_repo_then_push_mounts(registry, berth_env, empty_env, tmp_path):
    src = f"{registry.host}/berth/pulled-src:v1"
    import_random(berth_env, tmp_path, src)
    berth_env.berth("push", src)
    empty_env.berth("pull", src)
    dst = f"{registry.host}/berth/pulled-dst:v1"
    empty_env.berth("tag", src, dst)
    out = empty_env.berth("push", dst).stdout.decode()
    assert "Mounted from berth/pulled-src" in out
    assert "Pushed" not in out


def test_tampered_blob_is_rejected_and_nothing_is_registered(registry, berth_env, empty_env, tmp_path):
    name = f"{registry.host}/berth/tampered:v1"
    import_random(berth_env, tmp_path, name, size=512 * 1024)
    berth_env.berth("push", name)
    manifest = json.loads(subprocess.run(SKOPEO + ["inspect", "--raw", "--tls-verify=false", f"docker://{name}"],
                                         capture_output=True, check=True).stdout)
    layer = manifest["layers"][0]["digest"]
    data = registry.blob_data_path(layer)
    content = bytearray(data.read_bytes())
    content[len(content) // 2] ^= 0xFF  # same size, different bytes
    data.write_bytes(bytes(content))

    proc = empty_env.berth("pull", name, check=False)
    assert proc.returncode == 125
    err = proc.stderr.decode()
    assert err.startswith("Error: ") and layer in err and ("failed verification" in err or "hashes to" in err), err
    assert len(err.strip().splitlines()) == 1
    assert empty_env.berth("images", "-q", "-a").stdout.strip() == b""
    blob_dir = empty_env.root / "blobs" / "sha256"
    assert not (blob_dir / layer[7:]).exists()
    assert not [p for p in (empty_env.root / "snapshots").iterdir() if not p.name.startswith(".")]


def test_push_errors_are_one_line(registry, berth_env, busybox):
    proc = berth_env.berth("push", f"{registry.host}/berth/missing:v1", check=False)
    assert proc.returncode == 125
    assert proc.stderr.decode() == \
        f"Error: An image does not exist locally with the tag: {registry.host}/berth/missing\n"
    proc = berth_env.berth("pull", f"{registry.host}/berth/never-pushed:v1", check=False)
    assert proc.returncode == 125 and proc.stderr.decode().startswith("Error: ")
    assert b"unknown" in proc.stderr or b"not found" in proc.stderr
    proc = berth_env.berth("pull", "--platform", "nonsense", "busybox", check=False)
    assert proc.returncode == 125 and b"invalid platform" in proc.stderr
