"""``berth save``: images to a docker-archive tar, an OCI layout directory, or an OCI archive tar.

The docker-archive is written like Docker 25+: ``manifest.json`` + ``repositories`` for docker-archive
readers, plus ``oci-layout`` + ``index.json`` over the same ``blobs/sha256`` so OCI readers accept it
too. Layers in it are uncompressed (their digest is their DiffID); OCI output keeps the stored blobs.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from ..errors import DigestMismatch, InvalidArgument
from . import compression, reference
from . import manifest as mf
from . import mediatypes as mt
from .images import Image, ImageStore, Layer

if TYPE_CHECKING:  # tarfile comes with the first save, not with every image command
    import tarfile

FORMATS = ("docker-archive", "oci", "oci-archive")
CHUNK = 1 << 20


@dataclass
class _Selected:
    image: Image
    names: list[str]  # fully qualified tags to record for this image


def select(images: ImageStore, refs: list[str]) -> list[_Selected]:
    chosen: dict[str, _Selected] = {}
    for text in refs:
        image = images.resolve(text)
        entry = chosen.setdefault(image.id, _Selected(image, []))
        name = image.tag_named_by(text)
        if name and name not in entry.names:
            entry.names.append(name)
    return list(chosen.values())


def save(images: ImageStore, refs: list[str], output: str | BinaryIO, fmt: str = "docker-archive") -> None:
    if fmt not in FORMATS:
        raise InvalidArgument(f"unknown save format {fmt!r} (use one of {', '.join(FORMATS)})")
    if not refs:
        raise InvalidArgument("save needs at least one image")
    selected = select(images, refs)
    if fmt == "oci":
        if not isinstance(output, str):
            raise InvalidArgument("the oci format writes a directory: give -o DIR")
        _save_oci_dir(images, selected, output)
        return
    if isinstance(output, str):
        parent = os.path.dirname(os.path.abspath(output))
        fd, tmp = tempfile.mkstemp(prefix=".berth-save-", dir=parent)
        try:
            with os.fdopen(fd, "wb") as f:
                _write_archive(images, selected, f, fmt)
            os.replace(tmp, output)
        except BaseException:
            os.unlink(tmp)
            raise
    else:
        _write_archive(images, selected, output, fmt)


def _write_archive(images: ImageStore, selected: list[_Selected], out: BinaryIO, fmt: str) -> None:
    import tarfile

    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        writer = _TarLayout(tar)
        if fmt == "docker-archive":
            _docker_archive(images, selected, writer)
        else:
            _oci_layout(images, selected, writer, uncompressed=False)


def _save_oci_dir(images: ImageStore, selected: list[_Selected], path: str) -> None:
    if os.path.exists(path) and os.listdir(path) and not os.path.exists(os.path.join(path, "oci-layout")):
        raise InvalidArgument(f"{path} exists and is not an OCI layout")
    os.makedirs(path, exist_ok=True)
    _oci_layout(images, selected, _DirLayout(path), uncompressed=False)


class _TarLayout:
    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.written: set[str] = set()

    def add_bytes(self, name: str, data: bytes) -> None:
        if name in self.written:
            return
        self.written.add(name)
        info = _info(name, len(data))
        self.tar.addfile(info, io.BytesIO(data))

    def add_stream(self, name: str, size: int, stream: BinaryIO) -> None:
        if name in self.written:
            return
        self.written.add(name)
        self.tar.addfile(_info(name, size), stream)

    def add_dir(self, name: str) -> None:
        if name not in self.written:
            self.written.add(name)
            import tarfile

            info = _info(name, 0)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            self.tar.addfile(info)

    def merge_index(self, entries: list[dict]) -> None:
        self.add_bytes("index.json", mf.oci_index(entries))


class _DirLayout:
    """An OCI layout directory; index.json merges with what an earlier save left there."""

    def __init__(self, root: str) -> None:
        self.root = root

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add_stream(name, len(data), io.BytesIO(data))

    def add_stream(self, name: str, size: int, stream: BinaryIO) -> None:
        path = os.path.join(self.root, name)
        if os.path.exists(path) and name.startswith("blobs/"):
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
        with os.fdopen(fd, "wb") as f:
            shutil.copyfileobj(stream, f, CHUNK)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)

    def add_dir(self, name: str) -> None:
        os.makedirs(os.path.join(self.root, name), exist_ok=True)

    def merge_index(self, entries: list[dict]) -> None:
        path = os.path.join(self.root, "index.json")
        old: list[dict] = []
        if os.path.exists(path):
            with open(path, "rb") as f:
                old = mf.parse_index(f.read())
        names = {e.get("annotations", {}).get(mt.ANNOTATION_REF_NAME) for e in entries} - {None}
        kept = [e for e in old if (e.get("annotations") or {}).get(mt.ANNOTATION_REF_NAME) not in names]
        self.add_bytes("index.json", mf.oci_index(kept + entries))


def _info(name: str, size: int) -> tarfile.TarInfo:
    import tarfile

    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    info.uname = info.gname = ""
    return info


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest[7:]


def _docker_archive(images: ImageStore, selected: list[_Selected], out: _TarLayout) -> None:
    entries, index_entries = [], []
    repositories: dict[str, dict[str, str]] = {}
    out.add_dir("blobs")
    out.add_dir("blobs/sha256")
    for sel in selected:
        image = sel.image
        config = images.store.blobs.read(image.id)
        out.add_bytes(_blob_name(image.id), config)
        layer_names = []
        for layer in image.layers:
            size = _diff_size(images, layer)
            with _uncompressed(images, layer) as stream:
                out.add_stream(_blob_name(layer.diff_id), size, stream)
            layer_names.append(_blob_name(layer.diff_id))
        familiar = [reference.parse(n).familiar for n in sel.names]
        entries.append({"Config": _blob_name(image.id), "RepoTags": familiar or None,
                        "Layers": layer_names})
        for name in sel.names:
            ref = reference.parse(name)
            repositories.setdefault(ref.familiar_repository, {})[ref.tag or "latest"] = \
                image.diff_ids[-1][7:] if image.diff_ids else ""
        manifest = mf.oci_manifest(image.id, len(config), [
            (mt.OCI_LAYER, layer.diff_id, _diff_size(images, layer)) for layer in image.layers])
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        out.add_bytes(_blob_name(digest), manifest)
        index_entries.extend(_index_entries(sel, digest, len(manifest)))
    out.add_bytes("oci-layout", json.dumps({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION}).encode())
    out.merge_index(index_entries)
    out.add_bytes("manifest.json", json.dumps(entries, separators=(",", ":")).encode())
    if repositories:
        out.add_bytes("repositories", json.dumps(repositories, separators=(",", ":")).encode())


def _oci_layout(images: ImageStore, selected: list[_Selected], out: _TarLayout | _DirLayout,
                uncompressed: bool) -> None:
    out.add_bytes("oci-layout", json.dumps({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION}).encode())
    index_entries = []
    for sel in selected:
        image = sel.image
        blobs = images.store.blobs
        config = blobs.read(image.id)
        out.add_bytes(_blob_name(image.id), config)
        for layer in image.layers:
            with blobs.open(layer.blob_digest) as f:
                out.add_stream(_blob_name(layer.blob_digest), layer.blob_size, f)
        manifest = _stored_manifest(images, image)
        if manifest is None:
            manifest = mf.oci_manifest(image.id, len(config), [
                (layer.media_type, layer.blob_digest, layer.blob_size) for layer in image.layers])
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        out.add_bytes(_blob_name(digest), manifest)
        index_entries.extend(_index_entries(sel, digest, len(manifest)))
    out.merge_index(index_entries)


def _stored_manifest(images: ImageStore, image: Image) -> bytes | None:
    """The image's own OCI manifest, when it came with one whose blobs we still hold unchanged."""
    if not image.manifest_digest or image.manifest_media_type != mt.OCI_MANIFEST:
        return None
    if not images.store.blobs.exists(image.manifest_digest):
        return None
    raw = images.store.blobs.read(image.manifest_digest)
    _config, layers = mf.parse_manifest(raw)
    if [d["digest"] for d in layers] != [layer.blob_digest for layer in image.layers]:
        return None
    return raw


def _index_entries(sel: _Selected, digest: str, size: int) -> list[dict]:
    plat = {"os": sel.image.config.get("os", "linux"),
            "architecture": sel.image.config.get("architecture", "amd64")}
    if not sel.names:
        return [mf.descriptor(mt.OCI_MANIFEST, digest, size, platform=plat)]
    result = []
    for name in sel.names:
        ref = reference.parse(name)
        result.append(mf.descriptor(mt.OCI_MANIFEST, digest, size, platform=plat, annotations={
            mt.ANNOTATION_CONTAINERD_NAME: str(ref), mt.ANNOTATION_REF_NAME: ref.tag or "latest"}))
    return result


def _diff_size(images: ImageStore, layer: Layer) -> int:
    if layer.diff_size is not None:
        return layer.diff_size
    row = images.db.query_one("SELECT diff_size FROM image_layers WHERE diff_id = ? AND diff_size "
                              "IS NOT NULL LIMIT 1", (layer.diff_id,))
    if row is not None:
        return int(row["diff_size"])
    size = 0
    with images.store.blobs.open(layer.blob_digest) as f:
        stream = compression.open_decompressed(f)
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            size += len(chunk)
    layer.diff_size = size
    return size


class _uncompressed:
    """The layer's tar stream, checked against its DiffID as it is read."""

    def __init__(self, images: ImageStore, layer: Layer) -> None:
        self._file = images.store.blobs.open(layer.blob_digest)
        self._stream = compression.open_decompressed(self._file)
        self._hasher = hashlib.sha256()
        self._layer = layer

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self._hasher.update(data)
        return data

    def __enter__(self) -> _uncompressed:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._file.close()
        if exc_type is None and "sha256:" + self._hasher.hexdigest() != self._layer.diff_id:
            raise DigestMismatch(f"stored layer {self._layer.blob_digest} does not match its DiffID "
                                 f"{self._layer.diff_id}")
