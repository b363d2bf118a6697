"""What the bot would answer with a draft: build the draft into a temporary database and ask it
exactly as the actions do (search + the same wording functions)."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from miyun.knowledge import answers, build, content_edit, matcher, more_facts
from miyun.knowledge.aspects import Table
from miyun.knowledge.store import ContentStore
from miyun.settings import Settings
from miyun.text import normalize

# The action's own words when nothing is confident (actions/legal.py NO_CONFIDENT_ANSWER, first line).
NOT_CONFIDENT = "这个问题我没有找到有把握的答案，不想给您说错。（机器人会建议拨打12348，并把问题记入“未答问题”）"


@dataclass
class Preview:
    text: str
    confident: bool = True
    confidence: Optional[float] = None
    best_id: Optional[str] = None
    related: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    note: str = ""  # why a service answer leads with what it does (the more fact matched)


def answer_for(store: ContentStore, kind: str, ident: str, question: str, threshold: float) -> Preview:
    """The answer a resident would get: a service by its intent, a question through the article search."""
    if kind == "services":
        service = store.service(ident)
        if service is None:
            return Preview("（草稿中没有这个服务说明）")
        if not question:
            return Preview(answers.service_text(service))
        if service.get("aspects"):  # asked about this service: the fact it asks, the aspect the words name, else the summary
            table = Table.from_setting(store.aspect_table())
            keys = table.aspects_in(normalize(question), ident)
            lead = more_facts.best(service, normalize(question), table)
            if lead.fact:
                text = answers.fact_text(service, lead.fact, keys, table.label)
                return Preview(text, True, best_id=ident,
                               note=f"按“更多事实”作答：最接近的问法“{lead.phrasing}”，相似度 {lead.score}（次高 {lead.runner_up}）")
            if keys:
                return Preview(answers.aspect_text(service, keys, table.label), True, best_id=ident)
            text = answers.summary_text(service, "", lead.closest)
            note = f"摘要后附上可能问的事实：最接近的问法“{lead.phrasing}”，相似度 {lead.score}（次高 {lead.runner_up}）" \
                if lead.closest and answers.CLOSEST_LEAD in text else ""
            return Preview(text, True, best_id=ident, note=note)
    if kind == "stations" and not question:
        station = store.station(ident)
        return Preview(answers.station_text(station) if station else "（草稿中没有这个服务站）")
    result = matcher.match(store, question)
    confidence = round(result.confidence, 2)
    related = [c.id for c in result.related(include_best=result.decision != matcher.ANSWER)]
    if result.decision == matcher.CLARIFY:
        first, second = result.options
        text = answers.clarifying_question(first.article, second.article) + f"（按钮：{first.article['title']} / {second.article['title']} / 都不是）"
        return Preview(text, False, confidence, first.id, related)
    if result.decision == matcher.SUGGEST:
        options = [c.article for c in result.options]
        text = answers.suggestion_question(options) + f"（按钮：{' / '.join(a['title'] for a in options)} / 都不是）"
        return Preview(text, False, confidence, options[0]["id"], related)
    if result.decision == matcher.LIKELY:
        return Preview(answers.likely_text(result.best.article), False, confidence, result.best.id, related)
    if result.decision != matcher.ANSWER or result.best is None:
        return Preview(NOT_CONFIDENT, False, confidence, result.best.id if result.best else None, related)
    article = result.best.article
    return Preview(answers.article_text(article, full=False), True, confidence, article["id"], related)


def preview(settings: Settings, kind: str, ident: str, changes: dict[str, Any], question: str,
            path: Optional[Path] = None, create: bool = False) -> Preview:
    """Apply the draft to a temporary content copy, build it, and answer `question` from it."""
    path = path or content_edit.entry_path(settings.content_dir, kind, ident)
    try:
        text = content_edit.candidate_text(path, kind, ident, changes, create=create)
        content_edit.validate(settings.content_dir, path, text, ident)
    except content_edit.Invalid as exc:
        return Preview("", False, problems=[f"{k}: {m}" for k, v in exc.fields.items() for m in v] + exc.other)
    rel = str(path.relative_to(settings.content_dir))
    with content_edit.candidate_dir(settings.content_dir, rel, text) as copy, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "preview.db"
        build.build(copy, db, settings.dictionary_dir, reuse=settings.content_db)
        store = ContentStore(db)
        try:
            return answer_for(store, kind, ident, question.strip(), settings.search_threshold)
        finally:
            if store._conn is not None:  # close before the temporary folder goes away
                store._conn.close()
