"""https registries: a CA bundle is honoured, an untrusted certificate is one clear TLS error."""
from __future__ import annotations

import pytest

from berth.registry import RegistryClient, RegistryTLSError


def test_trusted_ca_works_and_untrusted_is_a_tls_error(tls_registry):
    server, ca, other = tls_registry
    with RegistryClient(server.host, ca_bundle=str(ca)) as client:
        client.ping()
        assert client.transport.base_url == f"https://{server.host}"
        assert client.head_manifest("berth/none", "latest") is None
    with RegistryClient(server.host, ca_bundle=str(other)) as client:
        with pytest.raises(RegistryTLSError, match=f"^TLS error talking to registry {server.host}: "
                                                   "certificate verify failed"):
            client.ping()


def test_loopback_without_ca_is_insecure_and_uses_unverified_https(tls_registry):
    server, _ca, _other_ca = tls_registry
    with RegistryClient(server.host) as client:
        client.ping()
        assert client.transport.base_url == f"https://{server.host}"


def test_plain_http_registry_on_loopback_falls_back_to_http(registry):
    with RegistryClient(registry.host) as client:
        client.ping()
        assert client.transport.base_url == f"http://{registry.host}"
