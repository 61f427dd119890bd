"""Basic (htpasswd) and Bearer (token server) authentication against a real docker-registry."""
from __future__ import annotations

import json
import os
import stat

import pytest
from registry_helpers import OCI_MANIFEST, make_image

from berth.registry import (AuthenticationRequired, CredentialStore, Registry, RegistryClient, fetch_blob, login,
                            logout, push_blob)
from berth.registry.client import pull_scope, push_scope
from berth.store.blobs import BlobStore


@pytest.fixture
def blobs(berth_env) -> BlobStore:
    return BlobStore(str(berth_env.root))


def test_basic_auth_login_push_pull_logout(auth_registry, berth_env, blobs, tmp_path):
    host = auth_registry.host
    image = make_image(blobs, big_layer_size=1024, seed="basic")

    with Registry(host) as anonymous:
        with pytest.raises(AuthenticationRequired, match=f"^authentication required for {host}/berth/private"):
            anonymous.origin().head_blob("berth/private", image.config)

    with pytest.raises(AuthenticationRequired):
        login(host, "alice", "wrong password")
    assert not (berth_env.config / "config.json").exists()

    login(host, "alice", auth_registry.users["alice"])
    path = berth_env.config / "config.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert CredentialStore().get(host) == ("alice", "s3cret pass")
    assert list(json.loads(path.read_text())["auths"]) == [host]

    with Registry(host) as reg:
        client = reg.origin()
        for digest in image.blobs:
            assert push_blob(client, blobs, "berth/private", digest) == "uploaded"
        client.put_manifest("berth/private", "v1", image.manifest, OCI_MANIFEST)
        data, _media_type, digest = reg.get_manifest("berth/private", "v1")
        assert digest == image.manifest_digest
        other = BlobStore(str(tmp_path / "other"))
        for layer, size in image.layers:
            assert fetch_blob(reg, other, "berth/private", layer, size)
            assert other.read(layer) == blobs.read(layer)

    assert logout(host) is True
    assert logout(host) is False
    assert CredentialStore().get(host) is None
    with Registry(host) as reg:
        with pytest.raises(AuthenticationRequired, match="authentication required for"):
            reg.get_manifest("berth/private", "v1")


def test_bearer_challenge_token_and_cache(token_registry, blobs):
    host, tokens = token_registry.host, token_registry.tokens
    image = make_image(blobs, big_layer_size=1024, seed="bearer")
    tokens.requests.clear()

    with RegistryClient(host, credentials=("bob", "hunter2")) as client:
        for digest in image.blobs:
            assert push_blob(client, blobs, "berth/tokens", digest) == "uploaded"
        client.put_manifest("berth/tokens", "v1", image.manifest, OCI_MANIFEST)
        # The first request got a 401 challenge, fetched a token and retried; later requests reuse
        # a cached token whose scope covers theirs (push covers pull).
        assert client.auth.challenge.scheme == "bearer"
        assert client.auth.challenge.params["service"] == "berth-test-registry"
        assert [r["scopes"] for r in tokens.requests] == [[pull_scope("berth/tokens")],
                                                          [push_scope("berth/tokens")]]
        assert tokens.requests[0]["account"] == "bob" and tokens.requests[0]["authorized"]

        assert client.get_manifest("berth/tokens", "v1")[2] == image.manifest_digest
        assert client.get_manifest("berth/tokens", image.manifest_digest)[2] == image.manifest_digest
        assert client.list_tags("berth/tokens") == ["v1"]
        assert len(tokens.requests) == 2

        # A mount asks for both repositories in one token.
        assert client.mount_blob("berth/tokens-copy", image.config, "berth/tokens") is True
        assert sorted(tokens.requests[-1]["scopes"]) == sorted(
            [push_scope("berth/tokens-copy"), pull_scope("berth/tokens")])
        assert client.auth.token_fetches == len(tokens.requests) == 3


def test_bearer_without_or_with_wrong_credentials(token_registry, blobs):
    host, tokens = token_registry.host, token_registry.tokens
    with RegistryClient(host) as anonymous:
        with pytest.raises(AuthenticationRequired, match=f"authentication required for {host}/berth/tokens"):
            anonymous.list_tags("berth/tokens")
    with RegistryClient(host, credentials=("bob", "wrong")) as client:
        with pytest.raises(AuthenticationRequired, match="credentials were rejected"):
            client.list_tags("berth/tokens")
    assert tokens.requests[-1] == {"scopes": [pull_scope("berth/tokens")], "account": "bob", "authorized": False}


def test_login_with_bearer_flow(token_registry, berth_env):
    host = token_registry.host
    with pytest.raises(AuthenticationRequired):
        login(host, "bob", "nope")
    assert CredentialStore().get(host) is None
    login(host, "bob", "hunter2")
    assert CredentialStore().get(host) == ("bob", "hunter2")
