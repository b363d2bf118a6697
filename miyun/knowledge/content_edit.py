"""Read and write single entries of the content YAML files (the source of truth) for the staff console.

* Files are edited with ruamel.yaml's round-trip mode: comments, key order, quoting and
  folded `>-` answers are kept; an untouched file is rewritten byte for byte.
* Every save carries the checksum of the file as it was when the form was opened; if the file
  changed on disk since (someone edited it by hand, or another console user saved), the save is
  refused with `Conflict` instead of silently overwriting.
* Candidates are validated with `miyun.knowledge.content.load` (the same rules as `content validate`) on a
  temporary copy of the content folder; problems are mapped back to form fields.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from miyun.knowledge import content as content_mod
from miyun.knowledge.aspects import ASPECTS, Table

KINDS = ("articles", "services", "stations")
KIND_LABELS = {"articles": "普法问答", "services": "服务说明", "stations": "服务站"}

# Form fields per kind: (name, label, widget). Widgets decide how form text becomes YAML values.
FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "articles": [
        ("title", "标题", "text"), ("category", "分类", "category"), ("questions", "常见问法（每行一条，3–12条）", "lines"),
        ("answer", "回答（150–400字）", "textarea"), ("legal_basis", "法律依据（每行：法律名称: 条号, 条号）", "basis"),
        ("tags", "关键词（用顿号或逗号分隔）", "list"), ("source", "来源", "optional"),
        ("verified", "核实日期（YYYY-MM-DD 或 false）", "date_or_false"), ("updated", "更新日期", "date"),
    ],
    "services": [
        ("title", "标题", "text"), ("answer", "回答", "textarea"),
        ("legal_basis", "法律依据（每行：法律名称: 条号, 条号）", "basis"), ("facts", "事实信息", "facts"),
        ("aspects", "分方面简答（每项一两句、至多120字，事实在前；不知道就留空并把核实写 false）", "aspects"),
        ("more_facts", "更多事实（一问一答：居民的问法2–12条，每行一条；简答至多120字；法律依据必填；没核实的把核实写 false）", "more_facts"),
        ("source", "来源", "optional"), ("verified", "核实日期（YYYY-MM-DD 或 false）", "date_or_false"),
        ("updated", "更新日期", "date"),
    ],
    "stations": [
        ("name", "名称", "text"), ("town", "镇街", "town"), ("address", "地址", "optional"), ("phone", "电话", "optional"),
        ("hours", "开放时间", "optional"), ("services", "可办理（用顿号或逗号分隔）", "list"),
        ("latitude", "纬度", "float"), ("longitude", "经度", "float"), ("source", "来源", "optional"),
        ("verified", "核实日期（YYYY-MM-DD 或 false）", "date_or_false"), ("updated", "更新日期", "date"),
    ],
}
_FOLDED_FIELDS = {"answer"}
_FLOW_LISTS = {"tags", "services"}

_write_lock = threading.Lock()


class Conflict(RuntimeError):
    """The file changed on disk since the form was opened."""


class NotFound(KeyError):
    """No entry with that kind and id."""


@dataclass
class Invalid(ValueError):
    """Validation problems of a candidate, by form field, plus problems elsewhere it would cause."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    other: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join([f"{k}: {'; '.join(v)}" for k, v in self.fields.items()] + self.other)


@dataclass
class EntryInfo:
    kind: str
    id: str
    file: str            # relative to the content folder, e.g. articles/labour.yml
    title: str
    category: str
    verified: Optional[str]
    age_days: Optional[int]
    stale: bool


@dataclass
class Saved:
    path: Path
    checksum: str
    before: dict
    after: dict


# ---------------------------------------------------------------------- YAML round trip


def _yaml() -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    y.representer.add_representer(type(None), lambda r, d: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


def file_checksum(path: Path) -> str:
    """SHA-256 of the file's bytes: what the edit form carries to detect concurrent changes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def plain(value: Any) -> Any:
    """ruamel's commented containers and scalar strings as plain Python values."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.date()
    return value


# ---------------------------------------------------------------------- listing


_cache: dict[str, tuple[tuple, content_mod.Content]] = {}


def _stamp(content_dir: Path) -> tuple:
    files = sorted(content_dir.glob("*.yml")) + sorted((content_dir / "articles").glob("*.yml"))
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


def load_cached(content_dir: Path) -> content_mod.Content:
    """`content.load`, reused while no file changed (listing pages are opened often)."""
    key, stamp = str(content_dir), _stamp(content_dir)
    hit = _cache.get(key)
    if hit and hit[0] == stamp:
        return hit[1]
    loaded = content_mod.load(content_dir)
    _cache[key] = (stamp, loaded)
    return loaded


def relative_file(kind: str, file_name: str) -> str:
    return f"articles/{file_name}" if kind == "articles" else file_name


def list_entries(content_dir: Path, today: dt.date, stale_days: int) -> list[EntryInfo]:
    """Every article, service and station with its verification age."""
    out = []
    for kind, entry in content_mod.all_entries(load_cached(content_dir)):
        verified = content_mod.iso(entry.get("verified"))
        age = (today - dt.date.fromisoformat(verified)).days if verified else None
        out.append(EntryInfo(
            kind=kind, id=entry["id"], file=relative_file(kind, entry["_file"]),
            title=str(entry.get("title") or entry.get("name") or entry["id"]),
            category=str(entry.get("category") or ("" if kind != "stations" else entry.get("town") or "区级")),
            verified=verified, age_days=age, stale=verified is None or age > stale_days,  # type: ignore[operator]
        ))
    return out


def aspect_labels(content_dir: Path) -> dict[str, str]:
    """Each aspect's heading as the keyword table (content/aspects.yml) names it."""
    table = Table.from_setting(load_cached(content_dir).settings.get("aspect_table"))
    return {key: table.label(key) for key in ASPECTS}


def entry_path(content_dir: Path, kind: str, ident: str) -> Path:
    """The file that holds an entry."""
    if kind not in KINDS:
        raise NotFound(kind)
    for k, entry in content_mod.all_entries(load_cached(content_dir)):
        if k == kind and entry["id"] == ident:
            return content_dir / relative_file(kind, entry["_file"])
    raise NotFound(ident)


def _find(data: Any, kind: str, ident: str) -> Any:
    for item in data.get(kind) or []:
        if isinstance(item, dict) and str(item.get("id")) == ident:
            return item
    raise NotFound(ident)


def read_entry(content_dir: Path, kind: str, ident: str) -> tuple[Path, dict, str]:
    """(file, the entry as plain values, the file checksum) for an edit form."""
    path = entry_path(content_dir, kind, ident)
    raw = path.read_bytes()
    data = _yaml().load(raw.decode("utf-8"))
    return path, plain(_find(data, kind, ident)), hashlib.sha256(raw).hexdigest()


def article_file_for_category(content_dir: Path, category: str) -> Path:
    """The articles file whose entries have this category (a new article goes there)."""
    for entry in load_cached(content_dir).articles:
        if entry.get("category") == category:
            return content_dir / "articles" / entry["_file"]
    raise NotFound(category)


# ---------------------------------------------------------------------- form values


def _date(text: str) -> Any:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return text  # validation reports the bad date on this field


def _split_list(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"[\n,，、;；]+", text) if p.strip()]


def _basis(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        found = re.match(r"^(.*?)[:：](.*)$", line)
        law, arts = (found.group(1), found.group(2)) if found else (line, "")
        articles: list[Any] = []
        for token in re.split(r"[\s,，、]+", arts.strip()):
            token = token.strip().lstrip("第").rstrip("条")
            if token:
                articles.append(int(token) if token.isdigit() else token)
        out.append({"law": law.strip().strip("《》"), "articles": articles})
    return out


def basis_text(basis: Any) -> str:
    """Legal basis as the form's text: one `law: 1, 2` per line."""
    lines = []
    for item in basis or []:
        if isinstance(item, dict):
            arts = ", ".join(str(a) for a in item.get("articles") or [])
            lines.append(f"{item.get('law') or ''}: {arts}" if arts else f"{item.get('law') or ''}:")
    return "\n".join(lines)


def form_value(widget: str, value: Any) -> Any:
    """An entry's value as the text an edit form shows."""
    if widget in ("lines",):
        return "\n".join(str(v) for v in value or [])
    if widget == "list":
        return "、".join(str(v) for v in value or [])
    if widget == "basis":
        return basis_text(value)
    if widget == "facts":
        return value or []
    if widget == "aspects":  # only entries that have aspects show them (not the menu or the handoff)
        items = [(k, (value or {}).get(k) or {}) for k in ASPECTS] if value else []
        return [{"key": k, "text": a.get("text") or "", "legal_basis": basis_text(a.get("legal_basis")),
                 "source": a.get("source") or "", "verified": form_value("date_or_false", a.get("verified"))}
                for k, a in items]
    if widget == "more_facts":
        return [{"questions": "\n".join(str(q) for q in f.get("questions") or []), "text": f.get("text") or "",
                 "legal_basis": basis_text(f.get("legal_basis")), "source": f.get("source") or "",
                 "verified": form_value("date_or_false", f.get("verified"))}
                for f in value or [] if isinstance(f, dict)]
    if value is None:
        return ""
    if value is False:
        return "false"
    return str(value)


def _more_facts(form: dict[str, str]) -> Optional[list[dict]]:
    """The more facts as the form posts them (`mfact{i}.*`, `mfacts.count` slots): a slot marked
    remove, or left empty (the blank slot for a new fact), is dropped; None when the form has none."""
    try:
        count = int(form.get("mfacts.count", ""))
    except ValueError:
        return None
    out = []
    for i in range(count):
        prefix = f"mfact{i}."
        if form.get(prefix + "remove"):
            continue
        values = {k: form.get(prefix + k, "").replace("\r\n", "\n").strip()
                  for k in ("questions", "text", "legal_basis", "source", "verified")}
        if not any(values[k] for k in ("questions", "text", "legal_basis", "source")):
            continue
        out.append({
            "questions": [q.strip() for q in values["questions"].splitlines() if q.strip()],
            "text": " ".join(values["text"].split()) or None,
            "legal_basis": _basis(values["legal_basis"]),
            "source": values["source"] or None,
            "verified": False if values["verified"] in ("", "false") else _date(values["verified"]),
        })
    return out


def parse_form(kind: str, form: dict[str, str], facts_count: int = 0) -> dict[str, Any]:
    """Form text → YAML values for the fields of `kind` (only fields present in the form)."""
    changes: dict[str, Any] = {}
    for name, _label, widget in FIELDS[kind]:
        if widget == "facts":
            facts = []
            for i in range(facts_count):
                if f"fact{i}.value" not in form:
                    continue
                verified = form.get(f"fact{i}.verified", "").strip()
                facts.append({
                    "value": form.get(f"fact{i}.value", "").strip() or None,
                    "verified": False if verified in ("", "false") else _date(verified),
                    "source": form.get(f"fact{i}.source", "").strip() or None,
                })
            if facts:
                changes["facts"] = facts
            continue
        if widget == "more_facts":
            facts = _more_facts(form)
            if facts is not None:
                changes[name] = facts
            continue
        if widget == "aspects":
            aspects = {}
            for key in ASPECTS:
                prefix = f"aspect.{key}."
                if prefix + "text" not in form:
                    continue
                verified = form.get(prefix + "verified", "").strip()
                aspects[key] = {
                    "text": " ".join(form[prefix + "text"].split()) or None,
                    "legal_basis": _basis(form.get(prefix + "legal_basis", "")),
                    "source": form.get(prefix + "source", "").strip() or None,
                    "verified": False if verified in ("", "false") else _date(verified),
                }
            if aspects:
                changes["aspects"] = aspects
            continue
        if name not in form:
            continue
        text = form[name].replace("\r\n", "\n").strip()
        if widget in ("text", "textarea", "category"):
            changes[name] = text or None
        elif widget in ("optional", "town"):
            changes[name] = text or None
        elif widget == "lines":
            changes[name] = [line.strip() for line in text.splitlines() if line.strip()]
        elif widget == "list":
            changes[name] = _split_list(text)
        elif widget == "basis":
            changes[name] = _basis(text)
        elif widget == "date":
            changes[name] = _date(text) if text else None
        elif widget == "date_or_false":
            changes[name] = False if text.lower() in ("", "false") else _date(text)
        elif widget == "float":
            try:
                changes[name] = float(text) if text else None
            except ValueError:
                changes[name] = text
    return changes


# ---------------------------------------------------------------------- applying changes


def _styled(old: Any, new: Any, key: str) -> Any:
    """The new value in the old value's YAML style (folded, quoted, flow list)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import FoldedScalarString

    if isinstance(new, str):
        if type(old) is not str and isinstance(old, str):
            return type(old)(new)
        if old is None and key in _FOLDED_FIELDS:
            return FoldedScalarString(new)
        return new
    if isinstance(new, list):
        seq = CommentedSeq([_styled(None, v, "") for v in new])
        if key in _FLOW_LISTS or (isinstance(old, CommentedSeq) and old.fa.flow_style()):
            seq.fa.set_flow_style()
        return seq
    if isinstance(new, dict):
        m = CommentedMap()
        for k, v in new.items():
            m[k] = _styled(None, v, k)
            if k == "articles":
                m[k].fa.set_flow_style()
        return m
    return new


def _merge(node: Any, new: dict[str, Any]) -> None:
    """Change only the fields of a nested mapping (a fact, an aspect) that differ, in their old style."""
    for k, v in new.items():
        if plain(node.get(k)) != v:
            node[k] = _styled(node.get(k), v, k)


def _apply(entry: Any, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if key == "facts":
            for fact, new in zip(entry.get("facts") or [], value):
                _merge(fact, new)
            continue
        if key == "more_facts":
            _apply_more_facts(entry, value)
            continue
        if key == "aspects" and entry.get("aspects") is not None:
            for name, new in value.items():
                if entry["aspects"].get(name) is None:
                    entry["aspects"][name] = _styled(None, new, name)
                else:
                    _merge(entry["aspects"][name], new)
            continue
        if key in entry and plain(entry.get(key)) == value:
            continue  # unchanged: keep the original node (folded lines, quotes, comments)
        if key == "verified_by" and key not in entry and "verified" in entry:
            entry.insert(list(entry.keys()).index("verified") + 1, key, value)
            continue
        entry[key] = _styled(entry.get(key), value, key)


def _apply_more_facts(entry: Any, new: list[dict]) -> None:
    """The facts in the form's order; an unchanged fact keeps its node (comments, quotes), an edited
    one is changed field by field, an added one goes after the aspects."""
    from ruamel.yaml.comments import CommentedSeq

    old = entry.get("more_facts")
    if old is None and not new:
        return
    if old is not None and not new:
        del entry["more_facts"]
        return
    if old is not None and len(old) == len(new):  # edited in place: only the changed fields are rewritten
        for node, fact in zip(old, new):
            _merge(node, fact)
        return
    nodes = list(old or [])
    seq = CommentedSeq()
    for fact in new:  # a fact added or removed: the others keep their nodes
        kept = next((n for n in nodes if plain(n) == fact), None)
        if kept is not None:
            nodes.remove(kept)
        seq.append(kept if kept is not None else _styled(None, fact, ""))
    if old is not None:
        entry["more_facts"] = seq
        return
    keys = list(entry.keys())
    at = keys.index("aspects") + 1 if "aspects" in keys else len(keys)
    entry.insert(at, "more_facts", seq)


def _dump(data: Any) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def candidate_text(path: Path, kind: str, ident: str, changes: dict[str, Any], create: bool = False) -> str:
    """The file's text with one entry changed (or appended when `create`)."""
    from ruamel.yaml.comments import CommentedMap

    data = _yaml().load(path.read_text(encoding="utf-8"))
    if create:
        if any(str(e.get("id")) == ident for e in data.get(kind) or [] if isinstance(e, dict)):
            raise Invalid({"id": [f"编号已存在 / id already exists: {ident}"]})
        entry = CommentedMap()
        entry["id"] = ident
        data[kind].append(entry)
        _apply(entry, changes)
    else:
        _apply(_find(data, kind, ident), changes)
    return _dump(data)


@contextlib.contextmanager
def candidate_dir(content_dir: Path, rel: str, text: str) -> Iterator[Path]:
    """A temporary copy of the content folder with one file replaced."""
    with tempfile.TemporaryDirectory(prefix="miyun-candidate-") as tmp:
        copy = Path(tmp) / "content"
        shutil.copytree(content_dir, copy)
        (copy / rel).write_text(text, encoding="utf-8")
        yield copy


def _base_field(name: str) -> str:
    return re.split(r"[\[.]", name, maxsplit=1)[0]


def validate(content_dir: Path, path: Path, text: str, ident: str) -> None:
    """Raise Invalid with the problems the candidate text has (for this entry, and new ones elsewhere)."""
    baseline = {str(p) for p in load_cached(content_dir).problems}
    rel = str(path.relative_to(content_dir))
    with candidate_dir(content_dir, rel, text) as copy:
        problems = content_mod.load(copy).problems
    err = Invalid()
    for p in problems:
        if p.file == path.name and p.entry == ident and p.field:
            base = _base_field(p.field)
            # Which fact: "more_facts[2].text" is shown as "第2条 text：…" under the facts.
            where = re.match(r"more_facts\[(\d+)\]\.?(.*)$", p.field)
            message = f"第{where.group(1)}条{' ' + where.group(2) if where.group(2) else ''}：{p.message}" if where else p.message
            err.fields.setdefault(base, []).append(message)
        elif str(p) not in baseline:
            err.other.append(str(p))
    if err.fields or err.other:
        raise err


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def save_entry(content_dir: Path, kind: str, ident: str, changes: dict[str, Any], expected_checksum: str,
               *, path: Path | None = None, create: bool = False) -> Saved:
    """Validate and write one entry; refuses with Conflict if the file changed since `expected_checksum`."""
    path = path or entry_path(content_dir, kind, ident)
    with _write_lock:
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != expected_checksum:
            raise Conflict(str(path.relative_to(content_dir)))
        before = {} if create else {k: plain(v) for k, v in _find(_yaml().load(raw.decode("utf-8")), kind, ident).items()}
        text = candidate_text(path, kind, ident, changes, create=create)
        validate(content_dir, path, text, ident)
        _write_atomic(path, text)
        after = {k: plain(v) for k, v in _find(_yaml().load(text), kind, ident).items()}
        changed_before = {k: v for k, v in before.items() if after.get(k) != v}
        changed_after = {k: v for k, v in after.items() if before.get(k) != v}
        return Saved(path, hashlib.sha256(text.encode("utf-8")).hexdigest(), changed_before, changed_after)


def mark_verified(content_dir: Path, kind: str, ident: str, by: str, expected_checksum: str, today: dt.date) -> Saved:
    """verified = today, and verified_by = the user when validation accepts that key."""
    try:
        return save_entry(content_dir, kind, ident, {"verified": today, "verified_by": by}, expected_checksum)
    except Invalid as exc:
        if "verified_by" not in exc.fields:
            raise
    return save_entry(content_dir, kind, ident, {"verified": today}, expected_checksum)


def add_phrasing(content_dir: Path, article_id: str, phrasing: str, expected_checksum: str | None = None) -> Saved:
    """Append a resident's phrasing to an article's questions (if it has fewer than 8), else to its tags."""
    path, entry, checksum = read_entry(content_dir, "articles", article_id)
    questions = list(entry.get("questions") or [])
    if phrasing in questions or phrasing in (entry.get("tags") or []):
        raise Invalid(other=[f"这个问法已经在该解答里 / already in the article: {phrasing}"])
    if len(questions) < content_mod.QUESTIONS_MAX:
        changes = {"questions": questions + [phrasing]}
    else:
        changes = {"tags": list(entry.get("tags") or []) + [phrasing]}
    return save_entry(content_dir, "articles", article_id, changes, expected_checksum or checksum, path=path)


# ---------------------------------------------------------------------- NLU export


def append_nlu_examples(path: Path, examples: list[str], intent: str = "ask_legal_question") -> int:
    """Add examples to a Rasa NLU YAML file (created if missing); returns how many were new."""
    import yaml

    data: dict = {"version": "3.1", "nlu": []}
    if path.exists():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or data
    block = next((b for b in data.get("nlu") or [] if b.get("intent") == intent), None)
    if block is None:
        block = {"intent": intent, "examples": ""}
        data.setdefault("nlu", []).append(block)
    existing = [line[2:].strip() for line in str(block.get("examples") or "").splitlines() if line.startswith("- ")]
    new = [e.strip() for e in examples if e.strip() and e.strip() not in existing]
    new = list(dict.fromkeys(new))
    lines = existing + new
    out = ["# Questions residents asked that the assistant could not answer, exported from the staff console.",
           "# Review, then move them into nlu/ before the next `make train`.", f'version: "{data.get("version", "3.1")}"', "nlu:"]
    for b in data["nlu"]:
        exs = lines if b is block else [ln[2:].strip() for ln in str(b.get("examples") or "").splitlines() if ln.startswith("- ")]
        out.append(f"- intent: {b['intent']}")
        out.append("  examples: |")
        out += [f"    - {e}" for e in exs]
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, "\n".join(out) + "\n")
    return len(new)
