"""Read and validate the staff-editable content files under `content/`.

Every problem is reported with its file, entry and field, so a non-programmer can fix it.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from miyun.knowledge import aspects as aspects_mod
from miyun.knowledge import more_facts as more_facts_mod
from miyun.dates import as_date

CATEGORIES = (
    "劳动就业", "婚姻家庭", "继承", "借贷与合同", "房屋租赁与物业", "土地与宅基地", "交通事故",
    "消费维权", "人身损害与侵权", "老年人与赡养", "未成年人保护", "家庭暴力", "刑事与治安", "行政执法与复议",
    "社会保障与工伤", "生态环境与水源保护", "调解与诉讼程序",
)
TOWNS = (
    "鼓楼街道", "果园街道", "檀营地区", "密云镇", "溪翁庄镇", "西田各庄镇", "十里堡镇", "河南寨镇", "巨各庄镇",
    "穆家峪镇", "太师屯镇", "高岭镇", "不老屯镇", "冯家峪镇", "古北口镇", "大城子镇", "东邵渠镇", "北庄镇",
    "新城子镇", "石城镇",
)
ID_PATTERN = re.compile(r"^[a-z0-9]+([-_][a-z0-9]+)*$")
# An article's phrasings: a few short ones and a few told as residents tell them (long stories are
# matched against long phrasings best), so up to 16 (a round to 20 lowered story recall).
QUESTIONS_MIN, QUESTIONS_MAX = 3, 16
ANSWER_MIN, ANSWER_MAX = 150, 400


@dataclass(frozen=True)
class Problem:
    """One validation error, located precisely."""

    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}"
        if self.entry:
            where += f" › {self.entry}"
        if self.field:
            where += f" › {self.field}"
        return f"{where}: {self.message}"


@dataclass
class Content:
    """Everything loaded from the source files."""

    services: list[dict] = field(default_factory=list)
    stations: list[dict] = field(default_factory=list)
    articles: list[dict] = field(default_factory=list)
    synonyms: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


# libyaml's loader (same safe constructors, ten times faster): 530 articles parse in about 1 s, not 10.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path, problems: list[Problem]) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"第{mark.line + 1}行 (line {mark.line + 1})" if mark else ""
        problems.append(Problem(path.name, "", "", f"YAML 格式错误 / invalid YAML {line}: {exc}"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(path.name, "", "", f"无法读取 / cannot read: {exc}"))
    except ValueError as exc:  # e.g. a date like 2026-13-01, which the YAML parser itself rejects
        problems.append(Problem(path.name, "", "", f"YAML 值错误 / invalid value: {exc}"))
    return None


def iso(value: Any) -> str | None:
    """A date field as ISO text, or None for false/empty."""
    d = as_date(value)
    return d.isoformat() if d else None


class _Checker:
    """Field checks for one entry; collects problems instead of raising."""

    def __init__(self, file: str, entry: dict, label: str, problems: list[Problem]) -> None:
        self.file, self.entry, self.label, self.problems = file, entry, label, problems

    def fail(self, fld: str, message: str) -> None:
        self.problems.append(Problem(self.file, self.label, fld, message))

    def text(self, fld: str, required: bool = True) -> str | None:
        value = self.entry.get(fld)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(fld, "缺少内容 / missing")
            return None
        if not isinstance(value, (str, int, float)):
            self.fail(fld, "应为文字 / must be text")
            return None
        return str(value).strip()

    def date(self, fld: str, allow_false: bool) -> None:
        value = self.entry.get(fld)
        if value is False and allow_false:
            return
        if value is None:
            self.fail(fld, "缺少日期 / missing date (YYYY-MM-DD" + (" 或 false)" if allow_false else ")"))
        elif as_date(value) is None:
            self.fail(fld, f"日期格式错误 / bad date {value!r}: 应为 YYYY-MM-DD" + (" 或 false" if allow_false else ""))
        elif as_date(value) > dt.date.today():
            self.fail(fld, f"日期在未来 / date in the future: {value}")

    def string_list(self, fld: str, low: int = 0, high: int | None = None) -> list[str]:
        value = self.entry.get(fld)
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) and str(v).strip() for v in value):
            self.fail(fld, "应为非空文字列表 / must be a list of non-empty texts")
            return []
        items = [str(v).strip() for v in value]
        if len(items) < low or (high is not None and len(items) > high):
            span = f"{low}–{high}" if high is not None else f"至少{low} / at least {low}"
            self.fail(fld, f"条目数应为 {span}，现在是 {len(items)} / needs {span}, has {len(items)}")
        return items

    def legal_basis(self, required: bool) -> list[dict]:
        value = self.entry.get("legal_basis")
        if not value:
            if required:
                self.fail("legal_basis", "缺少法律依据 / missing legal basis")
            return []
        if not isinstance(value, list):
            self.fail("legal_basis", "应为列表 / must be a list of {law, articles}")
            return []
        out = []
        for i, item in enumerate(value, 1):
            if not isinstance(item, dict) or not str(item.get("law") or "").strip():
                self.fail(f"legal_basis[{i}].law", "缺少法律名称 / missing law name")
                continue
            articles = item.get("articles") or []
            if not isinstance(articles, list) or not all(isinstance(a, int) and a > 0 for a in articles):
                self.fail(f"legal_basis[{i}].articles", "条文号应为正整数列表，不确定时留空 [] / article numbers must be positive integers, [] when unsure")
                continue
            out.append({"law": str(item["law"]).strip().strip("《》"), "articles": articles})
        return out

    def common(self, with_verified: bool = True) -> None:
        self.text("source", required=self.entry.get("verified") not in (False, None))
        if with_verified:
            self.date("verified", allow_false=True)
        self.date("updated", allow_false=False)


class _Prefixed(_Checker):
    """A checker for a nested mapping (an aspect): fields are reported as `prefix.field`."""

    def __init__(self, parent: _Checker, entry: dict, prefix: str) -> None:
        super().__init__(parent.file, entry, parent.label, parent.problems)
        self.prefix = prefix

    def fail(self, fld: str, message: str) -> None:
        super().fail(f"{self.prefix}.{fld}" if not fld.startswith(self.prefix) else fld, message)


def _item_rules(c: _Checker) -> tuple[Any, Any]:
    """The entry's own rules for legal_basis and dates, for a nested item (an aspect, a fact)."""

    def basis(value: Any, where: str) -> list[dict]:
        prefix = where.rsplit(".", 1)[0]
        return _Prefixed(c, {"legal_basis": value}, prefix).legal_basis(required=False)

    def date(value: Any, where: str) -> None:
        prefix, fld = where.rsplit(".", 1)
        _Prefixed(c, {fld: value}, prefix).date(fld, allow_false=True)

    return basis, date


def _check_aspects(c: _Checker) -> dict:
    """The service's aspects, with the entry's own rules for legal_basis and dates."""
    return aspects_mod.check_service_aspects(c.entry, c.fail, *_item_rules(c))


def _check_more_facts(c: _Checker) -> list[dict]:
    """The service's one-fact answers, held to the aspects' rules (miyun.knowledge.more_facts)."""
    return more_facts_mod.check_service_facts(c.entry, c.fail, *_item_rules(c))


def _entries(path: Path, key: str, problems: list[Problem]) -> list[dict]:
    data = _read_yaml(path, problems)
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        problems.append(Problem(path.name, "", key, f"文件应包含列表 `{key}:` / file must hold a `{key}:` list"))
        return []
    out = []
    for i, entry in enumerate(data[key], 1):
        if not isinstance(entry, dict):
            problems.append(Problem(path.name, f"第{i}条", "", "条目应为键值对 / entry must be a mapping"))
            continue
        entry["_file"] = path.name
        entry["_label"] = str(entry.get("id") or f"第{i}条")
        out.append(entry)
    return out


def _check_id(c: _Checker, seen: dict[str, str]) -> str | None:
    ident = c.text("id")
    if ident is None:
        return None
    if not ID_PATTERN.match(ident):
        c.fail("id", f"编号只能用小写字母、数字、连字符和下划线 / id must be lowercase letters, digits, hyphens or underscores: {ident!r}")
    if ident in seen:
        c.fail("id", f"编号重复，已在 {seen[ident]} 中使用 / duplicate id, already used in {seen[ident]}")
    seen[ident] = c.file
    return ident


def _check_facts(c: _Checker) -> list[dict]:
    facts = c.entry.get("facts") or []
    if not isinstance(facts, list):
        c.fail("facts", "应为列表 / must be a list")
        return []
    out = []
    for i, fact in enumerate(facts, 1):
        if not isinstance(fact, dict) or not fact.get("key") or not fact.get("label"):
            c.fail(f"facts[{i}]", "每项需要 key 和 label / each fact needs key and label")
            continue
        verified = fact.get("verified")
        if verified is not False and as_date(verified) is None:
            c.fail(f"facts[{i}].verified", f"日期格式错误 / bad date {verified!r}: 应为 YYYY-MM-DD 或 false")
        if fact.get("value") not in (None, "") and verified is False:
            pass  # an unverified value is shown with a "please confirm" note
        out.append(
            {
                "key": str(fact["key"]),
                "label": str(fact["label"]),
                "value": None if fact.get("value") in (None, "") else str(fact["value"]),
                "verified": iso(verified),
                "source": fact.get("source"),
            }
        )
    return out


def load(content_dir: Path) -> Content:
    """Load and validate every source file; problems are collected, never raised."""
    content = Content()
    problems = content.problems
    seen: dict[str, str] = {}

    services_file = content_dir / "services.yml"
    for entry in _entries(services_file, "services", problems) if services_file.exists() else []:
        c = _Checker(entry["_file"], entry, entry["_label"], problems)
        ident = _check_id(c, seen)
        intent = c.text("intent")
        c.text("title")
        c.text("answer")
        basis = c.legal_basis(required=False)
        facts = _check_facts(c)
        aspects = _check_aspects(c)
        more = _check_more_facts(c)
        c.common()
        if ident and intent:
            content.services.append({**entry, "id": ident, "legal_basis": basis, "facts": facts, "aspects": aspects,
                                     more_facts_mod.KEY: more})
    if not services_file.exists():
        problems.append(Problem("services.yml", "", "", "文件不存在 / file missing"))

    aspects_file = content_dir / "aspects.yml"
    if aspects_file.exists():
        data = _read_yaml(aspects_file, problems)
        if data is not None:
            # Published with the settings, so it is versioned and rolled back with the content.
            content.settings["aspect_table"] = aspects_mod.check_table(
                data, [s["id"] for s in content.services],
                lambda fld, message: problems.append(Problem("aspects.yml", "", fld, message)))
    else:
        problems.append(Problem("aspects.yml", "", "", "文件不存在 / file missing"))

    stations_file = content_dir / "stations.yml"
    for entry in _entries(stations_file, "stations", problems) if stations_file.exists() else []:
        c = _Checker(entry["_file"], entry, entry["_label"], problems)
        ident = _check_id(c, seen)
        c.text("name")
        town = entry.get("town")
        if town is not None and town not in TOWNS:
            c.fail("town", f"未知镇街 / unknown town {town!r}; 应为 / must be one of: {'、'.join(TOWNS)}")
        for coord, low, high in (("latitude", 39.5, 41.5), ("longitude", 115.5, 118.0)):
            value = entry.get(coord)
            if value is not None and not (isinstance(value, (int, float)) and low <= value <= high):
                c.fail(coord, f"坐标不在密云附近 / coordinate outside Miyun: {value!r}")
        c.string_list("services")
        c.common()
        if ident:
            content.stations.append({**entry, "id": ident})
    if not stations_file.exists():
        problems.append(Problem("stations.yml", "", "", "文件不存在 / file missing"))
    station_towns = {s.get("town") for s in content.stations}
    for town in TOWNS:
        if town not in station_towns and stations_file.exists():
            problems.append(Problem("stations.yml", town, "town", "缺少该镇街的服务站 / no station for this town"))

    for path in sorted((content_dir / "articles").glob("*.yml")):
        for entry in _entries(path, "articles", problems):
            c = _Checker(entry["_file"], entry, entry["_label"], problems)
            ident = _check_id(c, seen)
            c.text("title")
            category = c.text("category")
            if category and category not in CATEGORIES:
                c.fail("category", f"未知分类 / unknown category {category!r}; 应为 / must be one of: {'、'.join(CATEGORIES)}")
            c.string_list("questions", QUESTIONS_MIN, QUESTIONS_MAX)
            answer = c.text("answer")
            if answer:
                n = len("".join(answer.split()))
                if not ANSWER_MIN <= n <= ANSWER_MAX:
                    c.fail("answer", f"回答应为 {ANSWER_MIN}–{ANSWER_MAX} 字，现在 {n} 字 / answer must be {ANSWER_MIN}–{ANSWER_MAX} characters, has {n}")
            basis = c.legal_basis(required=True)
            c.string_list("tags")
            c.common()
            for ref in entry.get("stations") or []:
                if ref not in {s["id"] for s in content.stations}:
                    c.fail("stations", f"引用的服务站不存在 / broken station reference {ref!r}")
            if ident:
                content.articles.append({**entry, "id": ident, "legal_basis": basis})

    synonyms_file = content_dir / "synonyms.yml"
    if synonyms_file.exists():
        for entry in _entries(synonyms_file, "synonyms", problems):
            c = _Checker(entry["_file"], entry, str(entry.get("term") or entry["_label"]), problems)
            term = c.text("term")
            variants = c.string_list("variants", 1)
            if term and variants:
                content.synonyms.append({"term": term, "variants": variants})

    referrals_file = content_dir / "referrals.yml"
    if referrals_file.exists():
        from miyun.referrals.rules import validate_config

        data = _read_yaml(referrals_file, problems)
        if isinstance(data, dict):
            for fld, message in validate_config(data):
                problems.append(Problem("referrals.yml", "", fld, message))
            content.settings["referrals"] = data
    else:
        problems.append(Problem("referrals.yml", "", "", "文件不存在 / file missing"))

    # The statute library's staff files (status overrides, laws the statute tier may quote).
    from miyun.knowledge.statutes import source_problems

    problems.extend(Problem(*p) for p in source_problems(content_dir))
    deadlines_file = content_dir / "deadlines.yml"
    if deadlines_file.exists():
        from miyun.deadlines.rules import validate as validate_deadlines

        data = _read_yaml(deadlines_file, problems)
        if data is not None:
            entries, found = validate_deadlines(data)
            problems += [Problem("deadlines.yml", entry, fld, message) for entry, fld, message in found]
            content.settings["deadlines"] = entries
    documents_file = content_dir / "documents.yml"
    if documents_file.exists():
        from miyun.documents.templates import validate as validate_documents

        data = _read_yaml(documents_file, problems)
        if data is not None:
            config, found = validate_documents(data)
            problems.extend(Problem("documents.yml", entry, fld, message) for entry, fld, message in found)
            content.settings["documents"] = config

    settings_file = content_dir / "settings.yml"
    if settings_file.exists():
        data = _read_yaml(settings_file, problems)
        if isinstance(data, dict):
            content.settings.update(data)
        elif data is not None:
            problems.append(Problem("settings.yml", "", "", "应为键值对 / must be a mapping"))
    return content


def strip_private(entry: dict) -> dict:
    """The entry without loader bookkeeping keys."""
    return {k: v for k, v in entry.items() if not k.startswith("_")}


def all_entries(content: Content) -> Iterable[tuple[str, dict]]:
    """(kind, entry) for every loaded entry."""
    for kind in ("services", "stations", "articles"):
        for entry in getattr(content, kind):
            yield kind, entry
