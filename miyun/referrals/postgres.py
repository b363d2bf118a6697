"""The runtime store on PostgreSQL (psycopg 3): what every action-server replica of a cluster shares.

Same contract (`miyun.referrals.store.Runtime`) as the SQLite `miyun.referrals.sqlite.RuntimeStore`
(tests/test_store_contract.py runs one set of assertions against both). Chosen by `MIYUN_RUNTIME_DSN=postgresql://user:pass@host:port/db`.

* Schema: `miyun/referrals/migrations/postgres/NNNN_*.sql`, applied on open under an advisory lock
  (so replicas starting together migrate once), recorded in `schema_migrations`.
* Referral numbers come from the database sequence `referral_number_seq`, never from a
  process counter, so they are unique across replicas and machines.
* One connection per thread (rasa-sdk runs actions on one event-loop thread), reopened when
  the server drops it; every write is one short transaction.
"""
from __future__ import annotations

import json
import re
import threading
from typing import Any, Iterable, Optional

import psycopg
from psycopg.rows import dict_row

from miyun.referrals import migrations
from miyun.referrals.store import PERSONAL_COLUMNS, new_check_code
from miyun.referrals.store import now as _now

# Any 64-bit number: serialises migrations across every process that opens the database.
_MIGRATION_LOCK = 0x6D69_79756E_3132  # "miyun12"

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _check_columns(names: Iterable[str]) -> None:
    """Column names are interpolated into SQL: plain lower-case identifiers only (the table rejects unknown ones)."""
    bad = [n for n in names if not _IDENTIFIER.match(n)]
    if bad:
        raise ValueError(f"not a column name: {bad}")


def migrate_postgres(conn: psycopg.Connection) -> list[int]:
    """Apply pending `miyun/referrals/migrations/postgres/*.sql` in one transaction; returns what ran."""
    ran: list[int] = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            "create table if not exists schema_migrations (version integer primary key, name text not null, applied_at text not null)"
        )
        applied = {r["version"] for r in conn.execute("select version from schema_migrations").fetchall()}
        for m in migrations.load("postgres"):
            if m.version in applied:
                continue
            conn.execute(m.sql.encode("utf-8"))  # no parameters: several statements in one call
            conn.execute(
                "insert into schema_migrations (version, name, applied_at) values (%s, %s, %s)", (m.version, m.name, _now())
            )
            ran.append(m.version)
    return ran


def _blank(conn: psycopg.Connection, ref: str) -> None:
    sets = ", ".join(f"{c} = null" for c in PERSONAL_COLUMNS)
    conn.execute(f"update referrals set {sets}, anonymized = 1 where ref = %s", (ref,))


class PgRuntimeStore:
    """Writable store on PostgreSQL; the same methods and row shapes as the SQLite `RuntimeStore`."""

    def __init__(self, dsn: str, connect_timeout: int = 5) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self._local = threading.local()
        migrate_postgres(self._conn())

    def __repr__(self) -> str:  # never print the password
        return f"PgRuntimeStore({psycopg.conninfo.conninfo_to_dict(self.dsn).get('dbname')!r})"

    def _conn(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = psycopg.connect(self.dsn, autocommit=True, row_factory=dict_row, connect_timeout=self.connect_timeout)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        """Rows as dicts; `sql` uses psycopg placeholders (%s)."""
        return [dict(r) for r in self._conn().execute(sql, tuple(params)).fetchall()]

    def schema_versions(self) -> list[int]:
        return [r["version"] for r in self.query("select version from schema_migrations order by version")]

    # unanswered questions
    def log_unanswered(self, question: str, normalized: str, sender_hash: str | None, best_id: str | None, best_score: float | None) -> int:
        conn = self._conn()
        with conn.transaction():
            row = conn.execute(
                "insert into unanswered (created_at, question, normalized, sender_hash, best_id, best_score) "
                "values (%s, %s, %s, %s, %s, %s) returning id",
                (_now(), question, normalized, sender_hash, best_id, best_score),
            ).fetchone()
        return int(row["id"])

    def unanswered(self) -> list[dict]:
        return self.query("select * from unanswered order by id")

    # referrals
    def create_referral(self, key: str, fields: dict, year: int) -> tuple[dict, bool]:
        """Insert a referral once per idempotency key; returns (row, created).

        Two replicas confirming the same conversation at once: `on conflict do nothing` makes
        the second wait for the first to commit, then it returns the first one's row.
        """
        fields = {**fields, "check_code": fields.get("check_code") or new_check_code()}
        _check_columns(fields)
        conn = self._conn()
        now = _now()
        with conn.transaction():
            existing = conn.execute("select * from referrals where idempotency_key = %s", (key,)).fetchone()
            if existing:
                return dict(existing), False
            number = conn.execute("select nextval('referral_number_seq') as n").fetchone()["n"]
            ref = f"MY-{year}-{number:06d}"
            columns = ["id", "ref", "idempotency_key", "created_at", "updated_at", "status", *fields]
            row = conn.execute(
                f"insert into referrals ({', '.join(columns)}) values ({', '.join(['%s'] * len(columns))}) "
                "on conflict (idempotency_key) do nothing returning *",
                (number, ref, key, now, now, "received", *fields.values()),
            ).fetchone()
            if row is None:  # lost the race to a concurrent insert of the same key
                row = conn.execute("select * from referrals where idempotency_key = %s", (key,)).fetchone()
                return dict(row), False
            conn.execute(
                "insert into referral_audit (ref, at, actor, action, after) values (%s, %s, %s, %s, %s)",
                (ref, now, "resident", "create", "received"),
            )
        return dict(row), True

    def referral(self, ref: str) -> Optional[dict]:
        rows = self.query("select * from referrals where ref = %s", [ref])
        return rows[0] if rows else None

    def referrals(self, status: str | None = None, town: str | None = None, kind: str | None = None) -> list[dict]:
        sql, params = "select * from referrals where 1 = 1", []
        for column, value in (("status", status), ("town", town), ("kind", kind)):
            if value:
                sql += f" and {column} = %s"
                params.append(value)
        return self.query(sql + " order by id", params)

    def update_referral(self, ref: str, actor: str, note: str, **changes: Any) -> dict:
        """Change status or assignment; every change is written to the audit table."""
        _check_columns(changes)
        conn = self._conn()
        with conn.transaction():
            row = conn.execute("select * from referrals where ref = %s for update", (ref,)).fetchone()
            if row is None:
                raise KeyError(ref)
            before = {k: row[k] for k in changes}
            sets = ", ".join(f"{k} = %s" for k in changes)
            conn.execute(f"update referrals set {sets}, updated_at = %s where ref = %s", (*changes.values(), _now(), ref))
            conn.execute(
                "insert into referral_audit (ref, at, actor, action, before, after, note) values (%s, %s, %s, %s, %s, %s, %s)",
                (ref, _now(), actor, "update", json.dumps(before, ensure_ascii=False), json.dumps(changes, ensure_ascii=False), note),
            )
            return dict(conn.execute("select * from referrals where ref = %s", (ref,)).fetchone())

    def audit(self, ref: str) -> list[dict]:
        return self.query("select * from referral_audit where ref = %s order by id", [ref])

    def anonymize_older_than(self, cutoff_iso: str, actor: str) -> int:
        """Blank the personal fields of referrals created before the cutoff."""
        conn = self._conn()
        with conn.transaction():
            refs = [r["ref"] for r in conn.execute(
                "select ref from referrals where created_at <= %s and anonymized = 0 order by id for update", (cutoff_iso,)
            ).fetchall()]
            for ref in refs:
                _blank(conn, ref)
                conn.execute(
                    "insert into referral_audit (ref, at, actor, action, note) values (%s, %s, %s, %s, %s)",
                    (ref, _now(), actor, "anonymize", f"older than {cutoff_iso}"),
                )
        return len(refs)

    def erase_referral(self, ref: str, actor: str, reason: str) -> bool:
        """Delete one referral's personal data on the resident's request (the case counts stay); audited."""
        conn = self._conn()
        with conn.transaction():
            if conn.execute("select 1 from referrals where ref = %s for update", (ref,)).fetchone() is None:
                return False
            _blank(conn, ref)
            conn.execute("insert into referral_audit (ref, at, actor, action, note) values (%s, %s, %s, %s, %s)",
                         (ref, _now(), actor, "delete", reason))
        return True

    def log_access(self, actor: str, action: str, refs: list[str], note: str) -> None:
        """Who read personal data (view, export), one audit row per referral."""
        conn = self._conn()
        at = _now()
        with conn.transaction():
            with conn.cursor() as cur:
                cur.executemany("insert into referral_audit (ref, at, actor, action, note) values (%s, %s, %s, %s, %s)",
                                [(ref, at, actor, action, note) for ref in refs])

    def record_status_failure(self, ref: str, at: float, window_s: float, limit: int) -> bool:
        """Count a failed status check of `ref` (any sender); True when the reference is (now) locked."""
        conn = self._conn()
        with conn.transaction():
            conn.execute("insert into status_failures (ref, at) values (%s, %s)", (ref, at))
            n = conn.execute("select count(*) as n from status_failures where ref = %s and at >= %s",
                             (ref, at - window_s)).fetchone()["n"]
            if n >= limit:
                conn.execute("insert into status_locks (ref, locked_at, failures) values (%s, %s, %s) "
                             "on conflict (ref) do nothing", (ref, _now(), n))
            return conn.execute("select 1 from status_locks where ref = %s", (ref,)).fetchone() is not None

    def status_locked(self, ref: str) -> bool:
        return bool(self.query("select 1 from status_locks where ref = %s", [ref]))

    def status_locks(self) -> list[dict]:
        return self.query("select * from status_locks order by locked_at, ref")

    def unlock_status(self, ref: str, actor: str, note: str) -> bool:
        """Lift a lock and forget the failures behind it; audited on the reference."""
        conn = self._conn()
        with conn.transaction():
            if conn.execute("delete from status_locks where ref = %s", (ref,)).rowcount == 0:
                return False
            conn.execute("delete from status_failures where ref = %s", (ref,))
            conn.execute("insert into referral_audit (ref, at, actor, action, note) values (%s, %s, %s, %s, %s)",
                         (ref, _now(), actor, "unlock", note))
        return True

    def expire(self, cutoff_iso: str, attempts_before: float) -> dict:
        """The retention run's share of the runtime store: old unanswered questions and feedback comments,
        and status-check attempts and failures older than the limits need."""
        conn = self._conn()
        with conn.transaction():
            unanswered = conn.execute("delete from unanswered where created_at <= %s", (cutoff_iso,)).rowcount
            comments = conn.execute(
                "update feedback set comment = null, sender_hash = null where created_at <= %s "
                "and (comment is not null or sender_hash is not null)", (cutoff_iso,)).rowcount
            attempts = conn.execute("delete from status_attempts where at < %s", (attempts_before,)).rowcount
            failures = conn.execute("delete from status_failures where at < %s", (attempts_before,)).rowcount
        return {"unanswered": unanswered, "feedback_comments": comments, "status_attempts": attempts,
                "status_failures": failures}

    def count_status_attempts(self, sender_hash: str, since: float) -> int:
        row = self._conn().execute(
            "select count(*) as n from status_attempts where sender_hash = %s and at >= %s", (sender_hash, since)
        ).fetchone()
        return int(row["n"])

    def record_status_attempt(self, sender_hash: str, at: float) -> None:
        conn = self._conn()
        with conn.transaction():
            conn.execute("insert into status_attempts (sender_hash, at) values (%s, %s)", (sender_hash, at))

    # feedback
    def record_feedback(self, content_id: str | None, helpful: bool, sender_hash: str | None) -> int:
        conn = self._conn()
        with conn.transaction():
            row = conn.execute(
                "insert into feedback (created_at, content_id, helpful, sender_hash) values (%s, %s, %s, %s) returning id",
                (_now(), content_id, int(helpful), sender_hash),
            ).fetchone()
        return int(row["id"])

    def add_feedback_comment(self, feedback_id: int, comment: str) -> None:
        conn = self._conn()
        with conn.transaction():
            conn.execute("update feedback set comment = %s where id = %s", (comment, feedback_id))

    def feedback(self) -> list[dict]:
        return self.query("select * from feedback order by id")

    # content versions
    def record_version(self, by: str, note: str, checksum: str, archive: str, changes: dict, action: str = "publish") -> int:
        conn = self._conn()
        with conn.transaction():
            conn.execute("lock table content_versions in share row exclusive mode")
            version = int(conn.execute("select coalesce(max(version), 0) + 1 as v from content_versions").fetchone()["v"])
            conn.execute(
                "insert into content_versions (version, created_at, published_by, note, checksum, archive, changes, action) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s)",
                (version, _now(), by, note, checksum, archive, json.dumps(changes, ensure_ascii=False), action),
            )
        return version

    def versions(self) -> list[dict]:
        rows = self.query("select * from content_versions order by version")
        for r in rows:
            r["changes"] = json.loads(r["changes"])
        return rows

    def version(self, version: int) -> Optional[dict]:
        rows = self.query("select * from content_versions where version = %s", [version])
        for r in rows:
            r["changes"] = json.loads(r["changes"])
        return rows[0] if rows else None
