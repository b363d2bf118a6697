"""The document templates in `content/documents.yml`: their model and validation.

Templates are staff-editable content. A field is asked one at a time in the chat, with its plain-words
explanation; a field the resident does not know is printed as a blank to fill in by hand.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from miyun.dates import iso_date

BLANK = "________"
ID_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_FIELDS = 15
Problem = tuple[str, str, str]  # entry, field, message


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    ask: str
    explain: str
    example: str = ""
    required: bool = True
    long: bool = False            # a paragraph (事实和理由) rather than one line
    choices: tuple[str, ...] = ()  # offered as buttons; free text still accepted


@dataclass(frozen=True)
class Template:
    id: str
    title: str
    names: tuple[str, ...]         # what residents call it; the NLU entity value maps here
    intro: str
    fields: tuple[Field, ...]
    legal_basis: tuple[dict, ...]
    deadline: str                  # the time limit with its article, "" when there is none
    closing: str                   # text before the signature, may name fields as {key}
    source: str
    verified: str | None

    def field(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)


def _text(entry: dict, key: str) -> str:
    value = entry.get(key)
    return " ".join(str(value).split()) if isinstance(value, (str, int, float)) else ""


def _check_field(raw: Any, i: int, seen: set[str], problems: list[tuple[str, str]]) -> dict | None:
    where = f"fields[{i}]"
    if not isinstance(raw, dict):
        problems.append((where, "每项应为键值对 / each field must be a mapping"))
        return None
    key = _text(raw, "key")
    if not KEY_PATTERN.match(key):
        problems.append((f"{where}.key", f"字段名只能用小写字母、数字和下划线 / key must be lowercase letters, digits, underscores: {key!r}"))
        return None
    if key in seen:
        problems.append((f"{where}.key", f"字段名重复 / duplicate key {key!r}"))
    seen.add(key)
    out = {"key": key}
    for name in ("label", "ask", "explain"):
        out[name] = _text(raw, name)
        if not out[name]:
            problems.append((f"{where}.{name}", "缺少内容 / missing"))
    out["example"] = _text(raw, "example")
    for name in ("required", "long"):
        value = raw.get(name, name == "required")
        if not isinstance(value, bool):
            problems.append((f"{where}.{name}", "应为 true 或 false / must be true or false"))
            value = bool(value)
        out[name] = value
    choices = raw.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, str) and c.strip() for c in choices):
        problems.append((f"{where}.choices", "应为文字列表 / must be a list of texts"))
        choices = []
    out["choices"] = [c.strip() for c in choices]
    return out


def _check_document(entry: dict, label: str, seen_ids: set[str], problems: list[Problem]) -> dict | None:
    local: list[tuple[str, str]] = []
    ident = _text(entry, "id")
    if not ID_PATTERN.match(ident):
        local.append(("id", f"编号只能用小写字母、数字和连字符 / id must be lowercase letters, digits, hyphens: {ident!r}"))
    elif ident in seen_ids:
        local.append(("id", f"编号重复 / duplicate id {ident!r}"))
    seen_ids.add(ident)
    out: dict[str, Any] = {"id": ident}
    for name in ("title", "intro", "closing"):
        out[name] = str(entry.get(name) or "").strip()
        if not out[name] and name != "closing":
            local.append((name, "缺少内容 / missing"))
    names = entry.get("names") or []
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        local.append(("names", "需要居民的叫法列表 / needs the list of names residents use"))
        names = []
    out["names"] = [n.strip() for n in names]
    basis = entry.get("legal_basis")
    if not isinstance(basis, list) or not basis:
        local.append(("legal_basis", "缺少法律依据 / missing legal basis"))
        basis = []
    out["legal_basis"] = []
    for i, item in enumerate(basis, 1):
        articles = item.get("articles") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not _text(item, "law"):
            local.append((f"legal_basis[{i}].law", "缺少法律名称 / missing law name"))
        elif not isinstance(articles, list) or not all(isinstance(a, int) and a > 0 for a in articles):
            local.append((f"legal_basis[{i}].articles", "条文号应为正整数列表 / article numbers must be positive integers"))
        else:
            out["legal_basis"].append({"law": _text(item, "law").strip("《》"), "articles": articles})
    out["deadline"] = _text(entry, "deadline")
    raw_fields = entry.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        local.append(("fields", "需要至少一个字段 / needs at least one field"))
        raw_fields = []
    elif len(raw_fields) > MAX_FIELDS:
        local.append(("fields", f"字段太多（最多 {MAX_FIELDS} 个），居民答不完 / at most {MAX_FIELDS} fields"))
    seen: set[str] = set()
    out["fields"] = [f for i, raw in enumerate(raw_fields, 1) if (f := _check_field(raw, i, seen, local))]
    for key in re.findall(r"\{([^}]*)\}", out["closing"]):
        if key not in seen:
            local.append(("closing", f"引用了不存在的字段 / names an unknown field {{{key}}}"))
    out["source"] = _text(entry, "source")
    verified = entry.get("verified")
    out["verified"] = None if verified is False else iso_date(verified)
    if verified is not False and out["verified"] is None:
        local.append(("verified", f"日期格式错误 / bad date {verified!r}: 应为 YYYY-MM-DD 或 false"))
    elif out["verified"] and out["verified"] > dt.date.today().isoformat():
        local.append(("verified", f"日期在未来 / date in the future: {verified}"))
    if verified is not False and not out["source"]:
        local.append(("source", "已核实的模板需要来源 / a verified template needs its source"))
    problems.extend((label, fld, msg) for fld, msg in local)
    return None if local else out


def validate(data: Any) -> tuple[dict, list[Problem]]:
    """The cleaned config of content/documents.yml and its (entry, field, message) problems."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        return {}, [("", "", "应为键值对 / must be a mapping")]
    out: dict[str, Any] = {}
    for name in ("consent", "declined", "printed"):
        out[name] = " ".join(str(data.get(name) or "").split())
        if not out[name]:
            problems.append(("", name, "缺少内容 / missing"))
    documents = data.get("documents")
    if not isinstance(documents, list) or not documents:
        problems.append(("", "documents", "文件应包含列表 `documents:` / file must hold a `documents:` list"))
        documents = []
    seen: set[str] = set()
    out["documents"] = []
    for i, entry in enumerate(documents, 1):
        if not isinstance(entry, dict):
            problems.append((f"第{i}条", "", "条目应为键值对 / entry must be a mapping"))
            continue
        checked = _check_document(entry, str(entry.get("id") or f"第{i}条"), seen, problems)
        if checked:
            out["documents"].append(checked)
    return out, problems


def templates(config: dict | None) -> dict[str, Template]:
    """Templates by id from the published config (the cleaned dicts)."""
    out = {}
    for d in (config or {}).get("documents") or []:
        fields = tuple(Field(**{**f, "choices": tuple(f.get("choices") or ())}) for f in d["fields"])
        out[d["id"]] = Template(
            id=d["id"], title=d["title"], names=tuple(d["names"]), intro=d["intro"], fields=fields,
            legal_basis=tuple(d["legal_basis"]), deadline=d.get("deadline") or "", closing=d.get("closing") or "",
            source=d.get("source") or "", verified=d.get("verified"),
        )
    return out


def basis_line(template: Template) -> str:
    """依据：《行政复议法》第20条、第22条"""
    parts = []
    for b in template.legal_basis:
        arts = "、".join(f"第{a}条" for a in b["articles"])
        parts.append(f"《{b['law']}》{arts}")
    return "依据：" + "；".join(parts) if parts else ""
