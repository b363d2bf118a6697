"""The runtime store on SQLite (`var/runtime.db`): the embedded default.

WAL and one transaction per write (`miyun.db`). Its schema is the versioned migrations in
`miyun/referrals/migrations/sqlite/`, applied on open.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from miyun.db import Transaction, wal_connection
from miyun.referrals import migrations
from miyun.referrals.store import PERSONAL_COLUMNS, new_check_code
from miyun.referrals.store import now as _now


def _sql_statements(script: str) -> Iterator[str]:
    """Split a migration file into complete SQLite statements (comments kept with their statement)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer
            buffer = ""
    rest = "\n".join(l for l in buffer.splitlines() if l.strip() and not l.strip().startswith("--"))
    if rest.strip():
        raise ValueError(f"incomplete SQL statement at the end of a migration: {rest[:80]!r}")


def migrate_sqlite(conn: sqlite3.Connection) -> list[int]:
    """Apply the pending `miyun/referrals/migrations/sqlite/*.sql` in one IMMEDIATE transaction; returns what ran.

    Safe when several processes open the same file at once: the write lock serialises them and
    the applied versions are re-read inside it.
    """
    conn.execute(
        "create table if not exists schema_migrations (version integer primary key, name text not null, applied_at text not null)"
    )
    wanted = migrations.load("sqlite")
    applied = {r[0] for r in conn.execute("select version from schema_migrations")}
    if all(m.version in applied for m in wanted):
        return []
    ran: list[int] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        applied = {r[0] for r in conn.execute("select version from schema_migrations")}
        for m in wanted:
            if m.version in applied:
                continue
            for statement in _sql_statements(m.sql):
                conn.execute(statement)
            conn.execute("insert into schema_migrations (version, name, applied_at) values (?, ?, ?)", (m.version, m.name, _now()))
            ran.append(m.version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return ran


def _blank(conn: sqlite3.Connection, ref: str) -> None:
    sets = ", ".join(f"{c} = null" for c in PERSONAL_COLUMNS)
    conn.execute(f"update referrals set {sets}, anonymized = 1 where ref = ?", (ref,))


class RuntimeStore:
    """Writable store: every write is one short transaction on a WAL database."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        migrate_sqlite(self._conn())

    def _conn(self) -> sqlite3.Connection:
        return wal_connection(self._local, self.path)

    def transaction(self) -> "Transaction":
        return Transaction(self._conn())

    def schema_versions(self) -> list[int]:
        return [r["version"] for r in self.query("select version from schema_migrations order by version")]

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        return [dict(r) for r in self._conn().execute(sql, tuple(params)).fetchall()]

    # unanswered questions
    def log_unanswered(self, question: str, normalized: str, sender_hash: str | None, best_id: str | None, best_score: float | None) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                "insert into unanswered (created_at, question, normalized, sender_hash, best_id, best_score) values (?, ?, ?, ?, ?, ?)",
                (_now(), question, normalized, sender_hash, best_id, best_score),
            )
            return int(cur.lastrowid)

    def unanswered(self) -> list[dict]:
        return self.query("select * from unanswered order by id")

    # referrals
    def create_referral(self, key: str, fields: dict, year: int) -> tuple[dict, bool]:
        """Insert a referral once per idempotency key; returns (row, created)."""
        now = _now()
        with self.transaction() as conn:
            existing = conn.execute("select * from referrals where idempotency_key = ?", (key,)).fetchone()
            if existing:
                return dict(existing), False
            fields = {**fields, "check_code": fields.get("check_code") or new_check_code()}
            columns = ["idempotency_key", "created_at", "updated_at", "status", *fields]
            cur = conn.execute(
                f"insert into referrals ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
                (key, now, now, "received", *fields.values()),
            )
            # The autoincrement id is the sequence: unique across processes sharing this database.
            ref = f"MY-{year}-{cur.lastrowid:06d}"
            conn.execute("update referrals set ref = ? where id = ?", (ref, cur.lastrowid))
            conn.execute(
                "insert into referral_audit (ref, at, actor, action, after) values (?, ?, ?, ?, ?)",
                (ref, now, "resident", "create", "received"),
            )
            row = conn.execute("select * from referrals where id = ?", (cur.lastrowid,)).fetchone()
            return dict(row), True

    def referral(self, ref: str) -> Optional[dict]:
        rows = self.query("select * from referrals where ref = ?", [ref])
        return rows[0] if rows else None

    def referrals(self, status: str | None = None, town: str | None = None, kind: str | None = None) -> list[dict]:
        sql, params = "select * from referrals where 1 = 1", []
        for column, value in (("status", status), ("town", town), ("kind", kind)):
            if value:
                sql += f" and {column} = ?"
                params.append(value)
        return self.query(sql + " order by id", params)

    def update_referral(self, ref: str, actor: str, note: str, **changes: Any) -> dict:
        """Change status or assignment; every change is written to the audit table."""
        with self.transaction() as conn:
            row = conn.execute("select * from referrals where ref = ?", (ref,)).fetchone()
            if row is None:
                raise KeyError(ref)
            before = {k: row[k] for k in changes}
            sets = ", ".join(f"{k} = ?" for k in changes)
            conn.execute(f"update referrals set {sets}, updated_at = ? where ref = ?", (*changes.values(), _now(), ref))
            conn.execute(
                "insert into referral_audit (ref, at, actor, action, before, after, note) values (?, ?, ?, ?, ?, ?, ?)",
                (ref, _now(), actor, "update", json.dumps(before, ensure_ascii=False), json.dumps(changes, ensure_ascii=False), note),
            )
            return dict(conn.execute("select * from referrals where ref = ?", (ref,)).fetchone())

    def audit(self, ref: str) -> list[dict]:
        return self.query("select * from referral_audit where ref = ? order by id", [ref])

    def anonymize_older_than(self, cutoff_iso: str, actor: str) -> int:
        """Blank the personal fields of referrals created before the cutoff."""
        with self.transaction() as conn:
            refs = [r[0] for r in conn.execute(
                "select ref from referrals where created_at <= ? and anonymized = 0", (cutoff_iso,)
            ).fetchall()]
            for ref in refs:
                _blank(conn, ref)
                conn.execute(
                    "insert into referral_audit (ref, at, actor, action, note) values (?, ?, ?, ?, ?)",
                    (ref, _now(), actor, "anonymize", f"older than {cutoff_iso}"),
                )
            return len(refs)

    def erase_referral(self, ref: str, actor: str, reason: str) -> bool:
        """Delete one referral's personal data on the resident's request (the case counts stay); audited."""
        with self.transaction() as conn:
            if conn.execute("select 1 from referrals where ref = ?", (ref,)).fetchone() is None:
                return False
            _blank(conn, ref)
            conn.execute("insert into referral_audit (ref, at, actor, action, note) values (?, ?, ?, ?, ?)",
                         (ref, _now(), actor, "delete", reason))
            return True

    def log_access(self, actor: str, action: str, refs: list[str], note: str) -> None:
        """Who read personal data (view, export), one audit row per referral."""
        with self.transaction() as conn:
            at = _now()
            conn.executemany("insert into referral_audit (ref, at, actor, action, note) values (?, ?, ?, ?, ?)",
                             [(ref, at, actor, action, note) for ref in refs])

    def record_status_failure(self, ref: str, at: float, window_s: float, limit: int) -> bool:
        """Count a failed status check of `ref` (any sender); True when the reference is (now) locked."""
        with self.transaction() as conn:
            conn.execute("insert into status_failures (ref, at) values (?, ?)", (ref, at))
            n = conn.execute("select count(*) from status_failures where ref = ? and at >= ?", (ref, at - window_s)).fetchone()[0]
            if n >= limit:
                conn.execute("insert or ignore into status_locks (ref, locked_at, failures) values (?, ?, ?)", (ref, _now(), n))
            return conn.execute("select 1 from status_locks where ref = ?", (ref,)).fetchone() is not None

    def status_locked(self, ref: str) -> bool:
        return bool(self.query("select 1 from status_locks where ref = ?", [ref]))

    def status_locks(self) -> list[dict]:
        return self.query("select * from status_locks order by locked_at, ref")

    def unlock_status(self, ref: str, actor: str, note: str) -> bool:
        """Lift a lock and forget the failures behind it; audited on the reference."""
        with self.transaction() as conn:
            if conn.execute("delete from status_locks where ref = ?", (ref,)).rowcount == 0:
                return False
            conn.execute("delete from status_failures where ref = ?", (ref,))
            conn.execute("insert into referral_audit (ref, at, actor, action, note) values (?, ?, ?, ?, ?)",
                         (ref, _now(), actor, "unlock", note))
            return True

    def expire(self, cutoff_iso: str, attempts_before: float) -> dict:
        """The retention run's share of the runtime store: old unanswered questions and feedback comments,
        and status-check attempts and failures older than the limits need."""
        self._ensure_unanswered_status()
        with self.transaction() as conn:
            conn.execute("delete from unanswered_status where unanswered_id in "
                         "(select id from unanswered where created_at <= ?)", (cutoff_iso,))
            unanswered = conn.execute("delete from unanswered where created_at <= ?", (cutoff_iso,)).rowcount
            comments = conn.execute(
                "update feedback set comment = null, sender_hash = null where created_at <= ? "
                "and (comment is not null or sender_hash is not null)", (cutoff_iso,)).rowcount
            attempts = conn.execute("delete from status_attempts where at < ?", (attempts_before,)).rowcount
            failures = conn.execute("delete from status_failures where at < ?", (attempts_before,)).rowcount
        return {"unanswered": unanswered, "feedback_comments": comments, "status_attempts": attempts,
                "status_failures": failures}

    def count_status_attempts(self, sender_hash: str, since: float) -> int:
        row = self._conn().execute(
            "select count(*) from status_attempts where sender_hash = ? and at >= ?", (sender_hash, since)
        ).fetchone()
        return int(row[0])

    def record_status_attempt(self, sender_hash: str, at: float) -> None:
        with self.transaction() as conn:
            conn.execute("insert into status_attempts (sender_hash, at) values (?, ?)", (sender_hash, at))

    # feedback
    def record_feedback(self, content_id: str | None, helpful: bool, sender_hash: str | None) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                "insert into feedback (created_at, content_id, helpful, sender_hash) values (?, ?, ?, ?)",
                (_now(), content_id, int(helpful), sender_hash),
            )
            return int(cur.lastrowid)

    def add_feedback_comment(self, feedback_id: int, comment: str) -> None:
        with self.transaction() as conn:
            conn.execute("update feedback set comment = ? where id = ?", (comment, feedback_id))

    def feedback(self) -> list[dict]:
        return self.query("select * from feedback order by id")

    # content versions
    def record_version(self, by: str, note: str, checksum: str, archive: str, changes: dict, action: str = "publish") -> int:
        with self.transaction() as conn:
            row = conn.execute("select coalesce(max(version), 0) + 1 from content_versions").fetchone()
            version = int(row[0])
            conn.execute(
                "insert into content_versions (version, created_at, published_by, note, checksum, archive, changes, action) values (?, ?, ?, ?, ?, ?, ?, ?)",
                (version, _now(), by, note, checksum, archive, json.dumps(changes, ensure_ascii=False), action),
            )
            return version

    def versions(self) -> list[dict]:
        rows = self.query("select * from content_versions order by version")
        for r in rows:
            r["changes"] = json.loads(r["changes"])
        return rows

    def version(self, version: int) -> Optional[dict]:
        rows = self.query("select * from content_versions where version = ?", [version])
        for r in rows:
            r["changes"] = json.loads(r["changes"])
        return rows[0] if rows else None


    # staff console (added): unanswered status, filtered referrals, feedback listing
    def _ensure_unanswered_status(self) -> None:
        self._conn().execute(
            "create table if not exists unanswered_status (unanswered_id integer primary key, status text not null, "
            "at text not null, actor text not null, note text)"
        )

    def unanswered_open(self) -> list[dict]:
        """Unanswered questions no staff member has dismissed, linked, exported or drafted yet."""
        self._ensure_unanswered_status()
        return self.query(
            "select u.* from unanswered u left join unanswered_status s on s.unanswered_id = u.id "
            "where s.unanswered_id is null order by u.id"
        )

    def set_unanswered_status(self, ids: list[int], status: str, actor: str, note: str | None = None) -> int:
        """Mark unanswered questions handled (dismissed, linked, exported, drafted); returns how many."""
        self._ensure_unanswered_status()
        with self.transaction() as conn:
            for ident in ids:
                conn.execute(
                    "insert or replace into unanswered_status (unanswered_id, status, at, actor, note) values (?, ?, ?, ?, ?)",
                    (ident, status, _now(), actor, note),
                )
        return len(ids)

    def referrals_filtered(self, *, status: str | None = None, towns: list[str] | None = None, level: str | None = None,
                           kind: str | None = None, since: str | None = None, until: str | None = None) -> list[dict]:
        """Referrals by status, level, kind, created date range (YYYY-MM-DD, inclusive) and any of `towns`."""
        sql, params = "select * from referrals where 1 = 1", []
        for column, value in (("status", status), ("level", level), ("kind", kind)):
            if value:
                sql += f" and {column} = ?"
                params.append(value)
        if since:
            sql += " and substr(created_at, 1, 10) >= ?"
            params.append(since)
        if until:
            sql += " and substr(created_at, 1, 10) <= ?"
            params.append(until)
        if towns is not None:
            if not towns:
                return []
            sql += f" and town in ({', '.join('?' * len(towns))})"
            params += list(towns)
        return self.query(sql + " order by id", params)

    def feedback_list(self, helpful: bool | None = None, limit: int = 500) -> list[dict]:
        """Feedback rows, newest first, optionally only 有帮助 or only 没帮助."""
        sql, params = "select * from feedback", []
        if helpful is not None:
            sql += " where helpful = ?"
            params.append(int(helpful))
        return self.query(sql + " order by id desc limit ?", [*params, limit])
