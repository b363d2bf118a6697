"""The machine citation check: every `legal_basis` in content against the statute library.

A citation naming a national law (中华人民共和国…法, an NPC decision, or any name the library
holds) must match a law in the library, every article number must exist in its current version,
and that version must be in force (after content/statute_overrides.yml). Everything else —
行政法规, 部门规章, 司法解释, local rules — the library does not hold; those are listed as
"checked by hand" with the entry's `source`, and an entry without a source fails.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import yaml

from miyun.knowledge.statutes import Library, source_problems

# Names that must be in the library: the national laws (中华人民共和国…法/法典). NPC decisions
# and interpretations are checked against it when it holds them, by hand otherwise.
_NATIONAL = re.compile(r"^中华人民共和国\S*?(法|法典)([（(][^（）()]*[）)])?$")


@dataclass(frozen=True)
class Citation:
    file: str
    entry: str        # the article or service id (aspects: id › aspect; facts: id › more_facts[n])
    law: str
    articles: tuple[int, ...]
    source: str


@dataclass
class Report:
    checked: list[tuple[Citation, str]] = field(default_factory=list)     # (citation, the law's heading)
    by_hand: list[Citation] = field(default_factory=list)
    failures: list[tuple[Citation, str]] = field(default_factory=list)    # (citation, what is wrong)
    notes: list[tuple[Citation, str]] = field(default_factory=list)       # passed, but worth a look

    @property
    def ok(self) -> bool:
        return not self.failures


def is_national(name: str, library: Library) -> bool:
    """A national law's full name, a name the library holds, or a library law's short name (劳动合同法)."""
    if _NATIONAL.match(name) or library.law(name) is not None:
        return True
    return any(law.short_name == name for law in library.all_laws() if law.short_name != law.name)


def _basis(items, file: str, entry: str, source: str) -> Iterator[Citation]:
    for item in items or []:
        if isinstance(item, dict) and str(item.get("law") or "").strip():
            arts = item.get("articles") or []
            numbers = tuple(a for a in arts if isinstance(a, int)) if isinstance(arts, list) else ()
            yield Citation(file, entry, str(item["law"]).strip().strip("《》"), numbers, source)


def citations(content_dir: Path) -> Iterator[Citation]:
    """Every legal_basis entry of articles, services, services' aspects and more facts, read straight from the files."""
    files = sorted((content_dir / "articles").glob("*.yml"))
    services = content_dir / "services.yml"
    for path, key in [*((p, "articles") for p in files), *([(services, "services")] if services.exists() else [])]:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, OSError):
            continue  # `content validate` reports the file itself
        for entry in data.get(key) or [] if isinstance(data, dict) else []:
            if not isinstance(entry, dict):
                continue
            ident = str(entry.get("id") or "?")
            source = str(entry.get("source") or "").strip()
            yield from _basis(entry.get("legal_basis"), path.name, ident, source)
            aspects = entry.get("aspects") or {}
            # services.yml holds aspects as a mapping (what, who, fee …); a list is read as well.
            pairs = aspects.items() if isinstance(aspects, dict) else (
                ((a.get("id") if isinstance(a, dict) else None) or f"aspects[{i}]", a) for i, a in enumerate(aspects, 1))
            for name, aspect in pairs:
                if isinstance(aspect, dict):
                    a_source = str(aspect.get("source") or "").strip() or source
                    yield from _basis(aspect.get("legal_basis"), path.name, f"{ident} › {name}", a_source)
            more = entry.get("more_facts")
            for i, fact in enumerate(more if isinstance(more, list) else [], 1):
                if isinstance(fact, dict):  # one-fact answers: the same check as aspects
                    f_source = str(fact.get("source") or "").strip() or source
                    yield from _basis(fact.get("legal_basis"), path.name, f"{ident} › more_facts[{i}]", f_source)


def check(content_dir: Path, library: Library) -> Report:
    report = Report()
    for c in citations(content_dir):
        if not is_national(c.law, library):
            if c.source:
                report.by_hand.append(c)
            else:
                report.failures.append((c, "不在法条库中，需人工核对，但条目没有写来源 / not in the library and the entry has no source"))
            continue
        law = library.law(c.law)
        if law is None:
            hint = library.suggest(c.law)
            report.failures.append((c, "法条库中没有这部法律 / no such law in the library"
                                    + (f"；是否应为 / did you mean: {'、'.join(hint)}" if hint else "")))
            continue
        if not law.in_force:
            report.failures.append((c, f"该法已失效（法条库状态：{law.status}，{law.version_date}版）/ not in force; "
                                       f"如确属有效，请在 statute_overrides.yml 中写明来源 / if it is, add an override with its source"))
            continue
        missing = [n for n in c.articles if library.article(law, n) is None]
        if missing:
            report.failures.append((c, f"条文不存在 / no such article in the {law.version_date} version: "
                                       + "、".join(f"第{n}条" for n in missing)))
            continue
        report.checked.append((c, f"《{law.name}》{law.version_label}"))
        amended = [n for n in c.articles if (a := library.article(law, n)) is not None and a.amended_later]
        if amended:
            report.notes.append((c, "法条库中的条文早于后来的修正案，请按修正后的文本核对 / the library's text predates a later "
                                    "amendment of " + "、".join(f"第{n}条" for n in amended)))
    for name in library._load()["allowed"]:
        law = library.law(name)
        if law is None or not law.in_force:
            report.failures.append((Citation("statute_laws.yml", name, name, (), ""),
                                    "法条兜底名单中的法律不在库中或已失效 / allow-listed law missing or not in force"))
    for file, entry, fld, message in source_problems(content_dir):
        report.failures.append((Citation(file, entry, fld, (), ""), message))
    for fix in _overrides_unknown(content_dir, library):
        report.failures.append((Citation("statute_overrides.yml", fix, fix, (), ""), "法条库中没有这部法律 / no such law in the library"))
    return report


def _overrides_unknown(content_dir: Path, library: Library) -> list[str]:
    from miyun.knowledge.statutes import overrides

    return [str(o["law"]) for o in overrides(content_dir) if not library.versions(str(o["law"]).strip())]


def format_report(report: Report, verbose: bool = False) -> list[str]:
    """Lines for `content cite-check`: failures, then the hand-checked list, then the totals."""
    lines = []
    for c, why in report.failures:
        arts = "、".join(f"第{n}条" for n in c.articles)
        lines.append(f"✗ {c.file} › {c.entry} › 《{c.law}》{arts}: {why}")
    if report.by_hand:
        lines.append("")
        lines.append("需人工核对（法条库不收录的行政法规、规章、司法解释和地方性法规）/ checked by hand:")
        for c in report.by_hand:
            arts = "、".join(f"第{n}条" for n in c.articles) or "（未列条文）"
            lines.append(f"  • {c.file} › {c.entry} › 《{c.law}》{arts} — 来源 / source: {c.source}")
    for c, why in report.notes:
        lines.append(f"! {c.file} › {c.entry} › 《{c.law}》: {why}")
    if verbose:
        lines.append("")
        for c, heading in report.checked:
            lines.append(f"  ✓ {c.file} › {c.entry} › {heading}" + "、".join(f"第{n}条" for n in c.articles))
    lines.append("")
    lines.append(f"{'✓' if report.ok else '✗'} {len(report.checked)} 条引用已与法条库核对 / citations machine-checked, "
                 f"{len(report.by_hand)} 条需人工核对 / checked by hand, {len(report.failures)} 个问题 / problem(s)")
    return lines
