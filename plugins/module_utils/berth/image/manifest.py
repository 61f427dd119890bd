"""Building and checking OCI/Docker manifests and indexes (the JSON documents that name blobs)."""
from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidArgument
from ..store import check_digest
from . import mediatypes as mt

MAX_MANIFEST_BYTES = 4 << 20

# A Docker media type in an OCI manifest would be rejected by strict readers: map to the OCI twin.
_TO_OCI = {mt.DOCKER_LAYER_GZIP: mt.OCI_LAYER_GZIP, mt.DOCKER_LAYER_FOREIGN: mt.OCI_LAYER_NONDIST_GZIP,
           mt.DOCKER_CONFIG: mt.OCI_CONFIG}


def descriptor(media_type: str, digest: str, size: int,
               annotations: dict[str, str] | None = None, platform: dict[str, str] | None = None
               ) -> dict[str, Any]:
    d: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": size}
    if platform:
        d["platform"] = platform
    if annotations:
        d["annotations"] = annotations
    return d


def oci_manifest(config_digest: str, config_size: int,
                 layers: list[tuple[str, str, int]]) -> bytes:
    """An OCI image manifest for (media_type, digest, size) layers, as canonical bytes."""
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": descriptor(mt.OCI_CONFIG, config_digest, config_size),
        "layers": [descriptor(_TO_OCI.get(t, t), d, s) for t, d, s in layers],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def oci_index(manifests: list[dict[str, Any]]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests},
                      separators=(",", ":")).encode()


def parse_document(raw: bytes, what: str) -> dict[str, Any]:
    if len(raw) > MAX_MANIFEST_BYTES:
        raise InvalidArgument(f"{what} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise InvalidArgument(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{what} is not a JSON object")
    return doc


def media_type_of(doc: dict[str, Any], declared: str | None = None) -> str:
    """The media type of a manifest or index, from its body or, failing that, its shape."""
    value = doc.get("mediaType") or declared
    if value:
        return str(value)
    if "manifests" in doc:
        return mt.OCI_INDEX
    if "layers" in doc and "config" in doc:
        return mt.OCI_MANIFEST
    raise InvalidArgument("document is neither an image manifest nor an index")


def check_descriptor(d: Any, what: str) -> dict[str, Any]:
    if not isinstance(d, dict) or not isinstance(d.get("mediaType", ""), str):
        raise InvalidArgument(f"{what}: malformed descriptor")
    check_digest(d.get("digest", ""))
    size = d.get("size")
    if not isinstance(size, int) or size < 0:
        raise InvalidArgument(f"{what}: descriptor has no valid size")
    return d


def parse_manifest(raw: bytes, declared: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(config descriptor, layer descriptors) of an image manifest; rejects unknown media types."""
    doc = parse_document(raw, "image manifest")
    kind = media_type_of(doc, declared)
    if kind not in mt.MANIFEST_TYPES:
        raise InvalidArgument(f"unsupported manifest media type {kind}")
    config = check_descriptor(doc.get("config"), "manifest config")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise InvalidArgument("image manifest has no layers list")
    checked = [check_descriptor(layer, "manifest layer") for layer in layers]
    for layer in checked:
        if layer.get("mediaType") not in mt.LAYER_TYPES:
            raise InvalidArgument(f"unsupported layer media type {layer.get('mediaType')}")
    return config, checked


def parse_index(raw: bytes) -> list[dict[str, Any]]:
    doc = parse_document(raw, "image index")
    manifests = doc.get("manifests")
    if not isinstance(manifests, list):
        raise InvalidArgument("image index has no manifests list")
    return [check_descriptor(m, "index entry") for m in manifests]


def select_platform(entries: list[dict[str, Any]], want: dict[str, str]) -> dict[str, Any] | None:
    """The index entry for ``want`` (os/architecture[/variant]); variant is optional on both sides."""
    fallback = None
    for entry in entries:
        plat = entry.get("platform") or {}
        if plat.get("os") != want.get("os") or plat.get("architecture") != want.get("architecture"):
            continue
        if not want.get("variant") or not plat.get("variant") or plat.get("variant") == want["variant"]:
            if plat.get("variant") == want.get("variant"):
                return entry
            fallback = fallback or entry
    return fallback
