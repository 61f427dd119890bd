"""Streamed uploads and single-hash downloads against a real docker-registry.

A large blob goes up as one PATCH read from the file in blocks and is closed (PUT ?digest=) only
when what was sent hashes to its digest; a download is hashed once, by the blob writer that
verifies it before anything is committed."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import pytest
from registry_helpers import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, tar_gz
from testlib import ServedHTTP, send_a_third_and_hang_up

from berth.errors import DigestMismatch, InvalidArgument
from berth.image import ImageStore
from berth.registry import Endpoint, RegistryClient, fetch_blob, push_blob
from berth.registry import client as client_mod
from berth.registry.config import DaemonConfig
from berth.registry.pull import pull
from berth.store.blobs import BlobStore, sha256_digest


class Methods:
    """The (method, url) of every request a client sends."""

    def __init__(self, client: RegistryClient) -> None:
        self.sent: list[tuple[str, str]] = []
        client.transport.session.hooks["response"].append(
            lambda resp, *args, **kwargs: self.sent.append((resp.request.method, resp.request.url)))

    def names(self) -> list[str]:
        return [method for method, _url in self.sent]


class CountingSha256:
    """hashlib.sha256 that remembers every object it made, to count the passes over a blob."""

    made: list[CountingSha256] = []
    lock = threading.Lock()

    def __init__(self, data: bytes = b"", real=hashlib.sha256) -> None:
        self._real = real()
        self._make_real = real
        self.hashed = 0
        with self.lock:
            self.made.append(self)
        if data:
            self.update(data)

    def update(self, data: bytes) -> None:
        self.hashed += len(data)
        self._real.update(data)

    def hexdigest(self) -> str:
        return self._real.hexdigest()

    def digest(self) -> bytes:
        return self._real.digest()

    def copy(self) -> CountingSha256:
        twin = CountingSha256(real=self._make_real)
        twin._real = self._real.copy()
        return twin


@pytest.fixture
def counted_sha256(monkeypatch) -> Iterator[type[CountingSha256]]:
    real = hashlib.sha256
    CountingSha256.made = []
    monkeypatch.setattr(hashlib, "sha256", lambda data=b"": CountingSha256(data, real))
    yield CountingSha256


def passes_over(counter: type[CountingSha256], digest: str) -> int:
    """How many hash objects covered exactly the bytes of ``digest``."""
    return sum(1 for h in counter.made if "sha256:" + h.hexdigest() == digest)


@pytest.fixture
def blobs(tmp_path) -> BlobStore:
    return BlobStore(str(tmp_path / "source"))


def big_blob(blobs: BlobStore, size: int) -> str:
    """Random bytes over many upload blocks, not a multiple of the block size."""
    return blobs.write_bytes(os.urandom(size))


BIG = 5 * client_mod.UPLOAD_BLOCK + 12345


def test_large_blob_streams_in_one_patch_and_round_trips(registry, blobs, tmp_path):
    assert BIG > client_mod.SMALL_BLOB
    digest = big_blob(blobs, BIG)
    with RegistryClient(registry.host) as client:
        methods = Methods(client)
        assert push_blob(client, blobs, "berth/streamed", digest) == "uploaded"
        assert methods.names() == ["HEAD", "POST", "PATCH", "PUT"]
        put_url = methods.sent[-1][1]
        assert f"digest={digest.replace(':', '%3A')}" in put_url
        assert client.head_blob("berth/streamed", digest) == BIG
        pulled = BlobStore(str(tmp_path / "pulled"))
        assert fetch_blob(client, pulled, "berth/streamed", digest, BIG)
    assert pulled.read(digest) == blobs.read(digest)
    assert registry.blob_data_path(digest).read_bytes() == blobs.read(digest)


def test_chunk_size_splits_the_stream_into_ranged_patches(registry, blobs):
    digest = big_blob(blobs, BIG)
    chunk = 2 * client_mod.UPLOAD_BLOCK + 1  # not a block multiple: a block spans two requests
    with RegistryClient(registry.host, chunk_size=chunk) as client:
        methods = Methods(client)
        client.upload_blob("berth/chunked", digest, BIG, blobs.open(digest))
        assert methods.names().count("PATCH") == -(-BIG // chunk)
        assert client.head_blob("berth/chunked", digest) == BIG
    assert registry.blob_data_path(digest).read_bytes() == blobs.read(digest)


def uploaded_data(registry, repo: str) -> list[str]:
    """The data files of the repository's open uploads. (docker-registry leaves an empty hash
    state behind a cancelled upload: closing the writer it opened for the DELETE writes one.)"""
    uploads = registry.storage / "docker/registry/v2/repositories" / repo / "_uploads"
    return [str(p) for p in uploads.glob("*/data")]


def test_source_that_does_not_hash_to_the_digest_is_refused_and_the_upload_cancelled(registry, blobs):
    content = os.urandom(BIG)
    claimed = sha256_digest(content[:-1] + bytes([content[-1] ^ 1]))  # same size, another digest
    with RegistryClient(registry.host) as client:
        methods = Methods(client)
        with pytest.raises(DigestMismatch) as err:
            client.upload_blob("berth/mismatch", claimed, BIG, io.BytesIO(content))
        assert str(err.value) == (f"blob source hashes to {sha256_digest(content)}, not {claimed}: "
                                  f"upload to {registry.host}/berth/mismatch cancelled")
        assert methods.names() == ["POST", "PATCH", "DELETE"]  # never closed with PUT ?digest=
        upload_url = methods.sent[2][1]  # the Location the PATCH answered with
        assert urlsplit(upload_url).path == urlsplit(methods.sent[1][1]).path
        assert client.transport.session.get(upload_url).status_code == 404  # the session is gone
        assert client.head_blob("berth/mismatch", claimed) is None
        assert client.head_blob("berth/mismatch", sha256_digest(content)) is None
    assert uploaded_data(registry, "berth/mismatch") == []


def test_source_shorter_than_announced_is_refused_and_the_upload_cancelled(registry, blobs):
    content = os.urandom(BIG)
    with RegistryClient(registry.host) as client:
        methods = Methods(client)
        with pytest.raises(InvalidArgument, match="source ended 1 bytes short"):
            client.upload_blob("berth/short", sha256_digest(content), BIG, io.BytesIO(content[:-1]))
        assert methods.names()[0] == "POST" and methods.names()[-1] == "DELETE"
        assert "PUT" not in methods.names()
        assert client.head_blob("berth/short", sha256_digest(content)) is None


def test_fetch_hashes_each_blob_once_and_refuses_a_corrupted_one(registry, blobs, tmp_path, counted_sha256):
    digest = big_blob(blobs, BIG)
    with RegistryClient(registry.host) as client:
        push_blob(client, blobs, "berth/once", digest)
        pulled = BlobStore(str(tmp_path / "pulled"))
        counted_sha256.made.clear()
        assert fetch_blob(client, pulled, "berth/once", digest, BIG)
        assert passes_over(counted_sha256, digest) == 1
        assert sum(h.hashed for h in counted_sha256.made) == BIG

        path = registry.blob_data_path(digest)
        data = bytearray(path.read_bytes())
        data[BIG // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        fresh = BlobStore(str(tmp_path / "fresh"))
        with pytest.raises(DigestMismatch, match=f"{registry.host}/berth/once@{digest} failed verification"):
            fetch_blob(client, fresh, "berth/once", digest, BIG)
    assert not fresh.exists(digest)
    assert os.listdir(fresh.dir) == [] and os.listdir(fresh.tmp_dir) == []


def push_layer_image(client: RegistryClient, blobs: BlobStore, repo: str, payload: bytes) -> str:
    """Push an image of one gzip layer holding ``payload`` as ``repo:v1``; return the layer digest."""
    layer = tar_gz({"data/payload.bin": payload})
    layer_digest = blobs.write_bytes(layer)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [sha256_digest(gzip.decompress(layer))]}})
    config_digest = blobs.write_bytes(config.encode())
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": layer_digest, "size": len(layer)}]}).encode()
    for digest in (config_digest, layer_digest):
        push_blob(client, blobs, repo, digest)
    client.put_manifest(repo, "v1", manifest, OCI_MANIFEST)
    return layer_digest


def test_pull_hashes_the_layer_blob_once(registry, blobs, berth_env, counted_sha256):
    with RegistryClient(registry.host) as client:
        layer = push_layer_image(client, blobs, "berth/pull-once", os.urandom(BIG))
    images = ImageStore()
    try:
        counted_sha256.made.clear()
        image = pull(images, f"{registry.host}/berth/pull-once:v1")
        assert image.layers[0].blob_digest == layer
        assert passes_over(counted_sha256, layer) == 1
        assert images.store.blobs.read(layer) == blobs.read(layer)
    finally:
        images.store.close()


def test_pull_of_a_corrupted_layer_leaves_nothing_behind(registry, blobs, berth_env):
    with RegistryClient(registry.host) as client:
        layer = push_layer_image(client, blobs, "berth/pull-bad", os.urandom(BIG))
    path = registry.blob_data_path(layer)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different bytes: the gzip stream itself is damaged
    path.write_bytes(bytes(data))
    images = ImageStore()
    try:
        with pytest.raises(DigestMismatch, match=layer):
            pull(images, f"{registry.host}/berth/pull-bad:v1")
        store_blobs = images.store.blobs
        assert not store_blobs.exists(layer)
        assert os.listdir(store_blobs.tmp_dir) == []
        assert images.snapshots.list() == []
        assert not [n for n in os.listdir(images.snapshots.dir) if n.startswith(".tmp-")]
        assert images.db.query_one("SELECT COUNT(*) AS n FROM images")["n"] == 0
    finally:
        images.store.close()


class BreakingMirror:
    """A mirror that starts serving one blob, hangs up after a third of it and then fails: the
    pull must finish on the origin from where the mirror stopped. It knows nothing else (404)."""

    def __init__(self, path: str, content: bytes) -> None:
        self.ranges: list[str | None] = []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path != path:
                    self.send_error(404)
                    return
                mirror.ranges.append(self.headers.get("Range"))
                if self.headers.get("Range"):
                    self.send_error(500)
                    return
                send_a_third_and_hang_up(self, content)

        self.server = ServedHTTP(Handler, quiet=True)
        self.url = f"http://127.0.0.1:{self.server.port}"

    def close(self) -> None:
        self.server.close()


def test_pull_resumes_on_the_origin_after_a_mirror_broke_off_and_hashes_once(registry, blobs, berth_env,
                                                                             monkeypatch, counted_sha256):
    with RegistryClient(registry.host) as client:
        layer = push_layer_image(client, blobs, "berth/pull-resume", os.urandom(BIG))
    mirror = BreakingMirror(f"/v2/berth/pull-resume/blobs/{layer}", blobs.read(layer))
    endpoints = [Endpoint(mirror.url, True, is_mirror=True), Endpoint(f"http://{registry.host}", True)]
    monkeypatch.setattr(DaemonConfig, "endpoints_for", lambda self, host: endpoints)
    images = ImageStore()
    try:
        counted_sha256.made.clear()
        image = pull(images, f"{registry.host}/berth/pull-resume:v1")
        assert image.layers[0].blob_digest == layer
        assert images.store.blobs.read(layer) == blobs.read(layer)
        assert passes_over(counted_sha256, layer) == 1
    finally:
        images.store.close()
        mirror.close()
    assert mirror.ranges[0] is None and mirror.ranges[1].startswith("bytes=")  # broke off, then failed
