"""Push to and pull from a real docker-registry; skopeo reads what berth pushed."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from registry_helpers import OCI_MANIFEST, make_image

from berth.errors import DigestMismatch
from berth.registry import (BlobUnknown, ManifestUnknown, RegistryClient, RegistryUnreachable, fetch_blob,
                            push_blob)
from berth.registry.client import Descriptor
from berth.store import Store
from berth.store.blobs import BlobStore, sha256_digest

CHUNK = 64 * 1024


@pytest.fixture
def store(berth_env) -> Store:
    s = Store()
    yield s
    s.close()


@pytest.fixture
def other_blobs(tmp_path) -> BlobStore:
    """A second, empty blob store to pull into."""
    return BlobStore(str(tmp_path / "other"))


def push_image(client: RegistryClient, blobs: BlobStore, repo: str, tag: str, image) -> list[str]:
    results = [push_blob(client, blobs, repo, d) for d in image.blobs]
    client.put_manifest(repo, tag, image.manifest, OCI_MANIFEST)
    return results


def test_push_then_pull_round_trip(registry, store, other_blobs):
    image = make_image(store.blobs, big_layer_size=5 * CHUNK)
    big_digest, big_size = image.layers[1]
    assert big_size > CHUNK  # uploaded in several PATCH chunks
    with RegistryClient(registry.host, chunk_size=CHUNK) as client:
        methods: list[str] = []

        def record(resp, *args, **kwargs):
            methods.append(resp.request.method)

        client.transport.session.hooks["response"].append(record)
        client.ping()
        assert push_image(client, store.blobs, "berth/round-trip", "v1", image) == ["uploaded"] * 3
        # Config and small layer: one PUT each; big layer: PATCH per chunk, then the closing PUT.
        assert methods.count("PATCH") == -(-big_size // CHUNK)
        assert methods.count("PUT") == 3 + 1  # three blobs and the manifest
        assert methods.count("GET") == 1  # the ping
        assert client.head_blob("berth/round-trip", big_digest) == big_size

        data, media_type, digest = client.get_manifest("berth/round-trip", "v1")
        assert (data, media_type, digest) == (image.manifest, OCI_MANIFEST, image.manifest_digest)
        assert client.get_manifest("berth/round-trip", digest) == (data, media_type, digest)
        assert client.head_manifest("berth/round-trip", "v1") == Descriptor(OCI_MANIFEST, digest, len(data))
        assert client.list_tags("berth/round-trip") == ["v1"]
        for tag in ("v2", "v3"):
            assert client.put_manifest("berth/round-trip", tag, data, media_type) == digest
        assert client.list_tags("berth/round-trip") == ["v1", "v2", "v3"]

        manifest = json.loads(data)
        descriptors = [manifest["config"]] + manifest["layers"]
        for desc in descriptors:
            assert fetch_blob(client, other_blobs, "berth/round-trip", desc["digest"], desc["size"])
    for digest in image.blobs:
        assert other_blobs.read(digest) == store.blobs.read(digest)
        assert sha256_digest(other_blobs.read(digest)) == digest


def test_skopeo_reads_what_berth_pushed(registry, store):
    image = make_image(store.blobs, big_layer_size=3 * CHUNK, seed="skopeo")
    with RegistryClient(registry.host, chunk_size=CHUNK) as client:
        push_image(client, store.blobs, "berth/skopeo", "latest", image)
    out = subprocess.run(["skopeo", "inspect", "--tls-verify=false",
                          f"docker://{registry.host}/berth/skopeo:latest"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["Digest"] == image.manifest_digest
    assert info["Layers"] == [d for d, _size in image.layers]
    assert "SEED=skopeo" in info["Env"]


def test_existing_blob_is_skipped_and_cross_repo_mount(registry, store):
    image = make_image(store.blobs, big_layer_size=1024, seed="mount")
    layer, _size = image.layers[0]
    with RegistryClient(registry.host) as client:
        assert push_blob(client, store.blobs, "berth/source", layer) == "uploaded"
        assert push_blob(client, store.blobs, "berth/source", layer) == "exists"
        assert client.head_blob("berth/target", layer) is None
        assert push_blob(client, store.blobs, "berth/target", layer, mount_from=["berth/source"]) == "mounted"
        assert client.head_blob("berth/target", layer) == store.blobs.size(layer)
        # A mount from a repository without the blob is refused; the client then uploads.
        config = image.config
        assert client.mount_blob("berth/target2", config, "berth/source") is False
        assert push_blob(client, store.blobs, "berth/target2", config, mount_from=["berth/source"]) == "uploaded"


def test_missing_manifest_and_blob_give_clear_errors(registry, store):
    with RegistryClient(registry.host) as client:
        with pytest.raises(ManifestUnknown, match=f"{registry.host}/berth/nothing:v9"):
            client.get_manifest("berth/nothing", "v9")
        assert client.head_manifest("berth/nothing", "v9") is None
        missing = sha256_digest(b"no such blob")
        with store.blobs.writer(missing) as w:
            with pytest.raises(BlobUnknown, match="blob unknown"):
                client.get_blob("berth/nothing", missing, w)
        assert not store.blobs.exists(missing)


def test_tampered_blob_is_rejected_and_nothing_committed(registry, store, other_blobs):
    image = make_image(store.blobs, big_layer_size=2 * CHUNK, seed="tamper")
    layer, size = image.layers[1]
    with RegistryClient(registry.host, chunk_size=CHUNK) as client:
        push_image(client, store.blobs, "berth/tamper", "v1", image)
        path = registry.blob_data_path(layer)
        data = bytearray(path.read_bytes())
        data[size // 2] ^= 0xFF  # same size, different content
        path.write_bytes(bytes(data))
        with pytest.raises(DigestMismatch, match="failed verification"):
            fetch_blob(client, other_blobs, "berth/tamper", layer, size)
    assert not other_blobs.exists(layer)
    assert os.listdir(other_blobs.tmp_dir) == []


def test_download_resumes_from_a_partial_writer(registry, store, other_blobs):
    image = make_image(store.blobs, big_layer_size=3 * CHUNK, seed="resume")
    layer, size = image.layers[1]
    content = store.blobs.read(layer)
    with RegistryClient(registry.host, chunk_size=CHUNK) as client:
        push_blob(client, store.blobs, "berth/resume", layer)
        with other_blobs.writer(layer, size) as w:
            w.write(content[: size // 3])  # what an interrupted download left
            assert client.get_blob("berth/resume", layer, w, size) == size
            assert w.commit() == layer
    assert other_blobs.read(layer) == content


def test_wrong_size_is_rejected(registry, store, other_blobs):
    image = make_image(store.blobs, big_layer_size=1024, seed="size")
    layer, size = image.layers[0]
    with RegistryClient(registry.host) as client:
        push_blob(client, store.blobs, "berth/size", layer)
        with pytest.raises(DigestMismatch, match="expected"):
            fetch_blob(client, other_blobs, "berth/size", layer, size - 1)
    assert not other_blobs.exists(layer)


def test_unreachable_registry(store):
    with RegistryClient("127.0.0.1:1") as client:
        with pytest.raises(RegistryUnreachable, match="cannot connect to registry 127.0.0.1:1: connection refused"):
            client.ping()
