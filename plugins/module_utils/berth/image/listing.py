"""What ``berth images``, ``berth history`` and ``berth inspect`` show, in Docker's shapes."""
from __future__ import annotations

import datetime
import fnmatch
import re
from typing import Any

from ..errors import InvalidArgument
from . import reference
from .images import Image, ImageStore

IMAGE_FILTERS = ("dangling", "reference", "label", "before", "since")


def parse_filters(items: list[str] | None) -> dict[str, list[str]]:
    """``["dangling=true", "label=a=b"]`` -> ``{"dangling": ["true"], "label": ["a=b"]}``."""
    result: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidArgument(f"bad format of filter (expected name=value): {item}")
        key = key.strip().lower()
        if key not in IMAGE_FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        result.setdefault(key, []).append(value)
    return result


def matches_labels(image: Image, wanted: list[str]) -> bool:
    labels = image.labels
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def list_images(images: ImageStore, filters: dict[str, list[str]] | None = None) -> list[Image]:
    filters = filters or {}
    result = images.all()
    for value in filters.get("dangling", []):
        if value.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"invalid filter 'dangling={value}'")
        want = value.lower() in ("true", "1")
        result = [i for i in result if (not i.tags) == want]
    if "reference" in filters:
        result = [i for i in result if any(_reference_matches(t, p) for t in i.tags
                                           for p in filters["reference"])]
    if "label" in filters:
        result = [i for i in result if matches_labels(i, filters["label"])]
    for key, newer in (("before", False), ("since", True)):
        for value in filters.get(key, []):
            pivot = images.resolve(value)
            result = [i for i in result if (i.created > pivot.created if newer else i.created < pivot.created)]
    return result


def _reference_matches(name: str, pattern: str) -> bool:
    ref = reference.parse(name)
    familiar = ref.familiar
    if ":" in pattern.rsplit("/", 1)[-1]:
        return fnmatch.fnmatchcase(familiar, pattern) or fnmatch.fnmatchcase(str(ref), pattern)
    return fnmatch.fnmatchcase(ref.familiar_repository, pattern) or \
        fnmatch.fnmatchcase(ref.repository, pattern)


def summary(image: Image) -> dict[str, Any]:
    """One entry of Docker's ``GET /images/json``."""
    return {
        "Id": image.id,
        "ParentId": image.parent or "",
        "RepoTags": image.familiar_tags,
        "RepoDigests": image.familiar_digests,
        "Created": unix_time(image.created),
        "Size": image.size,
        "Labels": image.labels,
        "Containers": -1,
    }


def inspect(images: ImageStore, image: Image) -> dict[str, Any]:
    cfg = image.config
    lower = images.lowerdirs(image)
    result: dict[str, Any] = {
        "Id": image.id,
        "RepoTags": image.familiar_tags,
        "RepoDigests": image.familiar_digests,
        "Parent": image.parent or "",
        "Comment": _comment(cfg),
        "Created": cfg.get("created", ""),
        "Author": cfg.get("author", ""),
        "Config": cfg.get("config") or {},
        "Architecture": cfg.get("architecture", ""),
        "Os": cfg.get("os", ""),
        "Size": image.size,
        "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": ":".join(lower)}},
        "RootFS": {"Type": "layers", "Layers": image.diff_ids},
        "Metadata": {"LastTagTime": image.last_tag_time or "0001-01-01T00:00:00Z"},
    }
    if cfg.get("variant"):
        result["Variant"] = cfg["variant"]
    if image.manifest_digest:
        result["Descriptor"] = {"mediaType": image.manifest_media_type, "digest": image.manifest_digest}
    return result


def _comment(cfg: dict[str, Any]) -> str:
    history = cfg.get("history") or []
    return str(history[-1].get("comment", "")) if history and isinstance(history[-1], dict) else ""


def history(images: ImageStore, image: Image) -> list[dict[str, Any]]:
    """Newest first, like ``GET /images/{name}/history``."""
    sizes = {r["chain_id"]: r["size"] for r in images.db.query(
        "SELECT s.chain_id, s.size FROM snapshots s JOIN image_layers l ON l.chain_id = s.chain_id "
        "WHERE l.image_id = ?", (image.id,))}
    entries = [h for h in image.config.get("history") or [] if isinstance(h, dict)]
    if not entries:
        entries = [{"created": image.created} for _layer in image.layers]
    rows = []
    layer_iter = iter(image.layers)
    for entry in entries:
        size = 0
        if not entry.get("empty_layer"):
            layer = next(layer_iter, None)
            size = sizes.get(layer.chain_id, 0) if layer else 0
        rows.append({"Id": "<missing>", "Created": unix_time(str(entry.get("created", ""))),
                     "CreatedBy": str(entry.get("created_by", "")), "Tags": None, "Size": size,
                     "Comment": str(entry.get("comment", ""))})
    rows.reverse()
    if rows:
        rows[0]["Id"] = image.id
        rows[0]["Tags"] = image.familiar_tags or None
    return rows


_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")


def unix_time(rfc3339: str) -> int:
    """Seconds since the epoch for an RFC 3339 timestamp with up to nanosecond precision; 0 if bad."""
    m = _RFC3339.match(rfc3339.strip()) if rfc3339 else None
    if not m:
        return 0
    when = datetime.datetime.strptime(f"{m.group(1)}T{m.group(2)}", "%Y-%m-%dT%H:%M:%S")
    zone = m.group(3) or "Z"
    offset = datetime.timedelta(0)
    if zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return int((when - offset).replace(tzinfo=datetime.timezone.utc).timestamp())
