"""``berth load``: images from a docker-archive, an OCI archive or an OCI layout directory.

Everything read is hostile: member names are only looked up, never used as paths; every blob is
checked against the digest and size its descriptor announces and every layer against its DiffID.
Images are registered only after all their content is stored (see images.ImageStore.register).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import DigestMismatch, InvalidArgument, NotFound
from ..store import check_digest, sha256_digest
from . import config as image_config
from . import manifest as mf
from . import mediatypes as mt
from . import reference
from .images import Image, ImageStore
from .snapshots import LayerInfo

if TYPE_CHECKING:  # tarfile and the decoders come with the first load, not with every image command
    import tarfile

MAX_JSON = 4 << 20


class _Source:
    """Files of an archive or layout directory, looked up by name only."""

    def __init__(self, tar: tarfile.TarFile | None = None, root: str | None = None) -> None:
        self.tar, self.root = tar, root
        self._members = {m.name.lstrip("./") if m.name.startswith("./") else m.name: m
                         for m in tar.getmembers()} if tar else {}

    def has(self, name: str) -> bool:
        if self.tar is not None:
            member = self._members.get(name)
            return member is not None and member.isfile()
        path = self._path(name)
        return os.path.isfile(path) and not os.path.islink(path)

    def _path(self, name: str) -> str:
        if self.root is None:
            raise TypeError("archive reader has neither a tar file nor a directory")
        if name.startswith("/") or ".." in name.split("/"):
            raise InvalidArgument(f"invalid path {name!r} in image layout")
        return os.path.join(self.root, name)

    def open(self, name: str) -> BinaryIO:
        if self.tar is not None:
            member = self._members.get(name)
            if member is None or not member.isfile():
                raise InvalidArgument(f"archive has no file {name!r}")
            stream = self.tar.extractfile(member)
            if stream is None:
                raise InvalidArgument(f"archive has no file {name!r}")
            return stream  # type: ignore[return-value]
        path = self._path(name)
        try:
            return open(path, "rb", buffering=0) if not os.path.islink(path) else _raise_link(name)
        except FileNotFoundError:
            raise InvalidArgument(f"image layout has no file {name!r}") from None

    def read(self, name: str, limit: int = MAX_JSON) -> bytes:
        with self.open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise InvalidArgument(f"{name} is larger than {limit} bytes")
        return data

    def size(self, name: str) -> int:
        if self.tar is not None:
            return self._members[name].size
        return os.stat(self._path(name)).st_size


def _raise_link(name: str) -> BinaryIO:
    raise InvalidArgument(f"{name} in image layout is a symlink")


def load(images: ImageStore, source: str | BinaryIO) -> list[str]:
    """Load every image of ``source``; returns Docker's "Loaded image: ..." lines."""
    import tarfile

    if isinstance(source, str) and os.path.isdir(source):
        return _load_from(images, _Source(root=source))
    with contextlib.ExitStack() as stack:
        if isinstance(source, str):
            try:
                fileobj: BinaryIO = stack.enter_context(open(source, "rb"))
            except FileNotFoundError:
                raise NotFound(f"open {source}: no such file or directory") from None
        elif _seekable(source):
            fileobj = source
        else:  # a pipe: tar members need random access
            fileobj = stack.enter_context(tempfile.TemporaryFile(dir=images.store.root))
            shutil.copyfileobj(source, fileobj, 1 << 20)
            fileobj.seek(0)
        try:
            tar = stack.enter_context(tarfile.open(fileobj=fileobj, mode="r:*"))
        except tarfile.TarError as exc:
            raise InvalidArgument(f"invalid image archive: {exc}") from None
        return _load_from(images, _Source(tar=tar))
    raise AssertionError("unreachable")


def _seekable(f: BinaryIO) -> bool:
    try:
        return f.seekable()
    except (AttributeError, ValueError):
        return False


def _load_from(images: ImageStore, src: _Source) -> list[str]:
    with images.store.writing():
        if src.has("manifest.json"):
            return _load_docker_archive(images, src)
        if src.has("index.json") and src.has("oci-layout"):
            return _load_oci(images, src)
    raise InvalidArgument("not an image archive: no manifest.json or OCI index.json found")


def _load_docker_archive(images: ImageStore, src: _Source) -> list[str]:
    try:
        entries = json.loads(src.read("manifest.json"))
    except ValueError as exc:
        raise InvalidArgument(f"manifest.json is not valid JSON: {exc}") from None
    if not isinstance(entries, list):
        raise InvalidArgument("manifest.json is not a list")
    loaded = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) \
                or not isinstance(entry.get("Layers"), list):
            raise InvalidArgument("manifest.json entry lacks Config or Layers")
        config_bytes = src.read(entry["Config"])
        config = image_config.validate(config_bytes)
        diff_ids = config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(entry["Layers"]):
            raise InvalidArgument("manifest.json lists a different number of layers than the config")
        layers: list[LayerInfo] = []
        parent = None
        for name, diff_id in zip(entry["Layers"], diff_ids):
            if not isinstance(name, str):
                raise InvalidArgument("manifest.json has a non-string layer path")
            with src.open(name) as stream:
                layer = images.snapshots.ingest(stream, parent, "", expected_diff_id=diff_id)
            layers.append(_with_media_type(images, layer))
            parent = layer.chain_id
        tags = [t for t in entry.get("RepoTags") or [] if isinstance(t, str)]
        image = images.register(config_bytes, layers, tags)
        loaded.extend(_report(image, tags))
    return loaded


def _load_oci(images: ImageStore, src: _Source) -> list[str]:
    try:
        layout = json.loads(src.read("oci-layout"))
    except ValueError:
        layout = None
    if not isinstance(layout, dict) or "imageLayoutVersion" not in layout:
        raise InvalidArgument("oci-layout file is not valid")
    loaded = []
    for entry in mf.parse_index(src.read("index.json")):
        for desc, names in _manifests_of(src, entry, _names(entry)):
            image = _load_oci_image(images, src, desc, names)
            loaded.extend(_report(image, names))
    return loaded


def _names(entry: dict[str, Any]) -> list[str]:
    annotations = entry.get("annotations") or {}
    for key in (mt.ANNOTATION_CONTAINERD_NAME, mt.ANNOTATION_REF_NAME):
        value = annotations.get(key)
        if isinstance(value, str) and value:
            try:
                return [str(reference.parse(value))]
            except InvalidArgument:
                continue
    return []


def _manifests_of(src: _Source, desc: dict[str, Any], names: list[str], depth: int = 0
                  ) -> list[tuple[dict[str, Any], list[str]]]:
    if desc["mediaType"] in mt.MANIFEST_TYPES:
        return [(desc, names)]
    if desc["mediaType"] not in mt.INDEX_TYPES:
        raise InvalidArgument(f"unsupported media type {desc['mediaType']} in index")
    if depth > 4:
        raise InvalidArgument("image index nests too deeply")
    children = mf.parse_index(_blob(src, desc))
    chosen = mf.select_platform(children, image_config.host_platform())
    if chosen is None:
        raise NotFound(f"image index {desc['digest']} has no manifest for this platform")
    return _manifests_of(src, chosen, names, depth + 1)


def _blob(src: _Source, desc: dict[str, Any], limit: int = MAX_JSON) -> bytes:
    digest = check_digest(desc["digest"])
    data = src.read("blobs/sha256/" + digest[7:], limit)
    if len(data) != desc["size"] or sha256_digest(data) != digest:
        raise DigestMismatch(f"blob {digest} does not match its descriptor")
    return data


def _load_oci_image(images: ImageStore, src: _Source, desc: dict[str, Any], names: list[str]) -> Image:
    raw_manifest = _blob(src, desc)
    config_desc, layer_descs = mf.parse_manifest(raw_manifest, desc["mediaType"])
    config_bytes = _blob(src, config_desc)
    config = image_config.validate(config_bytes)
    diff_ids = config["rootfs"]["diff_ids"]
    if len(diff_ids) != len(layer_descs):
        raise InvalidArgument("manifest and config disagree on the number of layers")
    layers, parent = [], None
    for layer_desc, diff_id in zip(layer_descs, diff_ids):
        name = "blobs/sha256/" + layer_desc["digest"][7:]
        with src.open(name) as stream:
            layer = images.snapshots.ingest(stream, parent, layer_desc["mediaType"],
                                            expected_blob=layer_desc["digest"],
                                            expected_size=layer_desc["size"], expected_diff_id=diff_id)
        layers.append(layer)
        parent = layer.chain_id
    manifest_digest = images.store.blobs.write_bytes(raw_manifest, desc["digest"])
    return images.register(config_bytes, layers, names, manifest_digest=manifest_digest,
                           manifest_media_type=mf.media_type_of(mf.parse_document(raw_manifest, "manifest"),
                                                                desc["mediaType"]))


def _with_media_type(images: ImageStore, layer: LayerInfo) -> LayerInfo:
    from . import compression

    with images.store.blobs.open(layer.blob_digest) as f:
        kind = compression.detect(f.read(6))
    return layer.replace(media_type=mt.layer_type_for(kind))


def _report(image: Image, names: list[str]) -> list[str]:
    if names:
        return ["Loaded image: " + reference.parse(n).familiar for n in names]
    return ["Loaded image ID: " + image.id]
