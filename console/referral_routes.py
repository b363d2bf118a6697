"""Referrals inbox: filter, detail, status and assignment with an internal note, CSV export,
retention. Mediators see only their own towns; editors never see referrals."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Optional

from starlette.requests import Request
from starlette.responses import Response

from console.auth import guard
from console.context import NO_STORE, console, forbidden, form_str, not_found, optional, redirect, user
from miyun.knowledge.content import TOWNS
from miyun.knowledge.store import ContentUnavailable
from miyun.referrals.rules import (EXPORT_COLUMNS, STATUSES, clean_reference, export_row, mask_phone, public_reference,
                                   retention_cutoff, split_reference)

STATUS_LABELS = {"received": "已受理", "contacted": "已联系", "mediating": "调解中", "resolved": "已解决",
                 "not_resolved": "未解决", "transferred": "已转交"}
FINAL = {"resolved", "not_resolved", "transferred"}
LEVELS = ("village", "town", "district", "court")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The same 404 for a reference that does not exist and one in another mediator's town, so the
# console cannot be used to find out which references exist.
NOT_FOUND = "没有找到这个编号，或它不在您负责的镇街。"


def next_statuses(current: str) -> list[str]:
    """received → contacted → mediating → resolved / not_resolved / transferred (forward only)."""
    if current in FINAL:
        return []
    order = list(STATUSES)
    later = order[order.index(current) + 1:] if current in order else order
    return later


def visible_towns(u: dict) -> Optional[list[str]]:
    """None = every town (admin); a mediator's own towns otherwise."""
    return None if u["role"] == "admin" else list(u["towns"])


def _filters(request: Request) -> tuple[dict, Optional[Response]]:
    q = request.query_params
    u = user(request)
    towns = visible_towns(u)
    town = q.get("town", "")
    if town:
        if towns is not None and town not in towns:
            return {}, forbidden(request, "您只能查看自己负责镇街的转介。")
        towns = [town]
    since, until = q.get("since", ""), q.get("until", "")
    f = {"status": q.get("status") if q.get("status") in STATUSES else None,
         "level": q.get("level") if q.get("level") in LEVELS else None,
         "kind": q.get("kind") if q.get("kind") in ("mediation", "callback") else None,
         "since": since if _DATE.match(since) else None, "until": until if _DATE.match(until) else None,
         "towns": towns}
    return f, None


@guard("mediator", "admin")
async def referral_list(request: Request) -> Response:
    """The inbox, filtered by town, level, status, kind and date."""
    c = console(request)
    f, refused = _filters(request)
    if refused:
        return refused
    rows = c.runtime.referrals_filtered(**f)
    u = user(request)
    locked = {lock["ref"] for lock in c.runtime.status_locks()}
    return c.page(request, "referrals.html", title="调解转介", rows=rows, q=request.query_params,
                  towns=TOWNS if u["role"] == "admin" else u["towns"], statuses=STATUSES, labels=STATUS_LABELS,
                  levels=LEVELS, export_query=str(request.query_params), mask=mask_phone, locked=locked)


def _allowed(request: Request, row: dict) -> bool:
    towns = visible_towns(user(request))
    return towns is None or row.get("town") in towns


def _mediators_for(request: Request, town: Optional[str]) -> list[str]:
    return [u["name"] for u in console(request).users.users()
            if u["role"] == "mediator" and not u["disabled"] and (town in u["towns"])]


def _find(request: Request) -> Optional[dict]:
    """The referral a path names (staff sequence, or the resident's public reference), if this user may see it."""
    cleaned = clean_reference(request.path_params["ref"])
    row = console(request).runtime.referral(split_reference(cleaned)[0]) if cleaned else None
    return row if row is not None and _allowed(request, row) else None


@guard("mediator", "admin")
async def referral_detail(request: Request) -> Response:
    """One referral with personal data, audit trail and the update form; the reading is audited."""
    c = console(request)
    row = _find(request)
    if row is None:
        return not_found(request, NOT_FOUND)
    actor = user(request)["name"]
    c.runtime.log_access(actor, "view", [row["ref"]], "console")
    return c.page(request, "referral.html", title=row["ref"], r=row, audit=c.runtime.audit(row["ref"]),
                  next_statuses=next_statuses(row["status"]), labels=STATUS_LABELS, public=_public_statuses(request),
                  mediators=_mediators_for(request, row.get("town")), public_ref=public_reference(row),
                  locked=c.runtime.status_locked(row["ref"]))


def _public_statuses(request: Request) -> dict:
    try:
        return (console(request).live.setting("referrals") or {}).get("statuses") or {}
    except ContentUnavailable:
        return {}


@guard("mediator", "admin")
async def referral_update(request: Request) -> Response:
    """Change status and/or assignment with a required internal note (audited)."""
    c = console(request)
    row = _find(request)
    if row is None:
        return not_found(request, NOT_FOUND)
    ref = row["ref"]
    form = await request.form()
    note = form_str(form, "note").strip()[:1000]
    status, assign = optional(form_str(form, "status")), optional(form_str(form, "assigned_to"))
    changes = {}
    if status and status != row["status"]:
        if status not in next_statuses(row["status"]):
            return redirect(request, f"/referrals/{ref}", err=f"不能从“{STATUS_LABELS.get(row['status'])}”改为“{STATUS_LABELS.get(status, status)}”。")
        changes["status"] = status
    if assign and assign != row.get("assigned_to"):
        if assign not in _mediators_for(request, row.get("town")):
            return redirect(request, f"/referrals/{ref}", err="只能分配给负责该镇街的调解员。")
        changes["assigned_to"] = assign
    if not changes:
        return redirect(request, f"/referrals/{ref}", err="没有要保存的改动。")
    if not note:
        return redirect(request, f"/referrals/{ref}", err="请填写内部备注（居民看不到）。")
    actor = user(request)["name"]
    updated = c.runtime.update_referral(ref, actor, note, **changes)
    c.users.audit(actor, "referral.update", ref, {k: row.get(k) for k in changes}, {**changes, "note": note})
    return redirect(request, f"/referrals/{ref}", msg=f"已更新：{STATUS_LABELS.get(updated['status'], updated['status'])}")


@guard("mediator", "admin")
async def referral_export(request: Request) -> Response:
    """CSV (UTF-8 with BOM, for Excel) of the filtered referrals this user may see."""
    c = console(request)
    f, refused = _filters(request)
    if refused:
        return refused
    rows = c.runtime.referrals_filtered(**f)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for r in rows:
        writer.writerow(export_row(r, with_personal_data=True))  # only roles allowed personal data reach this route
    actor = user(request)["name"]
    c.users.audit(actor, "referral.export", None, None,
                  {"rows": len(rows), "filters": {k: v for k, v in f.items() if v}})
    c.runtime.log_access(actor, "export", [r["ref"] for r in rows], "console csv")
    name = f"referrals-{dt.date.today():%Y%m%d}.csv"
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'})


@guard("admin")
async def referral_anonymize(request: Request) -> Response:
    """Blank personal data older than retention_days (content/referrals.yml), like `referrals anonymize`."""
    c = console(request)
    try:
        days = (c.live.setting("referrals") or {}).get("retention_days")
    except ContentUnavailable:
        days = None
    if not isinstance(days, int) or days <= 0:
        return redirect(request, "/referrals", err="不知道保存期限：请先发布内容（referrals.yml › retention_days）。")
    cutoff = retention_cutoff(days)
    actor = user(request)["name"]
    n = c.runtime.anonymize_older_than(cutoff, actor)
    c.users.audit(actor, "referral.anonymize", None, None, {"cutoff": cutoff, "days": days, "count": n})
    return redirect(request, "/referrals", msg=f"已匿名化 {n} 条（早于 {cutoff[:10]}，保存期限 {days} 天）。")


@guard("mediator", "admin")
async def referral_locks(request: Request) -> Response:
    """References locked after too many failed status checks (residents then get only 请拨打12348)."""
    c = console(request)
    towns = visible_towns(user(request))
    rows = []
    for lock in c.runtime.status_locks():
        row = c.runtime.referral(lock["ref"])
        # Admins also see locks on references that do not exist (someone guessing); mediators their towns'.
        if towns is None or (row is not None and row.get("town") in towns):
            rows.append({**lock, "exists": row is not None, "town": (row or {}).get("town")})
    return c.page(request, "locks.html", title="查询锁定", rows=rows)


@guard("mediator", "admin")
async def referral_unlock(request: Request) -> Response:
    """Lift a status-check lock once the resident has been served (audited, note required)."""
    c = console(request)
    cleaned = clean_reference(request.path_params["ref"])
    ref = split_reference(cleaned)[0] if cleaned else ""
    row = c.runtime.referral(ref) if ref else None
    if not ref or (visible_towns(user(request)) is not None and (row is None or not _allowed(request, row))):
        return not_found(request, NOT_FOUND)
    note = form_str(await request.form(), "note").strip()[:1000]
    if not note:
        return redirect(request, "/referrals/locks", err="请填写解锁原因（例如：已电话核实申请人）。")
    actor = user(request)["name"]
    if not c.runtime.unlock_status(ref, actor, note):
        return redirect(request, "/referrals/locks", err=f"{ref} 没有被锁定。")
    c.users.audit(actor, "referral.unlock", ref, None, {"note": note})
    return redirect(request, "/referrals/locks", msg=f"已解锁 {ref}。")


@guard("admin")
async def referral_delete(request: Request) -> Response:
    """Delete one referral's personal data on the resident's request (via 12348); audited, reason required."""
    c = console(request)
    row = _find(request)
    if row is None:
        return not_found(request, NOT_FOUND)
    reason = form_str(await request.form(), "reason").strip()[:1000]
    if not reason:
        return redirect(request, f"/referrals/{row['ref']}", err="请填写删除依据（例如：申请人经12348要求删除）。")
    actor = user(request)["name"]
    c.runtime.erase_referral(row["ref"], actor, reason)
    c.users.audit(actor, "referral.delete", row["ref"], None, {"reason": reason})
    return redirect(request, f"/referrals/{row['ref']}", msg="已删除这条申请中的个人信息。")
