"""The published content store: `content.db`, immutable once built.

A new version is written beside it and swapped in with an atomic rename; readers notice the
new inode and reopen, so a running action server serves the new text within one request,
never a half-built file. (What the running assistant writes lives in the runtime store,
`miyun.referrals`.)
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

import sqlite_utils

JSON_FIELDS = ("legal_basis", "facts", "questions", "tags", "services", "aspects", "more_facts")


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
    blobs: Optional[dict[str, bytes]] = None,
) -> None:
    """Write a complete content database to a temporary file, then rename it over `target`.

    `blobs` are named binary values derived from the content (the matcher's phrasing model),
    stored with the version they were built from."""
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
        if blobs:
            db["blobs"].insert_all([{"key": k, "value": v} for k, v in blobs.items()], pk="key")
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

    def aspect_table(self) -> dict:
        """The aspect keyword table (content/aspects.yml), as published."""
        return self._cached("aspect_table", lambda: self.setting("aspect_table") or {})

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

    def cached(self, key: str, compute):
        """A value derived from the current version (e.g. the loaded matcher model), once per version."""
        return self._cached(key, compute)

    def blobs(self, prefix: str) -> dict[str, bytes]:
        """The named binary values built with this version whose key starts with `prefix` (prefix removed)."""
        try:
            rows = self._connection().execute("select key, value from blobs where key like ?", [prefix + "%"]).fetchall()
        except sqlite3.OperationalError:  # a database built before the table existed
            return {}
        return {r["key"][len(prefix):]: bytes(r["value"]) for r in rows}

    def index_entries(self, ids: list[str]) -> dict[str, dict]:
        """The segmented index text (title, questions, body) of the given articles."""
        if not ids:
            return {}
        sql = f"select id, title, questions, body from article_index where id in ({', '.join('?' * len(ids))})"
        try:
            rows = self._connection().execute(sql, ids).fetchall()
        except sqlite3.DatabaseError as exc:
            raise ContentUnavailable(str(exc)) from exc
        return {r["id"]: dict(r) for r in rows}

    def index_digests(self) -> dict[str, dict]:
        """Every index row with the digest of the fields it was made from (miyun.knowledge.build);
        empty for a database built before rows carried one."""
        try:
            rows = self._connection().execute("select id, title, questions, body, digest from article_index").fetchall()
        except sqlite3.OperationalError:
            return {}
        return {r["id"]: dict(r) for r in rows}

    def articles_by_id(self, ids: list[str]) -> dict[str, dict]:
        if not ids:
            return {}
        return {r["id"]: r for r in self._all(f"select * from articles where id in ({', '.join('?' * len(ids))})", ids)}

    def document_frequencies(self) -> tuple[int, dict[str, int]]:
        """How many articles are indexed, and in how many of them each indexed term occurs."""

        def compute() -> tuple[int, dict[str, int]]:
            self._connection().execute(
                "create virtual table if not exists temp.article_vocab using fts5vocab(main, article_index_fts, 'row')"
            )
            n = self._all("select count(*) as n from article_index")[0]["n"]
            return n, {r["term"]: r["doc"] for r in self._all("select term, doc from temp.article_vocab")}

        return self._cached("document_frequencies", compute)


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
