"""``export`` (a tar of the merged root filesystem) and ``commit`` (the upper dir as a new layer)."""
from __future__ import annotations

import contextlib
import os
import stat
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, Optional

from .. import runtime
from ..errors import BerthError, InvalidArgument
from .layout import is_mounted
from .records import Container
from .service import ContainerService

# Docker leaves these out of a committed layer: the engine writes them for each container.
_RUNTIME_FILES = ("etc/hostname", "etc/hosts", "etc/resolv.conf")


@contextlib.contextmanager
def merged_rootfs(service: ContainerService, c: Container) -> Iterator[str]:
    """The container's merged root filesystem, mounted for the duration if it is not running."""
    paths = service.paths(c.id)
    if is_mounted(paths.rootfs):
        yield paths.rootfs
        return
    image = service.images.get(c.image_id)
    target = tempfile.mkdtemp(prefix=f".export-{c.id[:12]}-", dir=paths.dir)
    try:
        # read-only view: lowers plus the upper dir, so a stopped container's work stays intact
        runtime.mount_rootfs([paths.upper] + service.images.lowerdirs(image), "", "", target,
                             readonly=True)
        try:
            yield target
        finally:
            runtime.unmount_rootfs(target)
    finally:
        os.rmdir(target)


def _add_tree(tar: tarfile.TarFile, root: str) -> None:
    """Add ``root``'s content without following symlinks or crossing into other filesystems."""
    root_dev = os.lstat(root).st_dev
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        keep = []
        for name in sorted(dirnames):
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            arc = os.path.normpath(os.path.join(rel_dir, name))
            tar.add(full, arcname=arc, recursive=False)
            if stat.S_ISDIR(st.st_mode) and st.st_dev == root_dev:
                keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if stat.S_ISSOCK(os.lstat(full).st_mode):
                continue  # tar has no socket type (Docker skips them too)
            tar.add(full, arcname=os.path.normpath(os.path.join(rel_dir, name)), recursive=False)


def export(service: ContainerService, ref: str, out: BinaryIO) -> None:
    c = service.resolve(ref)
    with merged_rootfs(service, c) as root:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _add_tree(tar, root)


def commit(service: ContainerService, ref: str, repository: Optional[str] = None,
           author: str = "", message: str = "", changes: Sequence[str] = (),
           pause: bool = True) -> Any:
    """A new image: the container's image plus its upper dir as one more layer."""
    from ..image import config as image_config
    from ..image import layers as image_layers
    from ..image import mediatypes as mt
    from ..image.snapshots import LayerInfo

    c = service.resolve(ref)
    images = service.images
    base = images.get(c.image_id)
    paused_here = False
    if pause and c.status == "running":
        service.pause(c.id)
        paused_here = True
    try:
        with tempfile.TemporaryFile(dir=service.paths(c.id).dir) as diff:
            image_layers.write_diff(service.paths(c.id).upper, diff, exclude=_RUNTIME_FILES)
            diff.seek(0)
            with images.store.writing():
                parent_chain = base.layers[-1].chain_id if base.layers else None
                layer = images.snapshots.ingest(diff, parent_chain, mt.OCI_LAYER)  # type: ignore[arg-type]
    finally:
        if paused_here:
            service.unpause(c.id)
    config = dict(base.config.get("config") or {})
    for key in ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "StopSignal",
                "ExposedPorts", "Volumes"):
        value = c.config.get(key)
        if value is not None:
            config[key] = value
    if changes:
        from ..build.changes import apply_changes

        config = apply_changes(config, list(changes))
    history = list(base.config.get("history") or [])
    created = image_config.now_rfc3339()
    entry: dict[str, Any] = {"created": created, "created_by": " ".join(
        (c.config.get("Entrypoint") or []) + (c.config.get("Cmd") or []))}
    if author:
        entry["author"] = author
    if message:
        entry["comment"] = message
    history.append(entry)
    cfg = image_config.new_config(base.diff_ids + [layer.diff_id], config, history, created,
                                  author or None)
    cfg["container"] = c.id
    previous = [LayerInfo(l.diff_id, l.blob_digest, l.blob_size, l.media_type, l.chain_id)
                for l in base.layers]
    tags = [repository] if repository else []
    try:
        return images.register(image_config.encode(cfg), previous + [layer], tags, parent=base.id)
    except BerthError:
        raise
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"commit failed: {e}") from None


__all__ = ["commit", "export", "merged_rootfs"]
