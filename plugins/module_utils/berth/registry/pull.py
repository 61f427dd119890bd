"""``berth pull``: an image from a registry (through its mirrors) into the image store.

Manifest (index -> platform -> image manifest), then the config, then the layers in parallel. Each
layer streams from the registry straight into ``Snapshots.ingest``, which stores the blob and unpacks
it in the same pass while the blob digest, size and DiffID are checked; nothing is registered unless
every check passed. Content already present (blobs, snapshots) is not fetched again, so a pull that
was interrupted continues where it stopped.
"""
from __future__ import annotations

import io
import threading
from collections import deque
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from ..errors import BerthError, DigestMismatch, InvalidArgument, NotFound
from ..image import Image, ImageStore, LayerInfo, chain_ids
from ..image import config as image_config
from ..image import manifest as mf
from ..image import mediatypes as mt
from ..image import reference
from .config import DaemonConfig
from .credentials import CredentialStore
from .progress import Progress
from .records import Records
from .registry import Registry
from .transfer import fetch_blob

MAX_CONFIG_SIZE = 16 << 20
MAX_INDEX_DEPTH = 2
DEFAULT_WORKERS = 3
_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "i386": "386"}


class Cancelled(BerthError):
    """Another layer failed or the user interrupted: stop moving bytes."""


def parse_platform(text: str | None) -> dict[str, str]:
    """``os/arch[/variant]`` (Docker's --platform) -> {"os", "architecture"[, "variant"]}; the host's
    platform when ``text`` is empty."""
    if not text:
        return image_config.host_platform()
    parts = text.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidArgument(f"invalid platform {text!r}: expected os/arch[/variant]")
    result = {"os": parts[0], "architecture": _ARCH_ALIASES.get(parts[1], parts[1])}
    if len(parts) == 3:
        result["variant"] = parts[2]
    elif result["architecture"] == "arm64":
        result["variant"] = "v8"
    return result


def format_platform(plat: dict[str, str]) -> str:
    return "/".join(p for p in (plat.get("os"), plat.get("architecture"), plat.get("variant")) if p)


@dataclass
class _Resolved:
    """What a reference names on the registry, down to one image manifest."""
    manifest: bytes
    manifest_type: str
    manifest_digest: str
    repo_digest: str  # the digest the reference resolved to: an index's, or the manifest's
    index: bytes | None = None


def pull(images: ImageStore, ref: str, platform: str | None = None, progress: Progress | None = None,
         config: DaemonConfig | None = None, credentials: CredentialStore | None = None,
         workers: int = DEFAULT_WORKERS) -> Image:
    """Pull ``ref`` (name[:tag] or name@sha256:...) and return the registered image."""
    progress = progress or Progress()
    parsed = reference.parse(ref)
    want = parse_platform(platform)
    target = parsed.digest or parsed.tag or reference.DEFAULT_TAG
    progress.message(f"{target}: Pulling from {parsed.path}")
    with Registry(parsed.domain, config, credentials) as registry:
        resolved = _resolve(registry, parsed.path, target, want)
        blobs = images.store.blobs
        with images.store.writing():
            config_desc, layer_descs = mf.parse_manifest(resolved.manifest, resolved.manifest_type)
            config_bytes = _fetch_config(registry, images, parsed.path, config_desc)
            cfg = image_config.validate(config_bytes)
            if platform:
                _check_platform(cfg, want, str(parsed))
            diff_ids = cfg["rootfs"]["diff_ids"]
            if len(diff_ids) != len(layer_descs):
                raise InvalidArgument(f"manifest of {parsed.familiar} lists {len(layer_descs)} layers "
                                      f"but its config {len(diff_ids)}")
            layers = _fetch_layers(registry, images, parsed.path, layer_descs, diff_ids, progress, workers)
            # Keep the documents: RepoDigests name them, and a later push can reuse them unchanged.
            blobs.write_bytes(resolved.manifest, resolved.manifest_digest)
            before = _tagged_image(images, parsed)
            image = images.register(config_bytes, layers, [str(parsed)] if parsed.tag else [],
                                    manifest_digest=resolved.manifest_digest,
                                    manifest_media_type=resolved.manifest_type)
            if resolved.index is not None:
                blobs.write_bytes(resolved.index, resolved.repo_digest)
                with images.db.transaction() as tx:
                    tx.execute("INSERT OR IGNORE INTO content_refs (digest, holder) VALUES (?, ?)",
                               (resolved.repo_digest, "image:" + image.id))
            images.add_repo_digest(parsed.repository, resolved.repo_digest, image.id)
        Records(images.db).add_sources(parsed.domain, parsed.path,
                                       [config_desc["digest"]] + [d["digest"] for d in layer_descs])
    progress.message(f"Digest: {resolved.repo_digest}")
    name = parsed.familiar
    if before == image.id:
        progress.message(f"Status: Image is up to date for {name}")
    else:
        progress.message(f"Status: Downloaded newer image for {name}")
    return images.get(image.id)


def _tagged_image(images: ImageStore, parsed: reference.Reference) -> str | None:
    """The image ``parsed`` names locally before this pull, if any."""
    if parsed.tag:
        row = images.db.query_one("SELECT image_id FROM tags WHERE name = ?", (str(parsed),))
    else:
        row = images.db.query_one("SELECT image_id FROM repo_digests WHERE repository = ? AND digest = ?",
                                  (parsed.repository, parsed.digest))
    return row["image_id"] if row else None


def _resolve(registry: Registry, repo: str, target: str, want: dict[str, str]) -> _Resolved:
    raw, media_type, digest = registry.get_manifest(repo, target)
    repo_digest, index = digest, None
    for _level in range(MAX_INDEX_DEPTH):
        if media_type not in mt.INDEX_TYPES:
            break
        index = raw
        entry = mf.select_platform(mf.parse_index(raw), want)
        if entry is None:
            raise NotFound(f"no matching manifest for {format_platform(want)} in the manifest list "
                           f"entries of {registry.host}/{repo}")
        raw, media_type, digest = registry.get_manifest(repo, entry["digest"])
        if len(raw) != entry["size"]:
            raise DigestMismatch(f"manifest {entry['digest']} has {len(raw)} bytes, the index says "
                                 f"{entry['size']}")
    if media_type not in mt.MANIFEST_TYPES:
        raise InvalidArgument(f"{registry.host}/{repo}:{target} does not resolve to an image manifest")
    return _Resolved(raw, media_type, digest, repo_digest, index)


def _check_platform(cfg: dict[str, Any], want: dict[str, str], name: str) -> None:
    have = {"os": cfg.get("os"), "architecture": cfg.get("architecture")}
    if have["os"] != want["os"] or have["architecture"] != want["architecture"]:
        raise NotFound(f"image with reference {name} was found but does not match the specified "
                       f"platform: wanted {format_platform(want)}, actual: {format_platform(have)}")


def _fetch_config(registry: Registry, images: ImageStore, repo: str, desc: dict[str, Any]) -> bytes:
    if desc["size"] > MAX_CONFIG_SIZE:
        raise InvalidArgument(f"image config {desc['digest']} is {desc['size']} bytes, more than "
                              f"the {MAX_CONFIG_SIZE} allowed")
    fetch_blob(registry, images.store.blobs, repo, desc["digest"], desc["size"])
    return images.store.blobs.read(desc["digest"])


def _fetch_layers(registry: Registry, images: ImageStore, repo: str, descs: list[dict[str, Any]],
                  diff_ids: list[str], progress: Progress, workers: int) -> list[LayerInfo]:
    chains = chain_ids(diff_ids)
    cancel = threading.Event()
    for desc in descs:
        progress.layer(desc["digest"], "Pulling fs layer")
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="berth-pull") as pool:
        futures: list[Future[LayerInfo]] = [
            pool.submit(_pull_layer, registry, images, repo, desc, diff_id,
                        chains[i - 1] if i else None, progress, cancel)
            for i, (desc, diff_id) in enumerate(zip(descs, diff_ids))]
        try:
            done, _pending = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # KeyboardInterrupt while waiting: stop the workers, keep what is stored
            cancel.set()
            raise
        errors = [f.exception() for f in done if f.exception() is not None]
        if errors:
            cancel.set()
            for f in futures:
                f.cancel()
            wait(futures)
            real = [e for e in errors if not isinstance(e, Cancelled)]
            raise (real or errors)[0]  # type: ignore[misc]
    return [f.result() for f in futures]


def _pull_layer(registry: Registry, images: ImageStore, repo: str, desc: dict[str, Any], diff_id: str,
                parent: str | None, progress: Progress, cancel: threading.Event) -> LayerInfo:
    if cancel.is_set():
        raise Cancelled("pull cancelled")
    digest, size, media_type = desc["digest"], desc["size"], desc["mediaType"]
    blobs, snapshots = images.store.blobs, images.snapshots
    chain = chain_ids([parent, diff_id])[1] if parent else diff_id
    if blobs.exists(digest):
        present = snapshots.exists(chain)
        if not present:
            progress.layer(digest, "Extracting")
        # ingest reads the stored blob itself and only unpacks what is missing.
        info = snapshots.ingest(io.BytesIO(), parent, media_type, expected_blob=digest,
                                expected_size=size, expected_diff_id=diff_id)
        progress.layer(digest, "Already exists" if present else "Pull complete")
        return info
    info = _stream_layer(registry, images, repo, desc, diff_id, parent, progress, cancel)
    progress.layer(digest, "Pull complete")
    return info


class _ChunkPipe:
    """Hands the downloader's chunks to the ingesting thread without copying them (an OS pipe
    copies every byte twice). Holds at most ``limit`` bytes; ``read`` joins what is waiting."""

    def __init__(self, limit: int = 4 << 20) -> None:
        self._chunks: deque[bytes] = deque()
        self._held = 0
        self._limit = limit
        self._cond = threading.Condition()
        self._writer_done = False
        self._reader_gone = False

    def write(self, data: bytes) -> int:
        with self._cond:
            while self._held >= self._limit and not self._reader_gone:
                self._cond.wait()
            if self._reader_gone:
                raise BrokenPipeError("the layer is no longer being read")
            self._chunks.append(bytes(data))
            self._held += len(data)
            self._cond.notify_all()
        return len(data)

    def close_writer(self) -> None:
        """End of stream for the reader, whatever happened to the download."""
        with self._cond:
            self._writer_done = True
            self._cond.notify_all()

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (at least one unless the stream ended): blocks for the first chunk."""
        with self._cond:
            while not self._chunks and not self._writer_done and not self._reader_gone:
                self._cond.wait()
            taken: list[bytes] = []
            size = 0
            while self._chunks and (n is None or n < 0 or size < n):
                chunk = self._chunks.popleft()
                if n is not None and n >= 0 and size + len(chunk) > n:
                    keep = n - size
                    self._chunks.appendleft(chunk[keep:])
                    chunk = chunk[:keep]
                taken.append(chunk)
                size += len(chunk)
            self._held -= size
            self._cond.notify_all()
        return taken[0] if len(taken) == 1 else b"".join(taken)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """The reader stops: the downloader's next write fails, a read still waiting ends."""
        with self._cond:
            self._reader_gone = True
            self._chunks.clear()
            self._held = 0
            self._cond.notify_all()


class _PipeSink:
    """get_blob's sink: counts and forwards the bytes to the pipe ingest reads from.

    It does not hash them: ingest's blob writer does, and refuses to commit a blob that does not
    match its digest. A download that breaks off mid-blob on a mirror resumes on the next server
    after ``size`` bytes without a hash of those either.
    """

    def __init__(self, pipe: _ChunkPipe, digest: str, total: int, progress: Progress,
                 cancel: threading.Event) -> None:
        self.pipe = pipe
        self.size = 0
        self._digest, self._total, self._progress, self._cancel = digest, total, progress, cancel

    def write(self, data: bytes) -> int:
        if self._cancel.is_set():
            raise Cancelled("pull cancelled")
        self.pipe.write(data)
        self.size += len(data)
        self._progress.layer(self._digest, "Downloading", self.size, self._total)
        return len(data)


def _stream_layer(registry: Registry, images: ImageStore, repo: str, desc: dict[str, Any], diff_id: str,
                  parent: str | None, progress: Progress, cancel: threading.Event) -> LayerInfo:
    """Download and ingest at once: a thread puts the registry's bytes into a pipe, this one
    reads them into ingest."""
    digest, size = desc["digest"], desc["size"]
    pipe = _ChunkPipe()
    failure: list[BaseException] = []
    sink = _PipeSink(pipe, digest, size, progress, cancel)

    def download() -> None:
        try:
            # Each byte is hashed once: by ingest's blob writer, which verifies before it commits.
            registry.get_blob(repo, digest, sink, size, verify=False)
        except BaseException as e:  # noqa: BLE001 - handed to the ingesting thread
            failure.append(e)
        finally:
            pipe.close_writer()  # EOF for ingest, whatever happened

    thread = threading.Thread(target=download, name=f"berth-get-{digest[7:19]}", daemon=True)
    thread.start()
    try:
        info = images.snapshots.ingest(pipe, parent, desc["mediaType"], expected_blob=digest,  # type: ignore[arg-type]
                                       expected_size=size, expected_diff_id=diff_id)
    except BaseException as e:
        pipe.close()  # unblocks the downloader (its next write fails)
        thread.join()
        # The downloader's error is the cause (network, registry, digest); ingest only saw a short
        # stream. A broken pipe there just means ingest stopped first.
        cause = next((f for f in failure if not isinstance(f, (BrokenPipeError, Cancelled))), None)
        if cause is not None:
            raise cause from None
        if isinstance(e, BerthError) and cancel.is_set():
            raise Cancelled("pull cancelled") from None
        raise
    pipe.close()
    thread.join()
    progress.layer(digest, "Download complete")
    return info
