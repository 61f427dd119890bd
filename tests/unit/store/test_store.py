from __future__ import annotations

import multiprocessing
import os
import sqlite3

import pytest

from berth.errors import BerthError, DigestMismatch, InvalidArgument, NotFound
from berth.store import Store, sha256_digest


def test_blob_write_read_and_verify(berth_env) -> None:
    store = Store()
    digest = store.blobs.write_bytes(b"hello")
    assert digest == sha256_digest(b"hello")
    assert store.blobs.read(digest) == b"hello"
    assert store.blobs.path(digest).startswith(str(berth_env.root))
    with pytest.raises(DigestMismatch):
        store.blobs.write_bytes(b"hello", expected=sha256_digest(b"other"))
    with pytest.raises(NotFound):
        store.blobs.read(sha256_digest(b"absent"))
    with pytest.raises(InvalidArgument):
        store.blobs.path("sha256:../../etc/passwd")


def test_failed_stream_leaves_no_blob_and_no_temp(berth_env) -> None:
    store = Store()
    with pytest.raises(DigestMismatch):
        with store.blobs.writer(sha256_digest(b"abc"), 3) as w:
            w.write(b"abd")
            w.commit()
    with pytest.raises(DigestMismatch):
        with store.blobs.writer(expected_size=2) as w:
            w.write(b"abc")
    assert list(store.blobs.list()) == []
    assert os.listdir(store.blobs.tmp_dir) == []


def test_migrations_apply_once_in_order(berth_env) -> None:
    store = Store()
    v1 = "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1);"
    v2 = "ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x;y';"
    store.db.ensure_schema("demo", [v1])
    store.db.ensure_schema("demo", [v1])
    fresh = Store()
    fresh.db.ensure_schema("demo", [v1, v2])
    rows = fresh.db.query("SELECT a, b FROM t")
    assert [(r["a"], r["b"]) for r in rows] == [(1, "x;y")]
    newer = Store()
    with pytest.raises(BerthError, match="newer than this berth"):
        newer.db.ensure_schema("demo", [v1])


def test_transaction_rolls_back_on_error(berth_env) -> None:
    store = Store()
    store.db.ensure_schema("demo", ["CREATE TABLE t (a INTEGER PRIMARY KEY)"])
    with pytest.raises(sqlite3.IntegrityError):
        with store.db.transaction() as tx:
            tx.execute("INSERT INTO t VALUES (1)")
            tx.execute("INSERT INTO t VALUES (1)")
    assert store.db.query("SELECT * FROM t") == []


def _insert_many(root: str, run: str, start: int) -> None:
    store = Store(root, run)
    for i in range(start, start + 200):
        with store.db.transaction() as tx:
            n = tx.execute("SELECT COUNT(*) FROM t").fetchone()[0]
            tx.execute("INSERT INTO t VALUES (?, ?)", (i, n))


def test_concurrent_processes_serialise_their_transactions(berth_env) -> None:
    store = Store()
    store.db.ensure_schema("demo", ["CREATE TABLE t (a INTEGER PRIMARY KEY, seen INTEGER)"])
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_insert_many, args=(store.root, store.run, k * 1000)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    seen = sorted(r["seen"] for r in store.db.query("SELECT seen FROM t"))
    assert seen == list(range(600))  # every transaction saw all the earlier ones: no lost update
