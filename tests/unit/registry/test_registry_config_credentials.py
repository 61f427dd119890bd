"""daemon.json registry settings, certs.d lookup, and Docker-format credentials."""
from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from berth.errors import InvalidArgument
from berth.registry import INDEX_SERVER, CredentialStore, DaemonConfig, Endpoint, endpoints_for, normalize_host
from berth.registry.config import is_loopback


def write_daemon_json(berth_env, doc) -> None:
    (berth_env.config / "daemon.json").write_text(json.dumps(doc))


def test_docker_hub_uses_mirrors_in_order_then_origin(berth_env):
    write_daemon_json(berth_env, {"registry-mirrors": ["https://m1.example:5000/", "http://10.1.2.3:5000"],
                                  "insecure-registries": ["10.0.0.0/8"]})
    assert endpoints_for("docker.io") == [
        Endpoint("https://m1.example:5000", False, None, True),
        Endpoint("http://10.1.2.3:5000", True, None, True),
        Endpoint("https://registry-1.docker.io", False, None, False),
    ]
    assert endpoints_for("index.docker.io")[-1].url == "https://registry-1.docker.io"
    # Mirrors are for docker.io only.
    assert endpoints_for("quay.io") == [Endpoint("https://quay.io", False, None, False)]


def test_insecure_hosts_cidrs_and_loopback(berth_env):
    write_daemon_json(berth_env, {"insecure-registries": ["reg.lan:5000", "192.168.0.0/16", "http://old:80"]})
    config = DaemonConfig.load()
    assert config.is_insecure("reg.lan:5000")
    assert not config.is_insecure("reg.lan:5001")
    assert config.is_insecure("192.168.7.9:5000")
    assert not config.is_insecure("10.0.0.1:5000")
    assert config.is_insecure("old:80")
    assert config.is_insecure("127.0.0.1:5000") and config.is_insecure("localhost:5000")
    assert [(e.url, e.insecure) for e in config.endpoints_for("reg.lan:5000")] == [
        ("https://reg.lan:5000", True), ("http://reg.lan:5000", True)]
    assert is_loopback("[::1]:5000") and is_loopback("127.9.9.9") and not is_loopback("10.0.0.1")


def test_certs_d_ca_and_client_cert(berth_env):
    d = berth_env.config / "certs.d" / "secure.example:5443"
    d.mkdir(parents=True)
    (d / "ca.crt").write_text("CA")
    (d / "client.cert").write_text("C")
    (d / "client.key").write_text("K")
    [endpoint] = endpoints_for("secure.example:5443")
    assert endpoint.ca == str(d / "ca.crt")
    assert endpoint.client_cert == (str(d / "client.cert"), str(d / "client.key"))
    os.unlink(d / "client.key")
    with pytest.raises(InvalidArgument, match="client.cert and client.key"):
        endpoints_for("secure.example:5443")


@pytest.mark.parametrize("doc", [[], {"registry-mirrors": "https://x"}, {"registry-mirrors": ["ftp://x"]},
                                 {"registry-mirrors": ["https://x/path"]}, {"insecure-registries": ["1.2.3/99"]}])
def test_bad_daemon_config_is_one_clear_error(berth_env, doc):
    write_daemon_json(berth_env, doc)
    with pytest.raises(InvalidArgument, match="invalid"):
        DaemonConfig.load()


def test_missing_daemon_config_means_defaults(berth_env):
    assert endpoints_for("docker.io") == [Endpoint("https://registry-1.docker.io", False, None, False)]


@pytest.mark.parametrize("host, key", [
    ("docker.io", INDEX_SERVER), ("index.docker.io", INDEX_SERVER), ("registry-1.docker.io", INDEX_SERVER),
    ("https://index.docker.io/v1/", INDEX_SERVER), ("https://Reg.Example:5000/v2/", "reg.example:5000"),
    ("127.0.0.1:5000", "127.0.0.1:5000"),
])
def test_normalize_host(host, key):
    assert normalize_host(host) == key


def test_credentials_round_trip_mode_and_other_keys_kept(berth_env):
    path = berth_env.config / "config.json"
    path.write_text(json.dumps({"auths": {"https://old.example:5000": {"auth": base64.b64encode(b"a:b").decode()}},
                                "psFormat": "table"}))
    store = CredentialStore()
    assert store.get("old.example:5000") == ("a", "b")
    store.save("docker.io", "me", "pass:with:colons")
    store.save("old.example:5000", "a", "c")
    doc = json.loads(path.read_text())
    assert doc["psFormat"] == "table"
    assert set(doc["auths"]) == {INDEX_SERVER, "old.example:5000"}
    assert base64.b64decode(doc["auths"][INDEX_SERVER]["auth"]) == b"me:pass:with:colons"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.get("index.docker.io") == ("me", "pass:with:colons")
    assert store.erase("docker.io") is True
    assert store.get("docker.io") is None
    assert store.erase("docker.io") is False
    assert [n for n in os.listdir(berth_env.config) if n.startswith(".config.json")] == []


def test_corrupt_credentials_are_reported(berth_env):
    (berth_env.config / "config.json").write_text('{"auths": {"h": {"auth": "%%%"}}}')
    with pytest.raises(InvalidArgument, match="not valid base64"):
        CredentialStore().get("h")
    (berth_env.config / "config.json").write_text("{")
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        CredentialStore().get("h")
