"""The container table: one row per container with its structured spec, computed config and last
known state (JSON columns), plus lookup by ID, unique ID prefix or name."""
from __future__ import annotations

import json
from typing import Any, Optional

from ..errors import Conflict, NotFound
from ..store import Store
from ..values import Value, field
from .names import ID_PATTERN, check_name, random_name
from .spec import ContainerSpec

MIGRATIONS = [
    """
    CREATE TABLE containers (
        id        TEXT PRIMARY KEY,     -- 64 hex digits
        name      TEXT NOT NULL UNIQUE, -- without the leading '/'
        image_id  TEXT NOT NULL,        -- sha256:... (holder 'container:<id>' in image_users)
        image_ref TEXT NOT NULL,        -- the image as the user named it
        created   TEXT NOT NULL,        -- RFC 3339
        spec      TEXT NOT NULL,        -- ContainerSpec as JSON: what the user asked for
        config    TEXT NOT NULL,        -- Docker-shaped Config computed at create
        state     TEXT NOT NULL         -- last known state (shim state.json + berth's flags)
    );
    """,
]

#: state of a container that has never been started
CREATED_STATE: dict[str, Any] = {
    "status": "created", "pid": 0, "shim_pid": 0, "exit_code": 0, "oom_killed": False,
    "error": "", "started_at": "0001-01-01T00:00:00Z", "finished_at": "0001-01-01T00:00:00Z",
    "restart_count": 0, "manually_stopped": False,
}


class Container(Value):
    """One container as the database keeps it: identity, image, spec, Docker config and state."""
    id: str
    name: str
    image_id: str
    image_ref: str
    created: str
    spec: ContainerSpec
    config: dict[str, Any]
    state: dict[str, Any] = field(default_factory=lambda: dict(CREATED_STATE))

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def status(self) -> str:
        """created | running | paused | restarting | exited | removing | dead"""
        return str(self.state.get("status") or "created")

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused", "restarting")


class Records:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db
        self.db.ensure_schema("container", MIGRATIONS)

    @staticmethod
    def _load(row: Any) -> Container:
        state = dict(CREATED_STATE)
        state.update(json.loads(row["state"]))
        return Container(row["id"], row["name"], row["image_id"], row["image_ref"], row["created"],
                         ContainerSpec.from_dict(json.loads(row["spec"])),
                         json.loads(row["config"]), state)

    def insert(self, c: Container) -> None:
        with self.db.transaction() as tx:
            self._check_free(tx, c.name)
            tx.execute("INSERT INTO containers (id, name, image_id, image_ref, created, spec, config, "
                       "state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (c.id, c.name, c.image_id, c.image_ref, c.created,
                        json.dumps(c.spec.to_dict()), json.dumps(c.config), json.dumps(c.state)))

    def _check_free(self, tx: Any, name: str) -> None:
        row = tx.execute("SELECT id FROM containers WHERE name = ?", (name,)).fetchone()
        if row is not None:
            raise Conflict(f'The container name "/{name}" is already in use by container '
                           f'"{row["id"]}". You have to remove (or rename) that container to be '
                           "able to reuse that name.")

    def free_name(self) -> str:
        for attempt in range(20):
            name = random_name(attempt)
            if self.db.query_one("SELECT 1 FROM containers WHERE name = ?", (name,)) is None:
                return name
        raise Conflict("could not generate a unique container name")

    def save_state(self, cid: str, state: dict[str, Any]) -> None:
        with self.db.transaction() as tx:
            tx.execute("UPDATE containers SET state = ? WHERE id = ?", (json.dumps(state), cid))

    def rename(self, cid: str, new_name: str) -> None:
        new_name = check_name(new_name)
        with self.db.transaction() as tx:
            self._check_free(tx, new_name)
            tx.execute("UPDATE containers SET name = ? WHERE id = ?", (new_name, cid))

    def delete(self, cid: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM containers WHERE id = ?", (cid,))

    def get(self, cid: str) -> Optional[Container]:
        row = self.db.query_one("SELECT * FROM containers WHERE id = ?", (cid,))
        return self._load(row) if row else None

    def all(self) -> list[Container]:
        return [self._load(r) for r in self.db.query("SELECT * FROM containers ORDER BY created DESC")]

    def resolve(self, ref: str) -> Container:
        """Full ID, exact name (with or without '/'), or unique ID prefix — Docker's order."""
        text = ref[1:] if ref.startswith("/") else ref
        if ID_PATTERN.match(text):
            row = self.db.query_one("SELECT * FROM containers WHERE id = ?", (text,))
            if row:
                return self._load(row)
        row = self.db.query_one("SELECT * FROM containers WHERE name = ?", (text,))
        if row:
            return self._load(row)
        if text and all(ch in "0123456789abcdef" for ch in text):
            rows = self.db.query("SELECT * FROM containers WHERE id LIKE ? LIMIT 2", (text + "%",))
            if len(rows) == 1:
                return self._load(rows[0])
            if len(rows) > 1:
                raise Conflict(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")
