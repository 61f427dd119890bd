"""An insecure registry's own https origin gets an unverified TLS context made without the system
CA store; every other origin (token realms, redirect targets) keeps requests' verified default."""
from __future__ import annotations

import ssl

from berth.registry.transport import Transport


def test_insecure_origin_uses_an_unverified_context_without_cas() -> None:
    transport = Transport("127.0.0.1:5000")
    try:
        own = transport.session.get_adapter("https://127.0.0.1:5000/v2/")
        context = own.poolmanager.connection_pool_kw["ssl_context"]
        assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
        assert context.cert_store_stats()["x509_ca"] == 0  # nothing loaded
        for other in ("https://127.0.0.1:50001/v2/", "https://auth.example/token",
                      "https://127.0.0.1/v2/"):
            adapter = transport.session.get_adapter(other)
            assert adapter is transport.session.adapters["https://"], other  # requests' default
            assert "ssl_context" not in adapter.poolmanager.connection_pool_kw
    finally:
        transport.close()


def test_secure_registry_keeps_the_default_adapter() -> None:
    transport = Transport("registry.example")
    try:
        assert not transport.insecure
        adapter = transport.session.get_adapter("https://registry.example/v2/")
        assert adapter is transport.session.adapters["https://"]
        assert list(transport.session.adapters) == ["https://", "http://"]
    finally:
        transport.close()
