"""Turn validated content into a content database file."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
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


def _index_source(article: dict) -> str:
    """A digest of the fields an article's index row is made from."""
    fields = {k: article[k] for k in ("title", "questions", "tags", "answer", "category")}
    return hashlib.sha256(_json(fields).encode()).hexdigest()


def index_rows(articles: list[dict], previous: Optional[dict[str, dict]] = None) -> list[dict]:
    """Segmented, normalised text of each article for the FTS5 index. `previous`: index rows of a
    build with the same derivation key, by id; an article whose fields are unchanged keeps its row."""
    previous = previous or {}
    out = []
    for a in articles:
        digest = _index_source(a)
        kept = previous.get(a["id"])
        if kept is not None and kept.get("digest") == digest:
            out.append({k: kept[k] for k in ("id", "title", "questions", "body", "digest")})
            continue
        questions = json.loads(a["questions"])
        tags = json.loads(a["tags"])
        out.append(
            {
                "id": a["id"],
                "title": " ".join(index_terms(normalize(a["title"]))),
                # Tags hold the residents' everyday words for the topic: weighted like questions.
                "questions": " ".join(index_terms(normalize(" ".join([*questions, *tags])))),
                "body": " ".join(index_terms(normalize(" ".join([a["answer"], a["category"]])))),
                "digest": digest,
            }
        )
    return out


MATCHER_MODEL_VERSION = 5


# The code that turns content into derived text and features: a change to any of them is a new derivation.
_DERIVING_MODULES = ("miyun.text", "miyun.knowledge.search", "miyun.knowledge.matcher",
                     "miyun.knowledge.phrasings", "miyun.knowledge.legal_cues")


def derivation_key(dictionary_dir: Path) -> str:
    """A digest of everything besides the content that the index rows and the phrasing model depend
    on: the project dictionary, the deriving code and the segmenter's and converter's versions. Rows
    and models built under the same key may be reused instead of derived again."""
    import importlib
    from importlib import metadata

    digest = hashlib.sha256(str(MATCHER_MODEL_VERSION).encode())
    for path in sorted(Path(dictionary_dir).glob("*.txt")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in _DERIVING_MODULES:
        digest.update(Path(importlib.import_module(name).__file__).read_bytes())
    for dist in ("jieba", "opencc-python-reimplemented"):
        try:
            digest.update(metadata.version(dist).encode())
        except metadata.PackageNotFoundError:
            digest.update(dist.encode())
    return digest.hexdigest()


def phrasings_key(articles: list[dict], synonyms: list[dict], derivation: str) -> str:
    """A digest of what the phrasing model is fitted on: every article's title, questions and tags,
    the synonyms, and the derivation key."""
    fitted_on = [[a["id"], a["title"], a["questions"], a["tags"]] for a in articles]
    return hashlib.sha256(_json({"articles": fitted_on, "synonyms": synonyms, "derivation": derivation}).encode()).hexdigest()


@dataclass
class Reusable:
    """What a build may take from the published database instead of deriving it again."""

    index: dict[str, dict] = field(default_factory=dict)   # index rows by article id
    blobs: dict[str, bytes] = field(default_factory=dict)  # the matcher's blobs, with their prefixes
    phrasings_key: str = ""  # what `blobs` were fitted on; "" when only the classifier may be reused

    @property
    def classifier(self) -> Optional[dict[str, bytes]]:
        """The classifier's blobs without their prefix (matcher.build_model reuses them by model key)."""
        from miyun.knowledge import matcher

        prefix = matcher.CLASSIFIER_PREFIX
        return {k[len(prefix):]: v for k, v in self.blobs.items() if k.startswith(prefix)} or None

    @classmethod
    def read(cls, path: Optional[Path], derivation: str) -> "Reusable":
        """What `path` offers under this derivation key: everything, or only the classifier when it was
        derived differently (nothing if unreadable)."""
        from miyun.knowledge import matcher

        if path is None or not path.exists():
            return cls()
        try:
            db = store.ContentStore(path)
            meta = db.meta()
            same = meta.get("derivation") == derivation
            prefixes = (matcher.MODEL_PREFIX, matcher.CLASSIFIER_PREFIX) if same else (matcher.CLASSIFIER_PREFIX,)
            blobs = {prefix + k: v for prefix in prefixes for k, v in db.blobs(prefix).items()}
            if not same:
                return cls(blobs=blobs)
            return cls(db.index_digests(), blobs, meta.get("phrasings_key", ""))
        except (store.ContentUnavailable, sqlite3.DatabaseError):  # unreadable: derive afresh
            return cls()


# The last few builds of this process: a preview after a publish, and the tests, which build into
# fresh directories with nothing published to reuse, derive only what changed.
_RECENT: list[tuple[str, Reusable]] = []  # (derivation key, what that build made), newest last
RECENT_BUILDS = 3


def _recent(derivation: str, fitted_on: str) -> Reusable:
    """What this process's recent builds under `derivation` offer: every index row they made, and the
    blobs of the one fitted on the same phrasings (else the newest one's classifier)."""
    kept = [r for d, r in _RECENT if d == derivation]
    if not kept:
        return Reusable()
    rows = {k: v for r in kept for k, v in r.index.items()}
    same = [r for r in kept if r.phrasings_key == fitted_on]
    chosen = same[-1] if same else kept[-1]
    return Reusable(rows, chosen.blobs, chosen.phrasings_key)


def _remember(derivation: str, made: Reusable) -> None:
    _RECENT.append((derivation, made))
    del _RECENT[:-RECENT_BUILDS]


def matcher_blobs(articles: list[dict], synonyms: list[dict], reuse: Optional[Reusable] = None,
                  key: str = "") -> dict[str, bytes]:
    """The matcher's phrasing model and article classifier for these articles, as named blobs stored
    with the version. `reuse`: what the published database offers; its blobs are taken whole when
    fitted on the same phrasings under the same derivation (`key`), else its classifier may be
    reused (see matcher.build_model)."""
    from miyun.knowledge import matcher

    if reuse is not None and key and reuse.phrasings_key == key and reuse.blobs:
        return dict(reuse.blobs)
    previous = reuse.classifier if reuse is not None else None
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
    published database: unchanged articles keep their index rows, unchanged phrasings their model and
    classifier, so a one-entry edit publishes in seconds."""
    loaded, table_rows, digest = _checked(content_dir, dictionary_dir)
    derivation = derivation_key(dictionary_dir)
    fitted_on = phrasings_key(table_rows["articles"], table_rows["synonyms"], derivation)
    previous = Reusable.read(reuse, derivation)
    if not previous.index:
        previous = _recent(derivation, fitted_on)
    meta = {
        "checksum": digest,
        "built_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "articles": len(table_rows["articles"]),
        "services": len(table_rows["services"]),
        "stations": len(table_rows["stations"]),
        "derivation": derivation,
        "phrasings_key": fitted_on,
    }
    indexed = index_rows(table_rows["articles"], previous.index)
    blobs = matcher_blobs(table_rows["articles"], table_rows["synonyms"], previous, fitted_on)
    store.write_content_db(target, table_rows["services"], table_rows["stations"], table_rows["articles"], indexed,
                           table_rows["synonyms"], loaded.settings, meta, blobs)
    _remember(derivation, Reusable({r["id"]: r for r in indexed}, blobs, fitted_on))
    return meta
