"""Build small images (config + layers + manifest) in a berth blob store for the registry tests."""
from __future__ import annotations

import gzip
import io
import json
import os
import socket
import tarfile
from dataclasses import dataclass

from berth.store.blobs import BlobStore, sha256_digest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass
class SampleImage:
    config: str
    layers: list[tuple[str, int]]  # (digest, size)
    manifest: bytes

    @property
    def blobs(self) -> list[str]:
        return [self.config] + [d for d, _size in self.layers]

    @property
    def manifest_digest(self) -> str:
        return sha256_digest(self.manifest)


def tar_gz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def make_image(blobs: BlobStore, big_layer_size: int = 300 * 1024, seed: str = "") -> SampleImage:
    """A config, a small layer and a big one (incompressible, for chunked uploads)."""
    small = tar_gz({"etc/hello": f"hello {seed}\n".encode()})
    big = tar_gz({"data/random.bin": os.urandom(big_layer_size)})
    layers = []
    for data in (small, big):
        layers.append((blobs.write_bytes(data), len(data)))
    diff_ids = [sha256_digest(gzip.decompress(blobs.read(d))) for d, _size in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["/bin/sh"], "Env": [f"SEED={seed}"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    config_digest = blobs.write_bytes(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": d, "size": s} for d, s in layers],
    }, indent=2).encode()
    return SampleImage(config_digest, layers, manifest)
