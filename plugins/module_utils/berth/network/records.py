"""The network tables: networks, endpoints (a container on a network) and kernel tags.

A *tag* is the id written into every kernel object berth creates (``berth:<tag>`` as iptables rule
comment and link alias; netns files are named by container id). A tag is recorded here before its
first kernel object exists and forgotten after its last one is gone, so ``check()`` can tell this
store's leftovers from objects another berth root on the same host owns.
"""
from __future__ import annotations

import ipaddress
import json
import sqlite3
from datetime import datetime, timezone
from typing import Any, Optional

from ..errors import BerthError
from ..store import Database
from ..values import Value, field

SCHEMA_V1 = """
CREATE TABLE networks (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    driver    TEXT NOT NULL,
    bridge    TEXT UNIQUE,
    subnet    TEXT,
    gateway   TEXT,
    ip_range  TEXT,
    internal  INTEGER NOT NULL DEFAULT 0,
    labels    TEXT NOT NULL DEFAULT '{}',
    options   TEXT NOT NULL DEFAULT '{}',
    created   TEXT NOT NULL
);
CREATE TABLE network_endpoints (
    network_id   TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL,
    endpoint_id  TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    ip           TEXT,
    mac          TEXT,
    ifname       TEXT,
    veth         TEXT,
    aliases      TEXT NOT NULL DEFAULT '[]',
    ports        TEXT NOT NULL DEFAULT '[]',
    created      TEXT NOT NULL,
    PRIMARY KEY (network_id, container_id),
    UNIQUE (network_id, ip)
);
CREATE INDEX network_endpoints_container ON network_endpoints(container_id);
CREATE TABLE network_sandboxes (
    container_id TEXT PRIMARY KEY,
    netns        TEXT NOT NULL,
    created      TEXT NOT NULL
);
CREATE TABLE network_tags (
    tag  TEXT PRIMARY KEY,
    kind TEXT NOT NULL
);
"""
MIGRATIONS = [SCHEMA_V1]


def open_schema(db: Database) -> None:
    db.ensure_schema("network", MIGRATIONS)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Network(Value):
    """A network's row: its driver, bridge and addressing."""
    id: str
    name: str
    driver: str                      # "bridge" | "host" | "null"
    bridge: Optional[str] = None     # the Linux bridge of a bridge network
    subnet: Optional[str] = None
    gateway: Optional[str] = None
    ip_range: Optional[str] = None
    internal: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    created: str = ""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Network:
        return cls(row["id"], row["name"], row["driver"], row["bridge"], row["subnet"],
                   row["gateway"], row["ip_range"], bool(row["internal"]),
                   json.loads(row["labels"]), json.loads(row["options"]), row["created"])

    @property
    def network(self) -> ipaddress.IPv4Network:
        if self.subnet is None:
            raise BerthError(f"network {self.name} has no IPv4 subnet")
        return ipaddress.IPv4Network(self.subnet)

    @property
    def mtu(self) -> Optional[int]:
        value = self.options.get("com.docker.network.driver.mtu")
        return int(value) if value else None

    def insert(self, conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO networks (id, name, driver, bridge, subnet, gateway, ip_range, "
                     "internal, labels, options, created) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                     (self.id, self.name, self.driver, self.bridge, self.subnet, self.gateway,
                      self.ip_range, int(self.internal), json.dumps(self.labels, sort_keys=True),
                      json.dumps(self.options, sort_keys=True), self.created or now()))


class Endpoint(Value):
    """A container's attachment to a network: its address, interface, aliases and ports."""
    network_id: str
    container_id: str
    endpoint_id: str
    name: str = ""
    ip: Optional[str] = None
    mac: Optional[str] = None
    ifname: Optional[str] = None
    veth: Optional[str] = None
    aliases: list[str] = field(default_factory=list)
    # published ports; also the record of whether the container has DNAT rules: written before
    # them, removed after them, so an endpoint without ports needs no iptables call on release
    ports: list[dict[str, Any]] = field(default_factory=list)
    created: str = ""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Endpoint:
        return cls(row["network_id"], row["container_id"], row["endpoint_id"], row["name"],
                   row["ip"], row["mac"], row["ifname"], row["veth"],
                   json.loads(row["aliases"]), json.loads(row["ports"]), row["created"])

    def insert(self, conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO network_endpoints (network_id, container_id, endpoint_id, name, "
                     "ip, mac, ifname, veth, aliases, ports, created) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                     (self.network_id, self.container_id, self.endpoint_id, self.name, self.ip,
                      self.mac, self.ifname, self.veth, json.dumps(self.aliases),
                      json.dumps(self.ports), self.created or now()))


def get_network(db: Database, name_or_id: str) -> Optional[Network]:
    """By exact name, full id or unique id prefix (Docker's lookup order)."""
    row = db.query_one("SELECT * FROM networks WHERE name = ? OR id = ?", (name_or_id, name_or_id))
    if row is None and name_or_id and all(c in "0123456789abcdef" for c in name_or_id):
        rows = db.query("SELECT * FROM networks WHERE id LIKE ?", (name_or_id + "%",))
        row = rows[0] if len(rows) == 1 else None
    return Network.from_row(row) if row else None


def all_networks(db: Database) -> list[Network]:
    return [Network.from_row(r) for r in db.query("SELECT * FROM networks ORDER BY created, name")]


def endpoints(db: Database, network_id: Optional[str] = None,
              container_id: Optional[str] = None) -> list[Endpoint]:
    sql, params = "SELECT * FROM network_endpoints WHERE 1=1", []
    if network_id is not None:
        sql += " AND network_id = ?"
        params.append(network_id)
    if container_id is not None:
        sql += " AND container_id = ?"
        params.append(container_id)
    return [Endpoint.from_row(r) for r in db.query(sql + " ORDER BY created", params)]


def record_tag(conn: sqlite3.Connection, tag: str, kind: str) -> None:
    conn.execute("INSERT OR IGNORE INTO network_tags (tag, kind) VALUES (?, ?)", (tag, kind))


def forget_tag(conn: sqlite3.Connection, tag: str) -> None:
    conn.execute("DELETE FROM network_tags WHERE tag = ?", (tag,))


def known_tags(db: Database) -> set[str]:
    return {r["tag"] for r in db.query("SELECT tag FROM network_tags")}


def live_tags(db: Database) -> set[str]:
    """Tags whose kernel objects should exist: networks, and containers holding a sandbox."""
    rows = db.query("SELECT id AS tag FROM networks UNION "
                    "SELECT container_id FROM network_sandboxes")
    return {r["tag"] for r in rows}


def sandboxes(db: Database) -> dict[str, str]:
    """container id -> its network namespace file."""
    return {r["container_id"]: r["netns"]
            for r in db.query("SELECT container_id, netns FROM network_sandboxes")}


def add_sandbox(conn: sqlite3.Connection, container_id: str, netns: str) -> bool:
    """Record the container's namespace file (and its tag); False if it was already recorded."""
    cur = conn.execute("INSERT OR IGNORE INTO network_sandboxes (container_id, netns, created) "
                       "VALUES (?, ?, ?)", (container_id, netns, now()))
    record_tag(conn, container_id, "container")
    return cur.rowcount == 1
