"""The one module that touches SQL: the published content store and the runtime store.

* `content.db` is immutable once built. A new version is written beside it and swapped in
  with an atomic rename; readers notice the new inode and reopen, so a running action
  server serves the new text within one request, never a half-built file.
* `runtime.db` holds what the running assistant writes: unanswered questions, feedback,
  referrals and content versions. It uses WAL and one transaction per write. Its schema is
  the versioned migrations in `miyun/migrations/sqlite/`, applied on open. A cluster uses
  the PostgreSQL implementation (`miyun/store_pg.py`) instead: `open_runtime(dsn, path)`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Protocol

import sqlite_utils

JSON_FIELDS = ("legal_basis", "facts", "questions", "tags", "services")


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _row(row: sqlite3.Row | None) -> Optional[dict]:
    if row is None:
        return None
    out = dict(row)
    for key in JSON_FIELDS:
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    return out


# --------------------------------------------------------------------------- content build


def write_content_db(
    target: Path,
    services: list[dict],
    stations: list[dict],
    articles: list[dict],
    index_rows: list[dict],
    synonyms: list[dict],
    settings: dict,
    meta: dict,
) -> None:
    """Write a complete content database to a temporary file, then rename it over `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        db = sqlite_utils.Database(tmp)
        db["services"].insert_all(services, pk="id", alter=True)
        db["stations"].insert_all(stations, pk="id", alter=True)
        db["articles"].insert_all(articles, pk="id", alter=True)
        db["article_index"].insert_all(index_rows, pk="id", alter=True)
        # Columns hold jieba words joined by spaces; FTS5's default tokenizer then splits on
        # the spaces, which is what makes Chinese searchable at all.
        db["article_index"].enable_fts(["title", "questions", "body"], fts_version="FTS5", create_triggers=False)
        db["synonyms"].insert_all(synonyms, pk="variant", alter=True, replace=True)
        db["settings"].insert_all(
            [{"key": k, "value": json.dumps(v, ensure_ascii=False, default=str)} for k, v in settings.items()], pk="key", alter=True
        )
        db["meta"].insert_all([{"key": k, "value": str(v)} for k, v in meta.items()], pk="key")
        for table in ("services", "stations", "articles", "article_index", "synonyms", "settings", "meta"):
            if not db[table].exists():
                db[table].create({"id": str}, pk="id")
        db.conn.commit()
        db.execute("PRAGMA journal_mode=DELETE")
        db.close()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def fingerprint(path: Path) -> Optional[tuple]:
    """What changes when a content file is swapped: inode, size and mtime."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


# --------------------------------------------------------------------------- content reads


class ContentUnavailable(RuntimeError):
    """The content store has not been built or cannot be read."""


class ContentStore:
    """Read-only access to the published content, reopened when a new version is swapped in."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: Optional[sqlite3.Connection] = None
        self._fingerprint: Optional[tuple] = None
        self._cache: dict[str, Any] = {}

    def _connection(self) -> sqlite3.Connection:
        current = fingerprint(self.path)
        with self._lock:
            if current is None:
                raise ContentUnavailable(f"content store missing: {self.path}")
            if self._conn is None or current != self._fingerprint:
                if self._conn is not None:
                    self._conn.close()
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
                conn.row_factory = sqlite3.Row
                self._conn, self._fingerprint = conn, current
                self._cache = {}  # per-version derived data: a new version starts afresh
            return self._conn

    def _cached(self, key: str, compute):
        """A value derived from the current version, computed once per version."""
        self._connection()
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        try:
            return [_row(r) for r in self._connection().execute(sql, tuple(params)).fetchall()]
        except sqlite3.DatabaseError as exc:
            raise ContentUnavailable(str(exc)) from exc

    def _one(self, sql: str, params: Iterable[Any] = ()) -> Optional[dict]:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def meta(self) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self._all("select key, value from meta")}

    def setting(self, key: str, default: Any = None) -> Any:
        row = self._one("select value from settings where key = ?", [key])
        return json.loads(row["value"]) if row else default

    def service_for_intent(self, intent: str) -> Optional[dict]:
        return self._one("select * from services where intent = ? order by id limit 1", [intent])

    def service(self, ident: str) -> Optional[dict]:
        return self._one("select * from services where id = ?", [ident])

    def services(self) -> list[dict]:
        return self._all("select * from services order by id")

    def stations(self) -> list[dict]:
        return self._all("select * from stations order by town is null, rowid")

    def station_for_town(self, town: str) -> Optional[dict]:
        return self._one("select * from stations where town = ? limit 1", [town])

    def station(self, ident: str) -> Optional[dict]:
        return self._one("select * from stations where id = ?", [ident])

    def article(self, ident: str) -> Optional[dict]:
        return self._one("select * from articles where id = ?", [ident])

    def articles(self) -> list[dict]:
        return self._all("select * from articles order by category, id")

    def synonyms(self) -> dict[str, str]:
        return self._cached("synonyms", lambda: {r["variant"]: r["term"] for r in self._all("select variant, term from synonyms")})

    def search(self, match: str, weights: tuple[float, float, float], limit: int) -> list[dict]:
        """FTS5 candidates for a MATCH expression, best first, with positive BM25 scores."""
        if not match:
            return []
        sql = (
            "select article_index.id as id, -bm25(article_index_fts, ?, ?, ?) as score "
            "from article_index_fts join article_index on article_index.rowid = article_index_fts.rowid "
            "where article_index_fts match ? order by score desc limit ?"
        )
        return self._all(sql, [*weights, match, limit])

    def document_frequencies(self) -> tuple[int, dict[str, int]]:
        """How many articles are indexed, and in how many of them each indexed term occurs."""

        def compute() -> tuple[int, dict[str, int]]:
            self._connection().execute(
                "create virtual table if not exists temp.article_vocab using fts5vocab(main, article_index_fts, 'row')"
            )
            n = self._all("select count(*) as n from article_index")[0]["n"]
            return n, {r["term"]: r["doc"] for r in self._all("select term, doc from temp.article_vocab")}

        return self._cached("document_frequencies", compute)


# --------------------------------------------------------------------------- runtime store


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
    """Apply the pending `miyun/migrations/sqlite/*.sql` in one IMMEDIATE transaction; returns what ran.

    Safe when several processes open the same file at once: the write lock serialises them and
    the applied versions are re-read inside it.
    """
    from miyun import migrations

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


class Runtime(Protocol):
    """What the running assistant, the CLI and the staff tools need from the writable store.

    Two implementations share this contract (tests/test_store_contract.py): `RuntimeStore`
    (SQLite, the embedded default) and `miyun.store_pg.PgRuntimeStore` (PostgreSQL, shared by
    every action-server replica of a cluster). Pick one with `open_runtime`.
    """

    def log_unanswered(self, question: str, normalized: str, sender_hash: str | None, best_id: str | None, best_score: float | None) -> int: ...
    def unanswered(self) -> list[dict]: ...
    def create_referral(self, key: str, fields: dict, year: int) -> tuple[dict, bool]: ...
    def referral(self, ref: str) -> Optional[dict]: ...
    def referrals(self, status: str | None = None, town: str | None = None, kind: str | None = None) -> list[dict]: ...
    def update_referral(self, ref: str, actor: str, note: str, **changes: Any) -> dict: ...
    def audit(self, ref: str) -> list[dict]: ...
    def anonymize_older_than(self, cutoff_iso: str, actor: str) -> int: ...
    def count_status_attempts(self, sender_hash: str, since: float) -> int: ...
    def record_status_attempt(self, sender_hash: str, at: float) -> None: ...
    def record_feedback(self, content_id: str | None, helpful: bool, sender_hash: str | None) -> int: ...
    def add_feedback_comment(self, feedback_id: int, comment: str) -> None: ...
    def feedback(self) -> list[dict]: ...
    def record_version(self, by: str, note: str, checksum: str, archive: str, changes: dict, action: str = "publish") -> int: ...
    def versions(self) -> list[dict]: ...
    def version(self, version: int) -> Optional[dict]: ...
    def schema_versions(self) -> list[int]: ...


def open_runtime(dsn: str | None = None, sqlite_path: Path | None = None) -> Runtime:
    """The runtime store a DSN names (MIYUN_RUNTIME_DSN).

    * empty → SQLite at `sqlite_path` (the embedded default, `var/runtime.db`);
    * `sqlite:///relative.db` or `sqlite:////absolute/path.db` → SQLite at that path;
    * `postgresql://…` or `postgres://…` → PostgreSQL (psycopg 3), shared by all replicas.
    """
    dsn = (dsn or "").strip()
    if not dsn:
        if sqlite_path is None:
            raise ValueError("an empty runtime DSN needs the SQLite file path")
        return RuntimeStore(sqlite_path)
    if dsn.startswith("sqlite:///"):
        return RuntimeStore(Path(dsn[len("sqlite:///"):]))  # sqlite:///rel.db or sqlite:////abs/path.db
    if dsn.startswith(("postgresql://", "postgres://")):
        from miyun.store_pg import PgRuntimeStore

        return PgRuntimeStore(dsn)
    raise ValueError("MIYUN_RUNTIME_DSN must be empty, sqlite:///path or postgresql://… (got another scheme)")


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
                conn.execute(
                    "update referrals set name = null, phone = null, description = null, village = null, "
                    "contact_time = null, sender_hash = null, anonymized = 1 where ref = ?", (ref,),
                )
                conn.execute(
                    "insert into referral_audit (ref, at, actor, action, note) values (?, ?, ?, ?, ?)",
                    (ref, _now(), actor, "anonymize", f"older than {cutoff_iso}"),
                )
            return len(refs)

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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def iter_rows(path: Path, table: str) -> Iterator[dict]:
    """Rows of a table in any content database file (for diffs between versions)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        for r in conn.execute(f"select * from {table} order by id"):  # table names are ours, not user input
            yield _row(r)
    except sqlite3.OperationalError:
        return
    finally:
        conn.close()


def runtime_for(settings: Any) -> "Runtime":
    """The runtime store the settings choose (MIYUN_RUNTIME_DSN, else var/runtime.db)."""
    return open_runtime(settings.runtime_dsn, settings.runtime_db)
