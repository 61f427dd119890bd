"""The mounts of a container: volumes, binds and tmpfs from ``-v``, ``--mount``, ``--tmpfs``,
``--volumes-from`` and the image's ``VOLUME``s — resolved once at create, set up at each start,
released when the run ends, forgotten at ``rm`` — plus the ``--init`` binary.

Precedence, as Docker's: the image's volumes < ``--volumes-from`` < ``-v``/``--mount``/``--tmpfs``
(two of the latter on one destination are an error). The resolved mount points are kept in the
container's state (``mounts``), so ``inspect`` and later starts do not re-resolve anything.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..errors import Conflict, InvalidArgument, NotFound
from ..volume.mountpoints import MountPoint, mount_point, parse_tmpfs, parse_volume, tmpfs_point

if TYPE_CHECKING:
    from ..volume.store import VolumeStore

#: the container service's volume store, made on first use: a container without volumes does
#: not import the volume store (sqlite schema, driver options, datetime)
VolumeSource = Callable[[], "VolumeStore"]

INIT_PATH = "/sbin/berth-init"
_INIT_CANDIDATES = ("/usr/bin/tini-static", "/usr/bin/tini")
#: Docker's defaults for every tmpfs mount; the user's options come after and may override them
_TMPFS_DEFAULTS = ["noexec", "nosuid", "nodev"]


def holder(cid: str) -> str:
    return f"container:{cid}"


def parse_volumes_from(text: str) -> tuple[str, Optional[bool]]:
    """``CONTAINER[:ro|rw]`` -> (container, read-write override or None)."""
    ref, mode = text.split(":", 1) if ":" in text else (text, "")
    if not ref or mode not in ("", "ro", "rw"):
        raise InvalidArgument(f"invalid --volumes-from value: '{text}'")
    return ref, None if not mode else mode == "rw"


def requested(spec: Any) -> list[MountPoint]:
    """The user's mounts of ``spec`` (-v, --mount, --tmpfs), syntax checked, host untouched."""
    points = [parse_volume(text) for text in spec.binds]
    points += [mount_point(m) for m in getattr(spec, "mounts", None) or ()]
    points += [tmpfs_point(*parse_tmpfs(f"{dest}:{opts}" if opts else dest))
               for dest, opts in (getattr(spec, "tmpfs", None) or {}).items()]
    seen: set[str] = set()
    for p in points:
        if p.destination in seen:
            raise InvalidArgument(f"Duplicate mount point: {p.destination}")
        seen.add(p.destination)
    for text in getattr(spec, "volumes_from", None) or ():
        parse_volumes_from(text)
    return points


def _image_volumes(image_config: Any) -> list[str]:
    cfg = (image_config or {}).get("config") or {}
    return sorted((cfg.get("Volumes") or {}).keys())


def plan(volumes: VolumeSource, records: Any, spec: Any, image_config: Any, cid: str,
         undo: contextlib.ExitStack) -> list[MountPoint]:
    """Resolve every mount of a new container: create the named volumes it names and do not exist
    yet, its anonymous volumes, and record it as a user of each. Each step registers its undo."""
    user = requested(spec)
    by_dest: dict[str, MountPoint] = {}
    for dest in _image_volumes(image_config):
        point = MountPoint("volume", os.path.normpath(dest), driver="local", copy=True,
                           anonymous=True)
        by_dest[point.destination] = point
    for text in getattr(spec, "volumes_from", None) or ():
        ref, rw = parse_volumes_from(text)
        other = records.resolve(ref)
        if other.id == cid:
            raise InvalidArgument("a container cannot take volumes from itself")
        for p in points_of(other):
            shared = MountPoint.from_dict(p.to_dict())
            shared.rw = p.rw if rw is None else (p.rw and rw)
            shared.mode = "" if rw is None else ("rw" if rw else "ro")
            shared.copy = shared.anonymous = shared.create_source = False
            by_dest[shared.destination] = shared
    for p in user:
        if p.type == "bind" and not p.create_source and not os.path.exists(p.source):
            raise InvalidArgument(f'invalid mount config for type "bind": bind source path does '
                                  f"not exist: {p.source}")
        by_dest[p.destination] = p
    points = list(by_dest.values())
    for p in points:
        if p.type == "volume":
            _attach_volume(volumes(), p, cid, undo)
    return points


def _attach_volume(volumes: VolumeStore, p: MountPoint, cid: str,
                   undo: contextlib.ExitStack) -> None:
    if not p.name or volumes.find(p.name) is None:
        vol = volumes.create(p.name or None, labels=p.volume_labels, options=p.volume_options,
                             anonymous=p.anonymous)
        undo.callback(_remove_quietly, volumes, vol.name)
        p.name = vol.name
    volumes.add_user(p.name, holder(cid))
    undo.callback(volumes.remove_user, p.name, holder(cid))
    p.source = volumes.path(p.name)
    p.driver = "local"


def _remove_quietly(volumes: VolumeStore, name: str) -> None:
    with contextlib.suppress(Conflict, NotFound):
        volumes.remove(name)


def points_of(c: Any) -> list[MountPoint]:
    """The resolved mount points of container ``c`` (containers made before volumes existed have
    only their ``-v`` binds)."""
    stored = c.state.get("mounts")
    if stored is not None:
        return [MountPoint.from_dict(d) for d in stored]
    return [p for p in (parse_volume(t) for t in c.spec.binds) if p.type == "bind"]


def docker_mounts(c: Any) -> list[dict[str, Any]]:
    """The ``Mounts`` list of ``inspect`` for container ``c`` (a bare list of ``-v`` strings, the
    older call, gives its binds only)."""
    if isinstance(c, (list, tuple)):
        return [p.docker() for p in (parse_volume(t) for t in c) if p.type == "bind"]
    return [p.docker() for p in points_of(c)]


def prepare(volumes: VolumeSource, points: Iterable[MountPoint], rootfs: str, cid: str,
            undo: contextlib.ExitStack) -> None:
    """At start, with the root filesystem mounted: mount volumes with driver options on the host,
    seed empty volumes with the image's content, create missing ``-v`` bind sources."""
    for p in points:
        if p.type == "volume":
            store = volumes()
            path = store.mount(p.name, holder(cid))
            undo.callback(store.unmount, p.name, holder(cid))
            if p.copy:
                from ..volume.copyup import copy_up

                with store.store.lock(f"volume-{p.name}"):
                    copy_up(rootfs, p.destination, path)
        elif p.type == "bind" and not os.path.exists(p.source):
            if not p.create_source:
                raise InvalidArgument(f"bind source path does not exist: {p.source}")
            os.makedirs(p.source, 0o755, exist_ok=True)


def release(volumes: VolumeSource, c: Any) -> None:
    """The run of ``c`` is over: let go of the host mounts its volumes hold."""
    for p in points_of(c):
        if p.type == "volume" and p.name:
            volumes().unmount(p.name, holder(c.id))


def forget(volumes: VolumeSource, c: Any, remove_anonymous: bool) -> None:
    """``c`` is being removed: it no longer uses its volumes; with ``rm -v`` (or ``--rm``) its
    anonymous volumes go too, unless another container still uses them."""
    for p in points_of(c):
        if p.type != "volume" or not p.name:
            continue
        volumes().remove_user(p.name, holder(c.id))
        if remove_anonymous and p.anonymous:
            with contextlib.suppress(Conflict, NotFound):
                volumes().remove(p.name)


def _depth(point: MountPoint) -> int:
    return len([part for part in point.destination.split("/") if part])


def oci_mounts(points: Sequence[MountPoint]) -> list[dict[str, Any]]:
    """OCI mount entries, parents before children (Docker sorts by destination depth)."""
    out = []
    for p in sorted(points, key=_depth):
        if p.type == "tmpfs":
            out.append({"destination": p.destination, "type": "tmpfs", "source": "tmpfs",
                        "options": _TMPFS_DEFAULTS + ["rprivate"] + list(p.tmpfs_options)})
            continue
        options = ["rbind", p.propagation or "rprivate"] + ([] if p.rw else ["ro"])
        out.append({"destination": p.destination, "type": "bind", "source": p.source,
                    "options": options})
    return out


def init_binary() -> Optional[str]:
    for path in _INIT_CANDIDATES:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    found = shutil.which("tini-static")
    return found


def init_mount() -> dict[str, Any]:
    binary = init_binary()
    if binary is None:
        raise NotFound("--init needs tini: install Debian's tini package (/usr/bin/tini-static)")
    return {"destination": INIT_PATH, "type": "bind", "source": binary,
            "options": ["bind", "ro", "nosuid", "nodev"]}


__all__ = ["INIT_PATH", "docker_mounts", "forget", "init_mount", "oci_mounts",
           "plan", "points_of", "prepare", "release", "requested"]
