"""Volumes of the ``local`` driver: a row in the database and ``<root>/volumes/<name>/_data``.

The database also records who uses a volume (``container:<id>``, like image users) so that
``volume rm`` of a volume in use is refused and ``prune`` removes only unused ones, and which
running containers hold the host mount of a volume with driver options (tmpfs, bind, device): the
last one to let go unmounts it.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from ..errors import Conflict, InvalidArgument, NotFound
from ..store import Store
from ..values import Value, field
from . import local

#: Docker marks anonymous volumes with this label; ``prune`` without ``--all`` removes only those.
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
LIST_FILTERS = ("dangling", "name", "label", "driver")
PRUNE_FILTERS = ("label", "label!", "all")

MIGRATIONS = [
    """
    CREATE TABLE volumes (
        name     TEXT PRIMARY KEY,
        driver   TEXT NOT NULL,
        created  TEXT NOT NULL,        -- RFC 3339, seconds
        labels   TEXT NOT NULL,        -- JSON object
        options  TEXT NOT NULL         -- JSON object: the driver options (-o)
    );
    CREATE TABLE volume_users (        -- containers that reference the volume (mounted or not)
        name     TEXT NOT NULL REFERENCES volumes(name),
        holder   TEXT NOT NULL,        -- container:<id>
        PRIMARY KEY (name, holder)
    );
    CREATE TABLE volume_mounts (       -- running containers holding the host mount of a volume
        name     TEXT NOT NULL REFERENCES volumes(name),
        holder   TEXT NOT NULL,
        PRIMARY KEY (name, holder)
    );
    """,
]


class Volume(Value):
    """A volume's record: its driver, where its data lives, labels and driver options."""
    name: str
    driver: str
    created: str
    mountpoint: str
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.labels

    def inspect(self) -> dict[str, Any]:
        """``volume inspect``'s document, Docker's shape."""
        return {"CreatedAt": self.created, "Driver": self.driver, "Labels": dict(self.labels),
                "Mountpoint": self.mountpoint, "Name": self.name, "Options": dict(self.options),
                "Scope": "local"}


def check_name(name: str) -> str:
    if len(name) < 2 and NAME_PATTERN.match(name + "x"):
        raise InvalidArgument(f"create {name}: volume name is too short, names should be at "
                              "least two alphanumeric characters")
    if not NAME_PATTERN.match(name):
        raise InvalidArgument(f'create {name}: "{name}" includes invalid characters for a local '
                              'volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you '
                              "intended to pass a host directory, use absolute path")
    return name


def parse_filters(items: Iterable[str], allowed: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in allowed:
            raise InvalidArgument(f"invalid filter '{item}'")
        if key in ("dangling", "all") and value.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"invalid filter '{item}'")
        out.setdefault(key, []).append(value)
    return out


def _truthy(values: Sequence[str]) -> bool:
    return values[-1].lower() in ("true", "1")


def _label_match(labels: Mapping[str, str], want: str) -> bool:
    key, sep, value = want.partition("=")
    return key in labels and (not sep or labels[key] == value)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def tree_size(path: str) -> int:
    """Bytes under ``path`` (files counted once, symlinks not followed)."""
    total, seen = 0, set()
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size if not os.path.isdir(os.path.join(dirpath, name)) else 0
    return total


class VolumeStore:
    def __init__(self, store: Optional[Store] = None) -> None:
        self.store = store or Store()
        self.db = self.store.db
        self.db.ensure_schema("volume", MIGRATIONS)
        self.root = os.path.join(self.store.root, "volumes")

    def path(self, name: str) -> str:
        """The directory holding the data of volume ``name`` (what containers mount)."""
        return os.path.join(self.root, name, "_data")

    def _load(self, row: Any) -> Volume:
        return Volume(row["name"], row["driver"], row["created"], self.path(row["name"]),
                      json.loads(row["labels"]), json.loads(row["options"]))

    # -- create / lookup ----------------------------------------------------------------------

    def create(self, name: Optional[str] = None, driver: str = local.DRIVER,
               labels: Optional[Mapping[str, str]] = None,
               options: Optional[Mapping[str, str]] = None, anonymous: bool = False) -> Volume:
        """Create a volume; an existing one of that name is returned as it is (Docker does so)."""
        if driver != local.DRIVER:
            raise NotFound(f"plugin \"{driver}\" not found: only the local driver is available")
        opts = local.validate_options(options or {})
        labels = dict(labels or {})
        if anonymous or not name:
            labels[ANONYMOUS_LABEL] = ""
            name = name or os.urandom(32).hex()
        check_name(name)
        existing = self.find(name)
        if existing is not None:
            return existing
        with self.store.lock(f"volume-{name}"):
            return self._create_locked(name, driver, labels, opts)

    def _create_locked(self, name: str, driver: str, labels: dict[str, str],
                       opts: dict[str, str]) -> Volume:
        existing = self.find(name)
        if existing is not None:
            return existing
        vol_dir = os.path.dirname(self.path(name))
        os.makedirs(self.root, 0o701, exist_ok=True)
        try:
            os.mkdir(vol_dir, 0o755)
        except FileExistsError:
            # left by a crash between mkdir and insert: no row owns it and we hold the lock
            local.unmount_volume(self.path(name))
            shutil.rmtree(vol_dir)
            os.mkdir(vol_dir, 0o755)
        try:
            os.mkdir(self.path(name), 0o755)
            with self.db.transaction() as tx:
                tx.execute("INSERT INTO volumes (name, driver, created, labels, options) "
                           "VALUES (?, ?, ?, ?, ?)", (name, driver, _now(), json.dumps(labels),
                                                      json.dumps(opts)))
        except BaseException:
            shutil.rmtree(vol_dir, ignore_errors=True)
            raise
        return self.get(name)

    def find(self, name: str) -> Optional[Volume]:
        row = self.db.query_one("SELECT * FROM volumes WHERE name = ?", (name,))
        return self._load(row) if row else None

    def get(self, name: str) -> Volume:
        vol = self.find(name)
        if vol is None:
            raise NotFound(f"get {name}: no such volume")
        return vol

    def all(self) -> list[Volume]:
        return [self._load(r) for r in self.db.query("SELECT * FROM volumes ORDER BY name")]

    def list(self, filters: Optional[Mapping[str, Sequence[str]]] = None) -> list[Volume]:
        """Docker's filters: dangling=true|false, name=<substring>, label=k[=v], driver=local."""
        filters = filters or {}
        used = self._used_names()
        out = []
        for vol in self.all():
            if "dangling" in filters and _truthy(filters["dangling"]) == (vol.name in used):
                continue
            if "name" in filters and not any(v in vol.name for v in filters["name"]):
                continue
            if "driver" in filters and vol.driver not in filters["driver"]:
                continue
            if "label" in filters and not all(_label_match(vol.labels, v)
                                              for v in filters["label"]):
                continue
            out.append(vol)
        return out

    # -- users --------------------------------------------------------------------------------

    def add_user(self, name: str, holder: str) -> None:
        try:
            with self.db.transaction() as tx:
                tx.execute("INSERT OR IGNORE INTO volume_users (name, holder) VALUES (?, ?)",
                           (name, holder))
        except sqlite3.IntegrityError:
            raise NotFound(f"get {name}: no such volume") from None

    def remove_user(self, name: str, holder: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM volume_users WHERE name = ? AND holder = ?", (name, holder))

    def users(self, name: str) -> list[str]:
        return [r["holder"] for r in self.db.query(
            "SELECT holder FROM volume_users WHERE name = ? ORDER BY holder", (name,))]

    def _used_names(self) -> set[str]:
        return {r["name"] for r in self.db.query("SELECT DISTINCT name FROM volume_users")}

    # -- host mounts of volumes with driver options -------------------------------------------

    def mount(self, name: str, holder: str) -> str:
        """The path a container binds; mounts the driver's filesystem there for the first holder."""
        vol = self.get(name)
        if not local.needs_mount(vol.options):
            return vol.mountpoint
        with self.store.lock(f"volume-{name}"):
            with self.db.transaction() as tx:
                tx.execute("INSERT OR IGNORE INTO volume_mounts (name, holder) VALUES (?, ?)",
                           (name, holder))
            try:
                if not local.is_mounted(vol.mountpoint):
                    local.mount_volume(vol.options, vol.mountpoint)
            except BaseException:
                with self.db.transaction() as tx:
                    tx.execute("DELETE FROM volume_mounts WHERE name = ? AND holder = ?",
                               (name, holder))
                raise
        return vol.mountpoint

    def unmount(self, name: str, holder: str) -> None:
        """Let go of the host mount; the last holder unmounts it. Safe to repeat."""
        vol = self.find(name)
        if vol is None or not local.needs_mount(vol.options):
            return
        with self.store.lock(f"volume-{name}"):
            with self.db.transaction() as tx:
                tx.execute("DELETE FROM volume_mounts WHERE name = ? AND holder = ?",
                           (name, holder))
                left = tx.execute("SELECT COUNT(*) AS n FROM volume_mounts WHERE name = ?",
                                  (name,)).fetchone()["n"]
            if not left:
                local.unmount_volume(self.path(name))

    # -- removal ------------------------------------------------------------------------------

    def remove(self, name: str, force: bool = False) -> None:
        """Delete a volume and its data; refused while a container uses it."""
        try:
            self.get(name)
        except NotFound:
            if force:
                return
            raise
        with self.store.lock(f"volume-{name}"):
            with self.db.transaction() as tx:
                holders = [r["holder"] for r in tx.execute(
                    "SELECT holder FROM volume_users WHERE name = ? ORDER BY holder", (name,))]
                if holders:
                    ids = ", ".join(h.split(":", 1)[-1] for h in holders)
                    raise Conflict(f"remove {name}: volume is in use - [{ids}]")
                tx.execute("DELETE FROM volume_mounts WHERE name = ?", (name,))
                if tx.execute("DELETE FROM volumes WHERE name = ?", (name,)).rowcount == 0:
                    if force:
                        return
                    raise NotFound(f"get {name}: no such volume")
            self._delete_data(name)

    def _delete_data(self, name: str) -> None:
        local.unmount_volume(self.path(name))
        shutil.rmtree(os.path.dirname(self.path(name)), ignore_errors=True)

    def prune(self, filters: Optional[Mapping[str, Sequence[str]]] = None) -> tuple[list[str], int]:
        """Remove unused volumes: anonymous ones, or all with ``all=true`` (Docker 23+ rules).
        Returns the names removed and the bytes reclaimed."""
        filters = filters or {}
        everything = "all" in filters and _truthy(filters["all"])
        removed, reclaimed = [], 0
        for vol in self.list({"dangling": ["true"]}):
            if not everything and not vol.anonymous:
                continue
            if not all(_label_match(vol.labels, v) for v in filters.get("label", ())):
                continue
            if any(_label_match(vol.labels, v) for v in filters.get("label!", ())):
                continue
            size = tree_size(vol.mountpoint) if not local.needs_mount(vol.options) else 0
            try:
                self.remove(vol.name)
            except (Conflict, NotFound):
                continue  # taken into use (or removed) since the listing
            removed.append(vol.name)
            reclaimed += size
        return removed, reclaimed
