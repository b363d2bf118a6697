"""Login, logout, sessions, CSRF and the role guard every console route goes through."""
from __future__ import annotations

import functools
import hmac
import secrets
import time
from typing import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from console.context import NO_STORE, base, console, forbidden, form_str
from miyun.staff.store import verify_password

SESSION_COOKIE = "miyun_staff"
LOGIN_COOKIE = "miyun_staff_login"
Handler = Callable[[Request], Awaitable[Response]]


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def tokens_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two tokens; empty never matches."""
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def current_session(request: Request) -> dict | None:
    """The request's live session (with its user), or None."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token or len(token) > 128:
        return None
    return console(request).users.session(token)


def guard(*roles: str) -> Callable[[Handler], Handler]:
    """Only logged-in users with one of `roles`; POSTs also need the session's CSRF token."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            session = current_session(request)
            if session is None:
                if request.method == "GET":
                    target = base(request) + "/login?next=" + request.url.path
                    return RedirectResponse(target, status_code=303, headers=NO_STORE)
                return Response("请先登录 / login required", status_code=403, headers=NO_STORE)
            request.state.session = session
            if session["user"]["role"] not in roles:
                return forbidden(request)
            if request.method == "POST":
                form = await request.form()
                if not tokens_equal(form_str(form, "csrf"), session["csrf"]):
                    return Response("表单已失效，请刷新页面后重试 / invalid CSRF token", status_code=403, headers=NO_STORE)
            return await handler(request)

        endpoint.roles = roles  # type: ignore[attr-defined]
        return endpoint

    return decorate


def _safe_next(request: Request, target: str) -> str:
    prefix = base(request)
    if target.startswith(prefix + "/") and not target.startswith("//") and "\\" not in target and "login" not in target:
        return target
    return prefix + "/"


async def login_page(request: Request) -> Response:
    """The login form (sets a short-lived login CSRF cookie)."""
    return _login_form(request)


def _login_form(request: Request, error: str = "", status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = console(request).page(request, "login.html", status_code=status_code, title="登录", login_csrf=token,
                                     error=error, next=request.query_params.get("next", ""))
    response.set_cookie(LOGIN_COOKIE, token, max_age=1800, path=base(request) or "/", httponly=True,
                        samesite="strict", secure=console(request).staff.secure_cookies)
    return response


async def login(request: Request) -> Response:
    """Check the password (rate-limited per account and per IP) and start a session."""
    c = console(request)
    form = await request.form()
    if not tokens_equal(form_str(form, "csrf"), request.cookies.get(LOGIN_COOKIE, "")):
        return Response("表单已失效，请刷新页面后重试 / invalid CSRF token", status_code=403, headers=NO_STORE)
    name, password, ip = form_str(form, "name").strip()[:64], form_str(form, "password")[:1024], _ip(request)
    since = time.time() - c.staff.login_window_min * 60
    if (c.users.failed_logins(since, account=name) >= c.staff.login_max_per_account
            or c.users.failed_logins(since, ip=ip) >= c.staff.login_max_per_ip):
        minutes = int(c.staff.login_window_min)
        return _login_form(request, f"登录失败次数太多，请 {minutes} 分钟后再试。", status_code=429)
    user = c.users.user(name) if name else None
    # argon2 takes ~0.1 s of CPU: in a thread, so a login never stalls the channels on the event loop.
    verified = await run_in_threadpool(verify_password, user["password_hash"] if user else None, password)
    ok = verified and user is not None and not user["disabled"]
    c.users.record_login(name, ip, ok)
    if not ok:
        return _login_form(request, "用户名或密码不正确。", status_code=401)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    lifetime = c.staff.session_hours * 3600
    c.users.create_session(user["id"], token, csrf, lifetime, ip)  # type: ignore[index]
    c.users.audit(name, "login", name, None, {"ip": ip})
    response = RedirectResponse(_safe_next(request, form_str(form, "next")), status_code=303, headers=NO_STORE)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(lifetime), path=base(request) or "/", httponly=True,
                        samesite="strict", secure=c.staff.secure_cookies)
    response.delete_cookie(LOGIN_COOKIE, path=base(request) or "/")
    return response


@guard("editor", "mediator", "admin")
async def logout(request: Request) -> Response:
    """End the session."""
    c = console(request)
    c.users.delete_session(request.cookies.get(SESSION_COOKIE, ""))
    c.users.audit(request.state.session["user"]["name"], "logout", request.state.session["user"]["name"])
    response = RedirectResponse(base(request) + "/login", status_code=303, headers=NO_STORE)
    response.delete_cookie(SESSION_COOKIE, path=base(request) or "/")
    return response
