"""Dashboard, unanswered questions (grouped, with actions) and the 没帮助 feedback list."""
from __future__ import annotations

import collections
import datetime as dt
import hashlib

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from console.auth import guard
from console.charts import bar_chart
from console.context import NO_STORE, console, form_str, redirect, user
from console.referral_routes import STATUS_LABELS, visible_towns
from miyun.documents.counts import DocumentCounts
from miyun.documents.templates import templates as document_templates
from miyun.knowledge import content_edit, unanswered
from miyun.knowledge.store import ContentUnavailable

EDITORS = ("editor", "admin")


def group_key(g: unanswered.Group) -> str:
    """A stable handle for a group: its example question's digest."""
    return hashlib.sha1(g.example.encode("utf-8")).hexdigest()[:12]


def group_ids(rows: list[dict], g: unanswered.Group) -> list[int]:
    """The unanswered rows that make up a group."""
    questions = set(g.questions)
    return [r["id"] for r in rows if r["question"] in questions]


def document_weeks(c, weeks: int = 8) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """Documents made per ISO week and kind (counts only: the contents are never kept)."""
    rows = DocumentCounts(c.core.runtime_db).weekly(weeks)
    try:
        titles = {k: t.title for k, t in document_templates(c.live.setting("documents")).items()}
    except ContentUnavailable:
        titles = {}
    kinds = sorted({kind for _, kind, _ in rows})
    table = collections.defaultdict(dict)
    for week, kind, n in rows:
        table[week][kind] = n
    return [titles.get(k, k) for k in kinds], [(w, [table[w].get(k, 0) for k in kinds]) for w in sorted(table, reverse=True)]


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


@guard("editor", "mediator", "admin")
async def dashboard(request: Request) -> Response:
    """Messages per day, top intents, unanswered and 有帮助 rates; referrals for those who may see them."""
    c = console(request)
    per_day = await run_in_threadpool(c.trackers.messages_per_day, 14)
    intents = await run_in_threadpool(c.trackers.top_intents, 10)
    legal = await run_in_threadpool(c.trackers.count_messages, "ask_legal_question")
    total = await run_in_threadpool(c.trackers.count_messages)
    n_unanswered = len(c.runtime.unanswered())
    feedback = c.runtime.feedback()
    helpful = sum(1 for f in feedback if f["helpful"])
    charts = [bar_chart([(d[5:], n) for d, n in per_day], "近14天每日消息数"), bar_chart(intents, "最常见的意图")]
    u = user(request)
    if u["role"] in ("mediator", "admin"):
        rows = c.runtime.referrals_filtered(towns=visible_towns(u))
        by_town = collections.Counter(r["town"] or "未填" for r in rows).most_common()
        by_status = collections.Counter(STATUS_LABELS.get(r["status"], r["status"]) for r in rows).most_common()
        charts += [bar_chart(by_town, "转介：按镇街"), bar_chart(by_status, "转介：按状态")]
    stats = {"messages": total, "legal": legal, "unanswered": n_unanswered,
             "unanswered_rate": _pct(n_unanswered, legal), "feedback": len(feedback),
             "helpful_rate": _pct(helpful, len(feedback))}
    doc_kinds, doc_weeks = await run_in_threadpool(document_weeks, c)
    return c.page(request, "dashboard.html", title="概览", charts=charts, stats=stats,
                  doc_kinds=doc_kinds, doc_weeks=doc_weeks, doc_ttl=f"{c.core.document_ttl_min:g}")


@guard(*EDITORS)
async def unanswered_page(request: Request) -> Response:
    """Open unanswered questions grouped by similarity, largest groups first."""
    c = console(request)
    groups = unanswered.group(c.runtime.unanswered_open())
    articles = await run_in_threadpool(content_edit.list_entries, c.core.content_dir, dt.date.today(),
                                       c.staff.stale_days)
    return c.page(request, "unanswered.html", title="未答问题", groups=[(group_key(g), g) for g in groups],
                  articles=[a for a in articles if a.kind == "articles"], export_exists=c.nlu_export.exists())


def _find_group(request: Request, key: str) -> tuple[list[dict], unanswered.Group | None]:
    rows = console(request).runtime.unanswered_open()
    for g in unanswered.group(rows):
        if group_key(g) == key:
            return rows, g
    return rows, None


@guard(*EDITORS)
async def unanswered_action(request: Request) -> Response:
    """link (add the phrasing to an article), export (NLU training example) or dismiss a group."""
    c = console(request)
    form = await request.form()
    action, key = request.path_params["action"], form_str(form, "group")
    rows, g = _find_group(request, key)
    if g is None:
        return redirect(request, "/unanswered", err="这组问题已变化或已处理，请刷新后再试。")
    ids, actor = group_ids(rows, g), user(request)["name"]
    if action == "link":
        article = form_str(form, "article").strip()
        phrasing = (form_str(form, "phrasing").strip() or g.example)[:200]
        try:
            saved = await run_in_threadpool(content_edit.add_phrasing, c.core.content_dir, article, phrasing)
        except content_edit.NotFound:
            return redirect(request, "/unanswered", err=f"没有这篇普法问答：{article}")
        except (content_edit.Invalid, content_edit.Conflict) as exc:
            return redirect(request, "/unanswered", err=f"未能关联：{exc}")
        c.runtime.set_unanswered_status(ids, "linked", actor, article)
        c.users.audit(actor, "unanswered.link", f"articles/{article}", saved.before, {**saved.after, "questions_ids": ids})
        return redirect(request, "/unanswered", msg=f"已把“{phrasing}”加入 {article}（保存到文件，发布后生效）。")
    if action == "export":
        added = await run_in_threadpool(content_edit.append_nlu_examples, c.nlu_export, list(dict.fromkeys(g.questions)))
        c.runtime.set_unanswered_status(ids, "exported", actor, str(c.nlu_export.name))
        c.users.audit(actor, "unanswered.export", str(c.nlu_export.name), None, {"examples": g.questions, "new": added})
        return redirect(request, "/unanswered", msg=f"已导出 {added} 条新训练样例到 nlu_export.yml（下次训练前审核）。")
    if action == "dismiss":
        c.runtime.set_unanswered_status(ids, "dismissed", actor)
        c.users.audit(actor, "unanswered.dismiss", g.example, None, {"ids": ids, "count": len(ids)})
        return redirect(request, "/unanswered", msg=f"已忽略 {len(ids)} 条。")
    return redirect(request, "/unanswered", err="未知操作。")


@guard(*EDITORS)
async def nlu_download(request: Request) -> Response:
    """The exported NLU examples (Rasa NLU YAML)."""
    c = console(request)
    text = c.nlu_export.read_text(encoding="utf-8") if c.nlu_export.exists() else 'version: "3.1"\nnlu: []\n'
    return Response(text, media_type="application/x-yaml; charset=utf-8",
                    headers={**NO_STORE, "Content-Disposition": 'attachment; filename="nlu_export.yml"'})


@guard(*EDITORS)
async def feedback_page(request: Request) -> Response:
    """没帮助 answers with the residents' comments and the content they rated."""
    c = console(request)
    rows = c.runtime.feedback_list(helpful=False)
    counts = collections.Counter(r["content_id"] or "未知" for r in rows).most_common(10)
    kinds = {e.id: e.kind for e in await run_in_threadpool(content_edit.list_entries, c.core.content_dir,
                                                             dt.date.today(), c.staff.stale_days)}
    return c.page(request, "feedback.html", title="反馈", rows=rows, chart=bar_chart(counts, "“没帮助”最多的内容"), kinds=kinds)
