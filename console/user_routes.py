"""Admin pages: staff accounts (create, role and towns, password, disable) and the audit log."""
from __future__ import annotations

import sqlite3

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from console.auth import guard
from console.context import console, form_str, not_found, redirect, user
from miyun.knowledge.content import TOWNS
from miyun.staff.store import ROLES, hash_password


def _towns(form, role: str) -> tuple[list[str], str]:
    towns = [t for t in form.getlist("towns") if t in TOWNS]
    if role == "mediator" and not towns:
        return towns, "调解员至少要负责一个镇街。"
    return towns, ""


@guard("admin")
async def users_page(request: Request) -> Response:
    """Every staff account."""
    c = console(request)
    return c.page(request, "users.html", title="账号", users=c.users.users(), roles=ROLES, towns=TOWNS)


@guard("admin")
async def user_create(request: Request) -> Response:
    """Create an account (argon2 password hash)."""
    c = console(request)
    form = await request.form()
    name, role = form_str(form, "name").strip()[:64], form_str(form, "role")
    if not name or role not in ROLES:
        return redirect(request, "/users", err="请填写用户名并选择角色。")
    towns, problem = _towns(form, role)
    if problem:
        return redirect(request, "/users", err=problem)
    try:
        password_hash = await run_in_threadpool(hash_password, form_str(form, "password"))  # argon2: off the loop
        c.users.create_user(name, password_hash, role, towns, user(request)["name"])
    except ValueError as exc:
        return redirect(request, "/users", err=str(exc))
    except sqlite3.IntegrityError:
        return redirect(request, "/users", err=f"用户名已存在：{name}")
    return redirect(request, "/users", msg=f"已创建 {name}。")


@guard("admin")
async def user_update(request: Request) -> Response:
    """Change role and towns, set a new password, or disable / enable an account."""
    c = console(request)
    name = request.path_params["name"]
    if c.users.user(name) is None:
        return not_found(request, "没有这个账号。")
    form = await request.form()
    action, actor = form_str(form, "action"), user(request)["name"]
    try:
        if action == "role":
            role = form_str(form, "role")
            towns, problem = _towns(form, role)
            if problem or role not in ROLES:
                return redirect(request, "/users", err=problem or "未知角色。")
            c.users.update_user(name, actor, role=role, towns=towns)
        elif action == "password":
            password_hash = await run_in_threadpool(hash_password, form_str(form, "password"))
            c.users.update_user(name, actor, password_hash=password_hash)
        elif action in ("disable", "enable"):
            if name == actor and action == "disable":
                return redirect(request, "/users", err="不能停用自己的账号。")
            c.users.update_user(name, actor, disabled=action == "disable")
        else:
            return redirect(request, "/users", err="未知操作。")
    except ValueError as exc:
        return redirect(request, "/users", err=str(exc))
    return redirect(request, "/users", msg=f"已更新 {name}。")


@guard("admin")
async def audit_page(request: Request) -> Response:
    """The latest staff audit records (who, when, what, before, after)."""
    c = console(request)
    prefix = request.query_params.get("action", "")
    return c.page(request, "audit.html", title="操作记录", rows=c.users.audit_rows(300, prefix or None), prefix=prefix)
