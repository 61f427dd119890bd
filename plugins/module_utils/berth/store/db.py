"""SQLite metadata database: WAL, one transaction per state change, per-component migrations."""
from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import BerthError

# Each component (image, container, network, ...) owns its tables and their migrations; the version a
# database is at is recorded per component so packages evolve their schemas independently.
_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_versions (
    component TEXT PRIMARY KEY,
    version   INTEGER NOT NULL
)
"""


class Database:
    """One SQLite file shared by every berth process (CLI, modules, daemon, shims)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._schemas_ready: set[str] = set()

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            os.chmod(self.path, 0o600)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; any exception rolls the whole change back."""
        conn = self.conn
        if conn.in_transaction:  # nested use joins the outer transaction
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        cursor = self.conn.execute(sql, params)
        try:
            return cursor.fetchone()
        finally:
            # An unfinished statement keeps its read snapshot open: a long-lived process (berthd)
            # would then never see what other processes commit.
            cursor.close()

    def ensure_schema(self, component: str, migrations: Sequence[str]) -> None:
        """Apply the migrations of ``component`` not yet applied, each in its own transaction."""
        if component in self._schemas_ready:
            return
        conn = self.conn
        conn.execute(_BOOTSTRAP)
        row = self.query_one("SELECT version FROM schema_versions WHERE component = ?", (component,))
        current = row["version"] if row else 0
        if current > len(migrations):
            raise BerthError(f"the {component} schema in {self.path} is version {current}, newer than "
                             f"this berth ({len(migrations)}); upgrade berth")
        for version in range(current + 1, len(migrations) + 1):
            with self.transaction() as tx:
                # Re-check inside the write lock: another process may have migrated meanwhile.
                row = tx.execute("SELECT version FROM schema_versions WHERE component = ?",
                                 (component,)).fetchone()
                if row and row["version"] >= version:
                    continue
                for statement in _statements(migrations[version - 1]):
                    tx.execute(statement)
                tx.execute("INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                           "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                           (component, version))
        self._schemas_ready.add(component)


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (executescript would commit our transaction)."""
    statements, buf = [], ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n\t;"):
                statements.append(buf.strip())
            buf = ""
    return statements
