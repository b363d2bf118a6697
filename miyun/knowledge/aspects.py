"""Aspects of a service answer (what, who, fee, materials, where, how, time, hours, remedy):
validating them and the keyword table (`content/aspects.yml`), and recognising which aspect
and which service a resident's message asks about.

The keyword table is content, not code, so staff can add a resident's word without a release;
it travels in the content store (setting `aspect_table`) and is versioned with everything else.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from miyun.dates import iso_date

ASPECTS = ("what", "who", "fee", "materials", "where", "how", "time", "hours", "remedy")
# Service intents whose entries must carry all nine aspects.
ASPECT_INTENTS = (
    "ask_hotline", "ask_legal_aid", "ask_mediation", "request_mediation", "ask_admin_reconsideration",
    "ask_info_disclosure", "ask_petition",
)
TEXT_MAX = 120
_A_NOT_A = re.compile(r"(\w)不\1")
TITLE_MAX = 6
# Spoken question words and their written form, for keyword matching only.
COLLOQUIAL = (("咋", "怎么"), ("啥", "什么"), ("哪儿", "哪里"), ("上哪", "去哪"), ("多会儿", "什么时候"))
FULL = "full"  # the payload aspect that asks for the whole entry (完整说明)
FULL_TITLE = "完整说明"


def text_length(text: str) -> int:
    """Characters as residents see them: whitespace and line breaks do not count."""
    return len("".join(str(text).split()))


# --------------------------------------------------------------------------- validation

Fail = Any  # callable(field, message)


def check_service_aspects(entry: dict, fail: Fail, check_basis: Any, check_date: Any) -> dict:
    """The entry's `aspects` as plain values; problems go to `fail(field, message)`.

    `check_basis(item, field)` and `check_date(value, field)` are the content checker's own
    rules for legal_basis and dates, so an aspect is held to the same standard as an entry.
    """
    raw = entry.get("aspects")
    required = entry.get("intent") in ASPECT_INTENTS
    if raw is None:
        if required:
            fail("aspects", f"缺少 aspects（需要 {'、'.join(ASPECTS)}）/ missing aspects")
        return {}
    if not isinstance(raw, dict):
        fail("aspects", "应为键值对：每个方面一项 / must be a mapping, one item per aspect")
        return {}
    out: dict[str, dict] = {}
    for key in raw:
        if key not in ASPECTS:
            fail(f"aspects.{key}", f"未知方面 / unknown aspect {key!r}; 应为 / must be one of: {'、'.join(ASPECTS)}")
    for key in ASPECTS:
        where = f"aspects.{key}"
        if key not in raw:
            fail(where, "缺少这一方面；不知道时写 text: null 和 verified: false / missing aspect; unknown → text: null, verified: false")
            continue
        checked = check_item(raw[key], where, fail, check_basis, check_date)
        if checked is not None:
            out[key] = checked
    return out


ITEM_FIELDS = ("text", "legal_basis", "source", "verified")


def check_item(item: Any, where: str, fail: Fail, check_basis: Any, check_date: Any,
               extra_fields: tuple[str, ...] = ()) -> Optional[dict]:
    """One short answer {text ≤120字, legal_basis, source, verified} as plain values, or None when it
    is not a mapping; problems go to `fail(field, message)`. Aspects and the more facts share it."""
    if not isinstance(item, dict):
        fail(where, "应为键值对 {text, legal_basis, source, verified} / must be a mapping")
        return None
    for extra in sorted(set(item) - set(ITEM_FIELDS) - set(extra_fields)):
        fail(f"{where}.{extra}", f"未知字段 / unknown field ({', '.join(ITEM_FIELDS + extra_fields)})")
    text = item.get("text")
    if text is not None and not isinstance(text, str):
        fail(f"{where}.text", "应为文字或 null / must be text or null")
        text = None
    if isinstance(text, str) and not text.strip():
        text = None
    if text is not None and text_length(text) > TEXT_MAX:
        fail(f"{where}.text", f"最多 {TEXT_MAX} 字，现在 {text_length(text)} 字 / at most {TEXT_MAX} characters, has {text_length(text)}")
    basis = check_basis(item.get("legal_basis"), f"{where}.legal_basis")
    verified = item.get("verified")
    if "verified" not in item:
        fail(f"{where}.verified", "缺少核实日期 / missing verified (YYYY-MM-DD 或 false)")
    elif verified is not False:
        check_date(verified, f"{where}.verified")
    source = item.get("source")
    if source is not None and (not isinstance(source, str) or not source.strip()):
        fail(f"{where}.source", "应为文字或 null / must be text or null")
        source = None
    if text is None and verified not in (False, None):
        fail(f"{where}.verified", "未知的内容不能标记为已核实 / an unknown aspect (text: null) cannot be verified")
    if text is not None and verified not in (False, None) and not source:
        fail(f"{where}.source", "已核实的内容需要来源 / a verified aspect needs a source")
    return {
        "text": text.strip() if text else None,
        "legal_basis": basis,
        "source": source.strip() if isinstance(source, str) else None,
        "verified": iso_date(verified),
    }


def _words(value: Any) -> Optional[list[str]]:
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, int)) and str(v).strip() for v in value):
        return None
    return [str(v).strip() for v in value]


def check_table(data: Any, service_ids: Iterable[str], fail: Fail) -> dict:
    """`content/aspects.yml` as the table the assistant uses; problems go to `fail(field, message)`."""
    if not isinstance(data, dict):
        fail("", "应为键值对 / must be a mapping with aspects, topics, priority")
        return {}
    ids = set(service_ids)
    aspects, owner = [], {}
    for i, item in enumerate(data.get("aspects") or [], 1):
        key = item.get("key") if isinstance(item, dict) else None
        where = f"aspects[{i}]" + (f"({key})" if key else "")
        if key not in ASPECTS:
            fail(where, f"key 应为 / key must be one of: {'、'.join(ASPECTS)}")
            continue
        title, label = str(item.get("title") or "").strip(), str(item.get("label") or "").strip()
        if not title or len(title) > TITLE_MAX:
            fail(f"{where}.title", f"按钮文字需 1–{TITLE_MAX} 字 / button title needs 1–{TITLE_MAX} characters")
        if not label:
            fail(f"{where}.label", "缺少内容 / missing")
        words = _words(item.get("keywords"))
        if words is None:
            fail(f"{where}.keywords", "应为非空文字列表 / must be a list of non-empty texts")
            words = []
        for w in words:
            if w in owner and owner[w] != key:
                fail(f"{where}.keywords", f"关键词“{w}”已属于 {owner[w]} / keyword already belongs to {owner[w]}")
            owner[w] = key
        aspects.append({"key": key, "title": title, "label": label or title, "keywords": words})
    missing = [k for k in ASPECTS if k not in {a["key"] for a in aspects}]
    if missing:
        fail("aspects", f"缺少方面 / missing aspects: {'、'.join(missing)}")
    priority = data.get("priority")
    if not isinstance(priority, list) or sorted(map(str, priority)) != sorted(ASPECTS):
        fail("priority", f"应把九个方面各列一次 / must list each of the nine aspects once: {'、'.join(ASPECTS)}")
        priority = list(ASPECTS)
    topics, topic_owner = {}, {}
    raw_topics = data.get("topics")
    if not isinstance(raw_topics, dict):
        fail("topics", "应为键值对：服务编号: [关键词] / must map service ids to keywords")
        raw_topics = {}
    for ident, words in raw_topics.items():
        if ident not in ids:
            fail(f"topics.{ident}", f"没有这个服务 / no service {ident!r} in services.yml")
        clean = _words(words)
        if clean is None:
            fail(f"topics.{ident}", "应为非空文字列表 / must be a list of non-empty texts")
            continue
        for w in clean:
            if w in topic_owner and topic_owner[w] != ident:
                fail(f"topics.{ident}", f"关键词“{w}”已属于 {topic_owner[w]} / keyword already belongs to {topic_owner[w]}")
            topic_owner[w] = ident
        topics[str(ident)] = clean
    overrides = {}
    for ident, by_aspect in (data.get("overrides") or {}).items():
        if ident not in ids:
            fail(f"overrides.{ident}", f"没有这个服务 / no service {ident!r} in services.yml")
            continue
        if not isinstance(by_aspect, dict):
            fail(f"overrides.{ident}", "应为键值对：方面: [关键词] / must map aspects to keywords")
            continue
        overrides[str(ident)] = {}
        for key, words in by_aspect.items():
            if isinstance(words, dict):  # {with: [...]}: the general words, only beside one of these
                context_words = _words(words.get("with"))
                if key not in ASPECTS or context_words is None:
                    fail(f"overrides.{ident}.{key}.with", "应为已知方面和非空关键词列表 / must be a known aspect with a list of keywords")
                    continue
                overrides[str(ident)][key] = {"with": context_words}
                continue
            clean = _words(words)
            if key not in ASPECTS or clean is None:
                fail(f"overrides.{ident}.{key}", "应为已知方面和非空关键词列表 / must be a known aspect with a list of keywords")
                continue
            overrides[str(ident)][key] = clean
    only_alone = data.get("only_alone") or []
    if not isinstance(only_alone, list) or any(k not in ASPECTS for k in only_alone):
        fail("only_alone", f"应为方面列表 / must list aspects: {'、'.join(ASPECTS)}")
        only_alone = []
    ignore = data.get("ignore") or []
    if _words(ignore) is None and ignore:
        fail("ignore", "应为文字列表 / must be a list of texts")
        ignore = []
    return {"aspects": aspects, "priority": [str(p) for p in priority], "topics": topics,
            "overrides": overrides, "ignore": [str(w) for w in ignore], "only_alone": [str(k) for k in only_alone]}


# --------------------------------------------------------------------------- recognition


@dataclass
class Table:
    """The published keyword table, ready for matching."""

    aspects: list[dict] = field(default_factory=list)
    priority: list[str] = field(default_factory=lambda: list(ASPECTS))
    topics: dict[str, list[str]] = field(default_factory=dict)
    overrides: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    ignore: list[str] = field(default_factory=list)
    only_alone: list[str] = field(default_factory=list)

    @classmethod
    def from_setting(cls, value: Optional[dict]) -> "Table":
        value = value or {}
        return cls(list(value.get("aspects") or []), list(value.get("priority") or ASPECTS),
                   dict(value.get("topics") or {}), dict(value.get("overrides") or {}), list(value.get("ignore") or []),
                   list(value.get("only_alone") or []))

    def title(self, key: str) -> str:
        if key == FULL:
            return FULL_TITLE
        return next((a["title"] for a in self.aspects if a["key"] == key), key)

    def label(self, key: str) -> str:
        return next((a["label"] for a in self.aspects if a["key"] == key), self.title(key))

    def _clean(self, text: str) -> str:
        text = _A_NOT_A.sub(r"\1", text)  # 受不受理 → 受理: the negative is not a refusal
        for phrase in sorted(self.ignore, key=len, reverse=True):
            text = text.replace(phrase, " ")
        # The message as written plus its standard wording (咋交 → 怎么交), so a keyword
        # need not be listed once per dialect word.
        standard = text
        for spoken, written in COLLOQUIAL:
            standard = standard.replace(spoken, written)
        return text if standard == text else f"{text}\n{standard}"

    def aspects_in(self, text: str, service: Optional[str] = None, limit: int = 2) -> list[str]:
        """The aspects a (normalised) message asks about, most specific first, at most `limit`."""
        text = self._clean(text)
        own = self.overrides.get(service or "", {})
        found = [a["key"] for a in self.aspects if self._matches(text, a, own.get(a["key"]))]
        specific = [k for k in found if k not in self.only_alone]
        found = specific or found
        return sorted(found, key=lambda k: self.priority.index(k) if k in self.priority else len(self.priority))[:limit]

    @staticmethod
    def _matches(text: str, aspect: dict, override: Any) -> bool:
        if isinstance(override, dict):
            return any(w in text for w in aspect["keywords"]) and any(w in text for w in override["with"])
        return any(w in text for w in (override if override is not None else aspect["keywords"]))

    def topics_in(self, text: str) -> list[str]:
        """Services the message names, in the order it names them."""
        first: dict[str, int] = {}
        for ident, words in self.topics.items():
            positions = [text.find(w) for w in words if w in text]
            if positions:
                first[ident] = min(positions)
        return sorted(first, key=first.get)
