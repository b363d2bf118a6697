"""The deadline table (content/deadlines.yml): validation, loading, and which deadline a question is about.

Staff edit the table; `content validate` reports problems by file › entry › field, and the published
table travels in the content store's settings (key `deadlines`), so a publish reaches the
assistant without retraining.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from miyun.deadlines.periods import UNITS
from miyun.dates import iso_date

# The kinds the assistant knows how to phrase; the table must hold each exactly once.
KINDS = (
    "reconsideration", "admin_litigation", "labour_arbitration", "limitation", "injury_recognition",
    "disclosure_reply", "appeal_judgment", "appeal_ruling", "accident_review", "enforcement",
    "judicial_confirmation",
)
# Offered as buttons when a dated question does not say which deadline it means.
COMMON_KINDS = ("reconsideration", "admin_litigation", "labour_arbitration", "appeal_judgment",
                "limitation", "injury_recognition", "accident_review")
# "不想复议，直接去法院告": a procedure the resident rules out does not point at its deadline.
_DECLINED = re.compile(r"(?:不想|不打算|不用|不要|不愿意?|没有?|不)(?:申请)?(?:行政)?(复议|仲裁|上诉|起诉|复核)")
_TEXT_FIELDS = ("name", "trigger", "event", "last_day_label", "source")


@dataclass(frozen=True)
class Deadline:
    kind: str
    name: str
    length: int
    unit: str
    trigger: str
    event: str
    last_day_label: str
    keywords: tuple[str, ...]
    legal_basis: tuple[dict, ...]
    source: str
    verified: str | None
    note: str = ""
    extension: dict | None = None
    passed_note: str = ""

    def score(self, text: str) -> int:
        """How strongly `text` points at this deadline: the length of the words matched ("a+b": all parts)."""
        total = 0
        for keyword in self.keywords:
            parts = [p for p in keyword.split("+") if p]
            if parts and all(p in text for p in parts):
                total += sum(len(p) for p in parts)
        return total


def _period_problems(value: Any, where: str) -> list[tuple[str, str]]:
    out = []
    if not isinstance(value, dict):
        return [(where, "应为键值对 {length, unit} / must be a mapping {length, unit}")]
    length, unit = value.get("length"), value.get("unit")
    if not isinstance(length, int) or isinstance(length, bool) or length <= 0:
        out.append((f"{where}length" if where else "length", f"期限长度应为正整数 / length must be a positive integer, got {length!r}"))
    if unit not in UNITS:
        out.append((f"{where}unit" if where else "unit", f"单位应为 {'/'.join(UNITS)} 之一 / unit must be one of {', '.join(UNITS)}, got {unit!r}"))
    return out


def validate(data: Any, today: dt.date | None = None) -> tuple[list[dict], list[tuple[str, str, str]]]:
    """(clean entries, problems as (entry, field, message)) for the parsed YAML of deadlines.yml."""
    today = today or dt.date.today()
    problems: list[tuple[str, str, str]] = []
    if not isinstance(data, dict) or not isinstance(data.get("deadlines"), list):
        return [], [("", "deadlines", "文件应包含列表 `deadlines:` / file must hold a `deadlines:` list")]
    clean, seen = [], set()
    for i, entry in enumerate(data["deadlines"], 1):
        if not isinstance(entry, dict):
            problems.append((f"第{i}条", "", "条目应为键值对 / entry must be a mapping"))
            continue
        kind = str(entry.get("kind") or "").strip()
        label = kind or f"第{i}条"
        before = len(problems)
        if kind not in KINDS:
            problems.append((label, "kind", f"未知期限种类 / unknown kind {kind!r}; 应为 / must be one of: {', '.join(KINDS)}"))
        elif kind in seen:
            problems.append((label, "kind", "重复 / duplicate kind"))
        seen.add(kind)
        for fld in _TEXT_FIELDS:
            value = entry.get(fld)
            if not isinstance(value, str) or not value.strip():
                problems.append((label, fld, "缺少内容 / missing"))
        problems += [(label, f, m) for f, m in _period_problems(entry, "")]
        extension = entry.get("extension")
        if extension is not None:
            problems += [(label, f, m) for f, m in _period_problems(extension, "extension.")]
            if isinstance(extension, dict) and not str(extension.get("text") or "").strip():
                problems.append((label, "extension.text", "缺少说明 / missing text"))
        keywords = entry.get("keywords")
        if not isinstance(keywords, list) or not keywords or not all(isinstance(k, str) and k.strip("+ ") for k in keywords):
            problems.append((label, "keywords", "应为非空文字列表 / must be a non-empty list of words"))
        basis = entry.get("legal_basis")
        if not isinstance(basis, list) or not basis:
            problems.append((label, "legal_basis", "缺少法律依据 / missing legal basis"))
        else:
            for j, item in enumerate(basis, 1):
                if not isinstance(item, dict) or not str(item.get("law") or "").strip():
                    problems.append((label, f"legal_basis[{j}].law", "缺少法律名称 / missing law name"))
                elif not isinstance(item.get("articles"), list) or not item["articles"] or not all(
                        isinstance(a, int) and a > 0 for a in item["articles"]):
                    problems.append((label, f"legal_basis[{j}].articles", "期限必须写明条文号（正整数列表）/ a deadline needs its article numbers"))
        verified = entry.get("verified")
        if iso_date(verified) is None:
            problems.append((label, "verified", f"日期格式错误 / bad date {verified!r}: 应为 YYYY-MM-DD（期限必须核实过 / a deadline must be verified）"))
        elif dt.date.fromisoformat(iso_date(verified)) > today:
            problems.append((label, "verified", f"日期在未来 / date in the future: {verified}"))
        if len(problems) == before:
            clean.append(_clean(entry))
    for kind in KINDS:
        if kind not in seen:
            problems.append((kind, "kind", "缺少这一期限 / this deadline is missing from the table"))
    return clean, problems


def _clean(entry: dict) -> dict:
    ext = entry.get("extension")
    return {
        "kind": entry["kind"].strip(),
        **{f: entry[f].strip() for f in _TEXT_FIELDS},
        "length": entry["length"],
        "unit": entry["unit"],
        "note": str(entry.get("note") or "").strip(),
        "passed_note": str(entry.get("passed_note") or "").strip(),
        "extension": {"length": ext["length"], "unit": ext["unit"], "text": str(ext["text"]).strip()} if ext else None,
        "keywords": [k.strip() for k in entry["keywords"]],
        "legal_basis": [{"law": str(b["law"]).strip().strip("《》"), "articles": list(b["articles"])} for b in entry["legal_basis"]],
        "verified": iso_date(entry.get("verified")),
    }


def table(rows: Iterable[dict] | None) -> dict[str, Deadline]:
    """Deadlines by kind, from the published rows (or the clean entries of `validate`)."""
    out = {}
    for row in rows or []:
        out[row["kind"]] = Deadline(
            kind=row["kind"], name=row["name"], length=int(row["length"]), unit=row["unit"],
            trigger=row["trigger"], event=row["event"], last_day_label=row["last_day_label"],
            keywords=tuple(row.get("keywords") or ()), legal_basis=tuple(row.get("legal_basis") or ()),
            source=row.get("source") or "", verified=row.get("verified"), note=row.get("note") or "",
            extension=row.get("extension") or None, passed_note=row.get("passed_note") or "",
        )
    return out


@dataclass
class KindGuess:
    kind: str | None                 # None: no deadline named, or a tie
    candidates: list[str] = field(default_factory=list)   # tied kinds, best first


def detect(text: str, deadlines: dict[str, Deadline]) -> KindGuess:
    """Which deadline `text` is about, by the table's keywords; a tie is reported, not guessed."""
    text = _DECLINED.sub("", text)
    scores = sorted(((d.score(text), kind) for kind, d in deadlines.items()), key=lambda s: -s[0])
    scores = [(s, k) for s, k in scores if s > 0]
    if not scores:
        return KindGuess(None)
    best = scores[0][0]
    tied = [k for s, k in scores if s == best]
    return KindGuess(tied[0] if len(tied) == 1 else None, tied)
