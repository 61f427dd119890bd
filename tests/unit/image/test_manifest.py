from __future__ import annotations

import hashlib
import json

import pytest

from berth.errors import InvalidArgument
from berth.image import chain_ids
from berth.image import manifest as mf
from berth.image import mediatypes as mt
from berth.image.listing import unix_time

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def test_chain_ids_follow_the_spec() -> None:
    second = "sha256:" + hashlib.sha256(f"{D1} {D2}".encode()).hexdigest()
    assert chain_ids([D1, D2]) == [D1, second]
    assert chain_ids([]) == []


def test_oci_manifest_maps_docker_layer_types() -> None:
    raw = mf.oci_manifest(D1, 10, [(mt.DOCKER_LAYER_GZIP, D2, 5)])
    config, layers = mf.parse_manifest(raw)
    assert config == {"mediaType": mt.OCI_CONFIG, "digest": D1, "size": 10}
    assert layers == [{"mediaType": mt.OCI_LAYER_GZIP, "digest": D2, "size": 5}]


@pytest.mark.parametrize("doc, message", [
    ({"mediaType": "application/x-evil", "config": {}, "layers": []}, "unsupported manifest"),
    ({"mediaType": mt.OCI_MANIFEST, "config": {"mediaType": mt.OCI_CONFIG, "digest": "sha256:zz", "size": 1},
      "layers": []}, "invalid digest"),
    ({"mediaType": mt.OCI_MANIFEST, "config": {"mediaType": mt.OCI_CONFIG, "digest": D1, "size": -1},
      "layers": []}, "no valid size"),
    ({"mediaType": mt.OCI_MANIFEST, "config": {"mediaType": mt.OCI_CONFIG, "digest": D1, "size": 1},
      "layers": [{"mediaType": "text/html", "digest": D2, "size": 1}]}, "unsupported layer"),
    ({"mediaType": mt.OCI_MANIFEST, "config": {"mediaType": mt.OCI_CONFIG, "digest": D1, "size": 1}},
     "no layers"),
])
def test_hostile_manifests_are_rejected(doc: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        mf.parse_manifest(json.dumps(doc).encode())


def test_oversized_and_non_object_documents_are_rejected() -> None:
    with pytest.raises(InvalidArgument, match="larger than"):
        mf.parse_document(b" " * (mf.MAX_MANIFEST_BYTES + 1), "manifest")
    with pytest.raises(InvalidArgument, match="not a JSON object"):
        mf.parse_document(b"[]", "manifest")


def test_platform_selection_prefers_exact_variant() -> None:
    entries = [
        {"platform": {"os": "linux", "architecture": "arm64"}, "digest": D1},
        {"platform": {"os": "linux", "architecture": "amd64"}, "digest": D2},
        {"platform": {"os": "linux", "architecture": "arm", "variant": "v6"}, "digest": "v6"},
        {"platform": {"os": "linux", "architecture": "arm", "variant": "v7"}, "digest": "v7"},
    ]
    assert mf.select_platform(entries, {"os": "linux", "architecture": "amd64"})["digest"] == D2
    assert mf.select_platform(entries, {"os": "linux", "architecture": "arm", "variant": "v7"})["digest"] == "v7"
    assert mf.select_platform(entries, {"os": "windows", "architecture": "amd64"}) is None


@pytest.mark.parametrize("text, expected", [
    ("1970-01-01T00:00:00Z", 0),
    ("2024-05-01T12:00:00.123456789Z", 1714564800),
    ("2024-05-01T14:00:00+02:00", 1714564800),
    ("2024-05-01T12:00:00.5-01:30", 1714570200),
    ("garbage", 0),
    ("", 0),
])
def test_unix_time(text: str, expected: int) -> None:
    assert unix_time(text) == expected
