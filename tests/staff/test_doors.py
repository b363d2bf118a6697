"""Console hardening (issue 15): Secure cookies by default, HSTS, argon2 off the event loop, form bodies."""
from __future__ import annotations

import asyncio
import re
import time

import httpx

from miyun.settings import StaffSettings
from scripts import servers


def test_secure_cookie_is_the_default_and_only_loopback_make_run_opts_out(monkeypatch):
    monkeypatch.delenv("MIYUN_STAFF_SECURE_COOKIES", raising=False)
    assert StaffSettings().secure_cookies is True
    monkeypatch.setenv("MIYUN_STAFF_SECURE_COOKIES", "false")
    assert StaffSettings().secure_cookies is False
    monkeypatch.delenv("MIYUN_STAFF_SECURE_COOKIES")
    # `make run` / tests / benches start the gateway on 127.0.0.1 over plain HTTP: the explicit opt-out.
    assert servers.gateway_env(8080, "http://127.0.0.1:5005")["MIYUN_STAFF_SECURE_COOKIES"] == "false"
    assert servers.gateway_env(8080, "x", MIYUN_STAFF_SECURE_COOKIES="true")["MIYUN_STAFF_SECURE_COOKIES"] == "true"
    monkeypatch.setenv("MIYUN_STAFF_SECURE_COOKIES", "true")           # the operator's choice wins
    assert servers.gateway_env(8080, "x")["MIYUN_STAFF_SECURE_COOKIES"] == "true"
    monkeypatch.delenv("MIYUN_STAFF_SECURE_COOKIES")
    env = servers.gateway_env(8080, "x", MIYUN_GATEWAY_HOST="10.0.0.5")  # not loopback: stays Secure
    assert "MIYUN_STAFF_SECURE_COOKIES" not in env or env["MIYUN_STAFF_SECURE_COOKIES"] != "false"


def test_default_console_sets_secure_cookies(make_env, monkeypatch):
    monkeypatch.delenv("MIYUN_STAFF_SECURE_COOKIES", raising=False)
    env = make_env(secure_cookies=StaffSettings().secure_cookies)
    client = env.anonymous()
    page = client.get("/staff/login")
    assert "Secure" in page.headers["set-cookie"]
    _, r = env.login("ed", client=client)
    assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]


def test_hsts_on_console_and_web_chat(shared_env, settings_factories):
    from bot.app import create_app
    from console import create_console
    from starlette.testclient import TestClient

    client = shared_env.anonymous()
    for path in ("/staff/login", "/"):
        assert client.get(path).headers["strict-transport-security"] == "max-age=31536000"
    gateway_settings, _ = settings_factories
    off = create_app(gateway_settings(hsts_max_age=0), staff=create_console(shared_env.core, shared_env.settings))
    assert "strict-transport-security" not in TestClient(off).get("/staff/login").headers


def _login_form(client) -> dict:
    page = client.get("/staff/login")
    return {"csrf": re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)}


def test_multipart_bodies_are_refused(env):
    anon = env.anonymous()
    form = {**_login_form(anon), "name": "ed", "password": env.PASSWORDS["ed"]}
    r = anon.post("/staff/login", data=form, files={"upload": ("a.txt", b"x" * 10, "text/plain")})
    assert r.status_code == 415 and "miyun_staff=" not in r.headers.get("set-cookie", "")
    ed = env.client("editor")
    r = ed.post("/staff/publish", data={"csrf": env.csrf(ed), "note": "multipart"},
                files={"f": ("a.txt", b"x", "text/plain")})
    assert r.status_code == 415 and env.audit("content.publish") == []
    r = ed.post("/staff/publish", content=b'{"note": "json"}', headers={"Content-Type": "application/json"})
    assert r.status_code == 415
    assert anon.post("/staff/login", data=form).status_code == 303      # the ordinary form still works


def test_form_size_is_capped(make_env):
    env = make_env(max_form_bytes=4096)
    anon = env.anonymous()
    form = {**_login_form(anon), "name": "ed", "password": "p" * 5000}
    assert anon.post("/staff/login", data=form).status_code == 413

    def chunks():                                   # no Content-Length: the cap counts what arrives
        yield b"csrf=x&name=ed&password="
        for _ in range(10):
            yield b"p" * 1000

    r = anon.post("/staff/login", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    _, ok = env.login("ed")
    assert ok.status_code == 303
    assert env.audit("login") and len(env.audit("login")) == 1


async def test_login_does_not_block_other_requests(env, serve, monkeypatch):
    """argon2 runs in a thread: while a (slow) verification runs, the web chat and the console answer."""
    import console.auth as auth

    real = auth.verify_password

    def slow_verify(stored, password):               # argon2 is CPU-bound: model it as a blocking call
        time.sleep(1.0)
        return real(stored, password)

    monkeypatch.setattr(auth, "verify_password", slow_verify)
    server = serve(env.app)
    async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=10) as client:
        page = await client.get("/staff/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        login = asyncio.create_task(client.post("/staff/login", data={
            "csrf": csrf, "name": "ed", "password": env.PASSWORDS["ed"]}))
        await asyncio.sleep(0.2)                      # the login is now inside the verification
        async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=10) as other:
            t0 = time.perf_counter()
            r = await other.get("/")
            waited = time.perf_counter() - t0
        assert r.status_code == 200
        assert (await login).status_code == 303
    assert waited < 0.5, f"a concurrent request waited {waited:.2f} s behind a login"
