"""Content pages: list and filter entries, edit with validation, preview, mark verified, publish,
version history with diff, rollback. The YAML files stay the source of truth."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Optional

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from console import preview as preview_mod
from console.auth import guard
from console.context import console, form_str, not_found, redirect, user
from miyun.knowledge import build, content_edit, publish, unanswered
from miyun.knowledge.content import CATEGORIES, TOWNS

EDITORS = ("editor", "admin")


def _today() -> dt.date:
    return dt.date.today()


@guard(*EDITORS)
async def content_list(request: Request) -> Response:
    """All entries, filtered by text, kind, category, verified and stale."""
    c = console(request)
    q = request.query_params
    entries = await run_in_threadpool(content_edit.list_entries, c.core.content_dir, _today(), c.staff.stale_days)
    text, kind, category = q.get("q", "").strip(), q.get("kind", ""), q.get("category", "")
    verified, stale = q.get("verified", ""), q.get("stale", "")
    shown = [e for e in entries
             if (not text or text.lower() in (e.id + e.title).lower())
             and (not kind or e.kind == kind) and (not category or e.category == category)
             and (verified != "yes" or e.verified) and (verified != "no" or not e.verified)
             and (not stale or e.stale)]
    return c.page(request, "content_list.html", title="内容", entries=shown, total=len(entries), q=q,
                  categories=CATEGORIES, kinds=content_edit.KIND_LABELS)


def _form_context(kind: str, entry: dict) -> list[dict]:
    return [{"name": n, "label": label, "widget": w, "value": content_edit.form_value(w, entry.get(n))}
            for n, label, w in content_edit.FIELDS[kind]]


def _edit_page(request: Request, kind: str, ident: str, entry: dict, checksum: str, file: str, *,
               errors: dict | None = None, other: list | None = None, preview: Any = None, question: str = "",
               status_code: int = 200, create: bool = False, group: str = "") -> Response:
    return console(request).page(
        request, "content_edit.html", status_code=status_code, title=f"编辑 {ident}" if not create else "新建普法问答",
        kind=kind, kind_label=content_edit.KIND_LABELS[kind], ident=ident, fields=_form_context(kind, entry),
        checksum=checksum, file=file, errors=errors or {}, other=other or [], preview=preview, question=question,
        categories=CATEGORIES, towns=TOWNS, entry=entry, create=create, group=group,
        aspect_labels=content_edit.aspect_labels(console(request).core.content_dir) if kind == "services" else {})


def _kind_ident(request: Request) -> tuple[str, str]:
    return request.path_params["kind"], request.path_params["ident"]


@guard(*EDITORS)
async def content_edit_page(request: Request) -> Response:
    """The edit form of one entry (carries the file checksum)."""
    c = console(request)
    kind, ident = _kind_ident(request)
    try:
        path, entry, checksum = content_edit.read_entry(c.core.content_dir, kind, ident)
    except content_edit.NotFound:
        return not_found(request, "没有这个条目。")
    return _edit_page(request, kind, ident, entry, checksum, str(path.relative_to(c.core.content_dir)))


def _draft(form: Any, kind: str, entry: dict) -> tuple[dict, dict]:
    """(changes from the form, the entry as the form shows it after the changes)."""
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    changes = content_edit.parse_form(kind, fields, len(entry.get("facts") or []))
    draft = {**entry, **changes}
    if "facts" in changes:
        draft["facts"] = [{**old, **new} for old, new in zip(entry.get("facts") or [], changes["facts"])]
    return changes, draft


async def _posted_entry(request: Request) -> tuple[str, str, Any, Optional[tuple[Path, dict]]]:
    """(kind, id, the posted form, (file, entry as on disk)); None in place of the pair when there is no such entry."""
    kind, ident = _kind_ident(request)
    form = await request.form()
    try:
        path, entry, _ = content_edit.read_entry(console(request).core.content_dir, kind, ident)
    except content_edit.NotFound:
        return kind, ident, form, None
    return kind, ident, form, (path, entry)


@guard(*EDITORS)
async def content_save(request: Request) -> Response:
    """Validate and write the entry; refuse if the file changed on disk since the form was opened."""
    c = console(request)
    kind, ident, form, found = await _posted_entry(request)
    if found is None:
        return not_found(request, "没有这个条目。")
    path, entry = found
    checksum = form_str(form, "checksum")
    changes, draft = _draft(form, kind, entry)
    rel = str(path.relative_to(c.core.content_dir))
    try:
        saved = await run_in_threadpool(content_edit.save_entry, c.core.content_dir, kind, ident, changes, checksum, path=path)
    except content_edit.Conflict:
        return _edit_page(request, kind, ident, draft, checksum, rel, status_code=409, other=[
            f"文件 {rel} 在您打开表单后已被修改（可能是他人在控制台或直接编辑了文件）。为避免覆盖，本次未保存。"
            "请复制您的修改，重新打开本页后再保存。"])
    except content_edit.Invalid as exc:
        return _edit_page(request, kind, ident, draft, checksum, rel, errors=exc.fields, other=exc.other, status_code=422)
    c.users.audit(user(request)["name"], "content.save", f"{kind}/{ident}", saved.before, saved.after)
    msg = "已保存到文件。发布后居民才能看到新内容。" if saved.after else "没有改动。"
    return redirect(request, f"/content/{kind}/{ident}", msg=msg)


@guard(*EDITORS)
async def content_preview(request: Request) -> Response:
    """What the bot would answer to a question with this draft (nothing is saved)."""
    c = console(request)
    kind, ident, form, found = await _posted_entry(request)
    if found is None:
        return not_found(request, "没有这个条目。")
    path, entry = found
    changes, draft = _draft(form, kind, entry)
    question = form_str(form, "question").strip()[:200]
    result = await run_in_threadpool(preview_mod.preview, c.core, kind, ident, changes, question, path)
    return _edit_page(request, kind, ident, draft, form_str(form, "checksum"), str(path.relative_to(c.core.content_dir)),
                      preview=result, question=question)


@guard(*EDITORS)
async def content_verify(request: Request) -> Response:
    """verified = today (and verified_by = this user)."""
    c = console(request)
    kind, ident = _kind_ident(request)
    form = await request.form()
    try:
        saved = await run_in_threadpool(content_edit.mark_verified, c.core.content_dir, kind, ident, user(request)["name"],
                                        form_str(form, "checksum"), _today())
    except content_edit.NotFound:
        return not_found(request, "没有这个条目。")
    except content_edit.Conflict:
        return redirect(request, f"/content/{kind}/{ident}", err="文件在您打开页面后已被修改，请核对后再标记。")
    except content_edit.Invalid as exc:
        return redirect(request, f"/content/{kind}/{ident}", err=f"无法标记：{exc}")
    c.users.audit(user(request)["name"], "content.verify", f"{kind}/{ident}", saved.before,
                  {**saved.after, "verified_by": user(request)["name"]})
    return redirect(request, f"/content/{kind}/{ident}", msg="已标记为今天核实。发布后生效。")


def _group_by_key(request: Request, key: str) -> unanswered.Group | None:
    from console.insight_routes import group_key

    for g in unanswered.group(console(request).runtime.unanswered_open()):
        if group_key(g) == key:
            return g
    return None


@guard(*EDITORS)
async def content_new_page(request: Request) -> Response:
    """A new article form, prefilled from an unanswered-question group when given."""
    key = request.query_params.get("group", "")
    g = _group_by_key(request, key) if key else None
    entry: dict[str, Any] = {"category": request.query_params.get("category", ""), "verified": False, "updated": _today()}
    if g:
        entry.update(title=g.example, questions=list(dict.fromkeys(g.questions))[:8], tags=[])
    return _edit_page(request, "articles", "", entry, "", "", create=True, group=key if g else "")


@guard(*EDITORS)
async def content_new(request: Request) -> Response:
    """Create an article in the file of its category (validated like any edit)."""
    c = console(request)
    form = await request.form()
    ident, group = form_str(form, "id").strip(), form_str(form, "group")
    changes, draft = _draft(form, "articles", {})
    draft["id"] = ident
    category = changes.get("category") or ""
    try:
        path = content_edit.article_file_for_category(c.core.content_dir, category)
    except content_edit.NotFound:
        return _edit_page(request, "articles", ident, draft, "", "", errors={"category": ["请选择分类"]}, create=True,
                          group=group, status_code=422)
    if not ident:
        return _edit_page(request, "articles", ident, draft, "", "", errors={"id": ["缺少编号"]}, create=True, group=group,
                          status_code=422)
    order = ["title", "category", "questions", "answer", "legal_basis", "tags", "source", "verified", "updated"]
    ordered = {k: changes[k] for k in order if k in changes}
    try:
        saved = await run_in_threadpool(content_edit.save_entry, c.core.content_dir, "articles", ident, ordered,
                                        content_edit.file_checksum(path), path=path, create=True)
    except content_edit.Conflict:
        return redirect(request, "/content/new", err="文件正被修改，请重试。")
    except content_edit.Invalid as exc:
        return _edit_page(request, "articles", ident, draft, "", "", errors=exc.fields, other=exc.other, create=True,
                          group=group, status_code=422)
    c.users.audit(user(request)["name"], "content.create", f"articles/{ident}", None, saved.after)
    g = _group_by_key(request, group) if group else None
    if g:
        from console.insight_routes import group_ids

        c.runtime.set_unanswered_status(group_ids(c.runtime.unanswered_open(), g), "drafted", user(request)["name"], ident)
    return redirect(request, f"/content/articles/{ident}", msg="已新建。发布后居民才能看到。")


# ---------------------------------------------------------------------- publish, versions, rollback


@guard(*EDITORS)
async def publish_page(request: Request) -> Response:
    """What would change, the live version and the history."""
    c = console(request)
    problems: list[str] = []
    diff: dict = {}
    try:
        diff = await run_in_threadpool(publish.source_diff, c.core)
    except build.ContentInvalid as exc:
        problems = [str(p) for p in exc.problems]
    live = await run_in_threadpool(publish.live_checksum, c.core)
    versions = list(reversed(c.runtime.versions()))
    return c.page(request, "publish.html", title="发布与版本", diff=diff, problems=problems, live=live, versions=versions)


@guard(*EDITORS)
async def publish_now(request: Request) -> Response:
    """Validate, build and swap in the content files (miyun.knowledge.publish), with a note."""
    c = console(request)
    form = await request.form()
    note = form_str(form, "note").strip()[:500]
    if not note:
        return redirect(request, "/publish", err="请填写发布说明。")
    try:
        result = await run_in_threadpool(publish.publish, c.core, user(request)["name"], note)
    except build.ContentInvalid as exc:
        return redirect(request, "/publish", err=f"内容有 {len(exc.problems)} 处问题，未发布：" + "；".join(str(p) for p in exc.problems[:3]))
    if not result.changed:
        return redirect(request, "/publish", msg="内容没有变化，无需发布。")
    c.users.audit(user(request)["name"], "content.publish", f"v{result.version}", None,
                  {"note": note, "checksum": result.checksum, "changes": result.changes})
    return redirect(request, "/publish", msg=f"已发布第 {result.version} 版，助手将在 2 秒内使用新内容。")


@guard(*EDITORS)
async def version_page(request: Request) -> Response:
    """One version: who, when, note and the changes it made."""
    c = console(request)
    try:
        version = c.runtime.version(int(request.path_params["version"]))
    except ValueError:
        version = None
    if version is None:
        return not_found(request, "没有这个版本。")
    return c.page(request, "version.html", title=f"第 {version['version']} 版", v=version,
                  live=await run_in_threadpool(publish.live_checksum, c.core))


@guard(*EDITORS)
async def rollback(request: Request) -> Response:
    """Make an earlier version live again (recorded as a new version)."""
    c = console(request)
    try:
        target = int(request.path_params["version"])
        result = await run_in_threadpool(publish.rollback, c.core, user(request)["name"], target)
    except (ValueError, publish.RollbackError) as exc:
        return redirect(request, "/publish", err=str(exc))
    if not result.changed:
        return redirect(request, "/publish", msg="该版本已经是当前版本。")
    c.users.audit(user(request)["name"], "content.rollback", f"v{target}", None,
                  {"new_version": result.version, "checksum": result.checksum, "changes": result.changes})
    return redirect(request, "/publish",
                    msg=f"已回滚到第 {target} 版（记为第 {result.version} 版），content/ 文件也已恢复为该版本。")
