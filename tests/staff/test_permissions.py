"""Every console route × {anonymous, editor, mediator, admin}: the right people get in, nobody else sees data."""
from __future__ import annotations

import pytest

from console import ROUTES

ROLES = ("editor", "mediator", "admin")


def _path(template: str, env) -> str:
    return (template.replace("{kind}", "services").replace("{ident}", "hotline").replace("{version}", "1")
            .replace("{action}", "dismiss").replace("{ref}", env.refs["own"]).replace("{name}", "ed"))


def _no_data(env, body: str) -> None:
    for secret in env.SECRETS:
        assert secret not in body
    assert "MY-2026" not in body and "12348是公共法律服务热线" not in body


CASES = [(m, p, h) for m, p, h in ROUTES if p != "/logout"]


def test_every_route_is_guarded():
    for method, path, handler in ROUTES:
        assert set(handler.roles) <= set(ROLES) and handler.roles, path
    # editors never reach referrals; mediators never reach content; users and audit are admin-only
    by_path = {(m, p): set(h.roles) for m, p, h in ROUTES}
    assert all("editor" not in r for (m, p), r in by_path.items() if p.startswith("/referrals"))
    assert all("mediator" not in r for (m, p), r in by_path.items() if p.startswith(("/content", "/publish", "/versions", "/unanswered", "/feedback", "/nlu")))
    assert all(r == {"admin"} for (m, p), r in by_path.items() if p.startswith(("/users", "/audit")))


@pytest.mark.parametrize("method,path,handler", CASES, ids=[f"{m} {p}" for m, p, _ in CASES])
def test_anonymous_gets_login_or_403_and_no_data(shared_env, method, path, handler):
    client = shared_env.anonymous()
    url = "/staff" + _path(path, shared_env)
    r = client.get(url) if method == "GET" else client.post(url, data={"note": "x", "status": "resolved"})
    if method == "GET":
        assert r.status_code == 303 and "/staff/login" in r.headers["location"]
    else:
        assert r.status_code == 403
    _no_data(shared_env, r.text)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path,handler", CASES, ids=[f"{m} {p}" for m, p, _ in CASES])
def test_roles(shared_env, role, method, path, handler):
    client = shared_env.client(role)
    url = "/staff" + _path(path, shared_env)
    before = len(shared_env.users.audit_rows(10000))
    if method == "GET":
        r = client.get(url)
    else:
        # Harmless forms: no note, no group, no password, a stale checksum, so an allowed POST changes nothing.
        r = client.post(url, data={"csrf": shared_env.csrf(client)})
    if role in handler.roles:
        assert r.status_code != 403 and "/login" not in r.headers.get("location", ""), (role, path, r.status_code)
        assert r.status_code < 500
    else:
        assert r.status_code == 403, (role, path, r.status_code)
        _no_data(shared_env, r.text)
        assert len(shared_env.users.audit_rows(10000)) == before          # nothing was written


def test_logout_for_every_role(shared_env):
    for role in ROLES:
        client, r = shared_env.login(shared_env.ROLE_USER[role])
        csrf = shared_env.csrf(client)
        assert client.post("/staff/logout", data={"csrf": csrf}).status_code == 303
        r = client.get("/staff/")
        assert r.status_code == 303 and "/staff/login" in r.headers["location"]


def test_static_css_is_public_but_holds_no_data(shared_env):
    r = shared_env.anonymous().get("/staff/static/staff.css")
    assert r.status_code == 200 and "text/css" in r.headers["content-type"]


def test_login_page_has_no_data_and_security_headers(shared_env):
    r = shared_env.anonymous().get("/staff/login")
    assert r.status_code == 200 and 'lang="zh-CN"' in r.text and "登录" in r.text
    _no_data(shared_env, r.text)
    assert "default-src 'self'" in r.headers["content-security-policy"] and r.headers["cache-control"] == "no-store"
    assert "<script" not in r.text and "http://" not in r.text and "https://" not in r.text      # no CDN
