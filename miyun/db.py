"""The shared SQLite helper of the writable stores (runtime.db, the staff tables): WAL
connections, one per thread, and one short `BEGIN IMMEDIATE` transaction per write."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


def wal_connection(local: threading.local, path: Path) -> sqlite3.Connection:
    """This thread's connection to a writable store: WAL, durable commits, waits on a busy lock."""
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        local.conn = conn
    return conn


class Transaction:
    """`BEGIN IMMEDIATE` … `COMMIT`, or `ROLLBACK` on error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
