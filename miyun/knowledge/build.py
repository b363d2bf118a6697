"""Turn validated content into a content database file."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any, Optional

from miyun.knowledge import store
from miyun.knowledge import content as content_mod
from miyun.knowledge.search import index_terms
from miyun.text import load_dictionary, normalize


class ContentInvalid(ValueError):
    """Raised when the sources have validation problems; carries them."""

    def __init__(self, problems: list[content_mod.Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in content")
        self.problems = problems


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def rows(content: content_mod.Content) -> dict[str, list[dict]]:
    """The table rows for a content snapshot (JSON-encoded lists, ISO dates)."""
    services = [
        {
            "id": s["id"],
            "intent": s["intent"],
            "title": s["title"],
            "answer": str(s["answer"]).strip(),
            "legal_basis": _json(s.get("legal_basis") or []),
            "facts": _json(s.get("facts") or []),
            # Short answers per aspect (fee, materials …), versioned with the entry they belong to.
            "aspects": _json(s.get("aspects") or {}),
            # One-fact answers with their phrasings (miyun.knowledge.more_facts).
            "more_facts": _json(s.get("more_facts") or []),
            "source": s.get("source"),
            "verified": content_mod.iso(s.get("verified")),
            "updated": content_mod.iso(s.get("updated")),
        }
        for s in content.services
    ]
    stations = [
        {
            "id": s["id"],
            "name": s["name"],
            "town": s.get("town"),
            "address": s.get("address"),
            "phone": None if s.get("phone") in (None, "") else str(s["phone"]),
            "hours": s.get("hours"),
            "services": _json(s.get("services") or []),
            "latitude": s.get("latitude"),
            "longitude": s.get("longitude"),
            "coordinates_approximate": bool(s.get("coordinates_approximate", True)),
            "source": s.get("source"),
            "verified": content_mod.iso(s.get("verified")),
            "updated": content_mod.iso(s.get("updated")),
        }
        for s in content.stations
    ]
    articles = [
        {
            "id": a["id"],
            "title": a["title"],
            "category": a["category"],
            "questions": _json([str(q) for q in a.get("questions") or []]),
            "answer": " ".join(str(a["answer"]).split()),
            "legal_basis": _json(a.get("legal_basis") or []),
            "tags": _json([str(t) for t in a.get("tags") or []]),
            "source": a.get("source"),
            "verified": content_mod.iso(a.get("verified")),
            "updated": content_mod.iso(a.get("updated")),
        }
        for a in content.articles
    ]
    synonyms = [
        {"variant": normalize(v), "term": normalize(s["term"])} for s in content.synonyms for v in s["variants"]
    ]
    return {"services": services, "stations": stations, "articles": articles, "synonyms": synonyms}


def checksum(table_rows: dict[str, list[dict]], settings: dict) -> str:
    """A digest of the content itself, independent of build time and file layout."""
    return hashlib.sha256(_json({"rows": table_rows, "settings": settings}).encode()).hexdigest()


def index_rows(articles: list[dict]) -> list[dict]:
    """Segmented, normalised text of each article for the FTS5 index."""
    out = []
    for a in articles:
        questions = json.loads(a["questions"])
        tags = json.loads(a["tags"])
        out.append(
            {
                "id": a["id"],
                "title": " ".join(index_terms(normalize(a["title"]))),
                # Tags hold the residents' everyday words for the topic: weighted like questions.
                "questions": " ".join(index_terms(normalize(" ".join([*questions, *tags])))),
                "body": " ".join(index_terms(normalize(" ".join([a["answer"], a["category"]])))),
            }
        )
    return out


MATCHER_MODEL_VERSION = 5


def matcher_blobs(articles: list[dict], synonyms: list[dict], reuse: Optional[Path] = None) -> dict[str, bytes]:
    """The matcher's phrasing model and article classifier for these articles, as named blobs stored
    with the version; `reuse`: a built database whose classifier may be reused (see matcher.build_model)."""
    from miyun.knowledge import matcher

    previous = None
    if reuse is not None and reuse.exists():
        try:
            previous = store.ContentStore(reuse).blobs(matcher.CLASSIFIER_PREFIX)
        except (store.ContentUnavailable, sqlite3.DatabaseError):  # unreadable: fit afresh
            previous = None
    return matcher.build_model(articles, {s["variant"]: s["term"] for s in synonyms}, previous)


def _checked(content_dir: Path, dictionary_dir: Path) -> tuple[Any, dict[str, list[dict]], str]:
    """The validated sources, their table rows and the version's checksum (ContentInvalid if invalid)."""
    loaded = content_mod.load(content_dir)
    if loaded.problems:
        raise ContentInvalid(loaded.problems)
    load_dictionary(dictionary_dir)
    table_rows = rows(loaded)
    # The matcher's model format is part of what a version is: a new format means a new build.
    return loaded, table_rows, checksum(table_rows, {**loaded.settings, "_matcher_model": MATCHER_MODEL_VERSION})


def sources_checksum(content_dir: Path, dictionary_dir: Path) -> str:
    """The checksum `build` would record for these sources, without writing or fitting anything."""
    return _checked(content_dir, dictionary_dir)[2]


def build(content_dir: Path, target: Path, dictionary_dir: Path, reuse: Optional[Path] = None) -> dict:
    """Validate the sources and write `target` atomically. Returns the build's metadata. `reuse`: the
    published database, whose fitted classifier is kept when the articles' phrasings are unchanged."""
    loaded, table_rows, digest = _checked(content_dir, dictionary_dir)
    meta = {
        "checksum": digest,
        "built_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "articles": len(table_rows["articles"]),
        "services": len(table_rows["services"]),
        "stations": len(table_rows["stations"]),
    }
    store.write_content_db(
        target,
        table_rows["services"],
        table_rows["stations"],
        table_rows["articles"],
        index_rows(table_rows["articles"]),
        table_rows["synonyms"],
        loaded.settings,
        meta,
        matcher_blobs(table_rows["articles"], table_rows["synonyms"], reuse),
    )
    return meta
