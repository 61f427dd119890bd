"""registry-mirrors from daemon.json: tried in order for docker.io, dead ones skipped."""
from __future__ import annotations

import json

import pytest
from registry_helpers import OCI_MANIFEST, free_port, make_image

from berth.registry import Endpoint, ManifestUnknown, Registry, RegistryClient, fetch_blob, push_blob
from berth.store.blobs import BlobStore


def test_mirror_fallback_to_the_next_mirror(registry, berth_env, tmp_path):
    blobs = BlobStore(str(berth_env.root))
    image = make_image(blobs, big_layer_size=1024, seed="mirror")
    with RegistryClient(registry.host) as client:  # the mirror holds library/busybox
        for digest in image.blobs:
            push_blob(client, blobs, "library/busybox", digest)
        client.put_manifest("library/busybox", "latest", image.manifest, OCI_MANIFEST)

    dead = f"http://127.0.0.1:{free_port()}"
    live = f"http://{registry.host}"
    (berth_env.config / "daemon.json").write_text(json.dumps({"registry-mirrors": [dead, live]}))

    pulled = BlobStore(str(tmp_path / "pulled"))
    with Registry("docker.io") as hub:
        assert [(e.url, e.is_mirror) for e in hub.endpoints] == [
            (dead, True), (live, True), ("https://registry-1.docker.io", False)]
        data, media_type, digest = hub.get_manifest("library/busybox", "latest")
        assert (data, digest) == (image.manifest, image.manifest_digest)
        assert hub.last_endpoint.url == live
        for layer, size in image.layers:
            assert fetch_blob(hub, pulled, "library/busybox", layer, size)
            assert pulled.read(layer) == blobs.read(layer)
        assert hub.last_endpoint.url == live


def test_failing_mirror_falls_back_to_the_origin(registry, auth_registry, berth_env):
    # The origin of docker.io is not reachable from tests, so the endpoints are set by hand: a mirror
    # that demands credentials we lack, then the origin (the plain registry).
    blobs = BlobStore(str(berth_env.root))
    image = make_image(blobs, big_layer_size=1024, seed="origin")
    with RegistryClient(registry.host) as client:
        for digest in image.blobs:
            push_blob(client, blobs, "library/origin-only", digest)
        client.put_manifest("library/origin-only", "v1", image.manifest, OCI_MANIFEST)
    mirror = Endpoint(f"http://{auth_registry.host}", True, is_mirror=True)
    origin = Endpoint(f"http://{registry.host}", True, is_mirror=False)
    dead_origin = Endpoint(f"http://127.0.0.1:{free_port()}", True, is_mirror=False)
    with Registry("docker.io") as hub:
        hub.endpoints = [mirror, origin]
        assert hub.get_manifest("library/origin-only", "v1")[2] == image.manifest_digest
        assert hub.last_endpoint == origin
        # The origin's answer is final: a missing tag there is an error, not a reason to go on.
        hub.endpoints = [mirror, origin, dead_origin]
        with pytest.raises(ManifestUnknown, match="manifest unknown"):
            hub.get_manifest("library/origin-only", "v2")
