"""Web chat page and API (no browser; the Chromium test is in test_e2e.py)."""
from __future__ import annotations

import re

import pytest

from bot.rasa_client import FALLBACK_TEXT

NOTICE = "本助手提供法律信息，不构成法律意见；对话内容仅用于回答您的问题和改进服务。"


@pytest.fixture()
def web_gateway(make_gateway, fake_rasa_url, fake_rasa):
    return make_gateway(fake_rasa_url, rate_limit_per_min=5)


async def test_page_is_local_accessible_and_chinese(web_gateway):
    async with web_gateway.client() as c:
        r = await c.get("/")
        html = r.text
        assert r.status_code == 200 and 'lang="zh-CN"' in html and NOTICE in html and "12348" in html
        assert 'name="viewport"' in html and '<label for="input"' in html and 'maxlength="500"' in html
        assert '<button id="send" type="submit"' in html and 'role="log"' in html
        srcs = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert srcs and all(s.startswith("/static/") or s.startswith("tel:") for s in srcs)   # no CDN
        for path in ("/static/chat.js", "/static/chat.css"):
            assert (await c.get(path)).status_code == 200
        js = (await c.get("/static/chat.js")).text
        assert "innerHTML" not in js and 'createElement("button")' in js and "12348" in js
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_chat_api_session_and_buttons(web_gateway, fake_rasa):
    async with web_gateway.client() as c:
        r = await c.post("/api/chat", json={"message": "古北口镇的法律服务站在哪"})
        data = r.json()
        session = data["session"]
        assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", session)
        assert data["messages"] == [{"text": "古北口镇公共法律服务站在古北口镇政府一层。", "buttons": [
            {"title": "办公时间", "payload": '/ask_station_hours{"town": "古北口镇"}'},
            {"title": "12348热线", "payload": "/ask_hotline"}]}]
        r = await c.post("/api/chat", json={"session": session, "message": "/ask_hotline"})
        assert r.json()["session"] == session and "12348" in r.json()["messages"][0]["text"]
        assert fake_rasa.calls[-1] == (f"web:{session}", "/ask_hotline")
        r = await c.post("/api/chat", json={"session": "../../etc/passwd", "message": "你好"})
        assert r.json()["session"] != "../../etc/passwd" and fake_rasa.calls[-1][0] == "web:" + r.json()["session"]


async def test_chat_api_input_limits(web_gateway, fake_rasa):
    async with web_gateway.client() as c:
        r = await c.post("/api/chat", json={"session": "s" * 20, "message": "   "})
        assert "请输入" in r.json()["messages"][0]["text"] and fake_rasa.count() == 0
        r = await c.post("/api/chat", json={"session": "s" * 20, "message": "法" * 600})
        msgs = r.json()["messages"]
        assert msgs[0]["text"] == "（您的消息较长，只处理了前500个字。）" and fake_rasa.calls[-1][1] == "法" * 500
        r = await c.post("/api/chat", json={"session": "s" * 20, "message": "a\x00b\x1bc"})
        assert fake_rasa.calls[-1][1] == "abc"
        r = await c.post("/api/chat", json={"session": "s" * 20, "message": {"nested": 1}})
        assert "请输入" in r.json()["messages"][0]["text"]
        assert (await c.post("/api/chat", content=b"message=hi")).status_code == 415
        assert (await c.post("/api/chat", content=b"{bad", headers={"content-type": "application/json"})
                ).status_code == 400
        assert (await c.post("/api/chat", content=b"[1]", headers={"content-type": "application/json"})
                ).status_code == 400
        big = b'{"message": "' + b"a" * 20000 + b'"}'
        assert (await c.post("/api/chat", content=big, headers={"content-type": "application/json"})
                ).status_code == 413


async def test_chat_api_rate_limit(web_gateway, fake_rasa):
    async with web_gateway.client() as c:
        texts = [(await c.post("/api/chat", json={"session": "r" * 20, "message": f"问{i}"})).json()["messages"][0]["text"]
                 for i in range(7)]
    assert fake_rasa.count() == 5 and "太频繁" in texts[5] and "太频繁" in texts[6]


async def test_health(web_gateway, make_gateway, dead_rasa_url):
    async with web_gateway.client() as c:
        assert (await c.get("/healthz")).json() == {
            "status": "ok", "rasa": True, "channels": {"web": True, "wechat": False, "telegram": False}}
    gw = make_gateway(dead_rasa_url)
    async with gw.client() as c:
        assert (await c.get("/healthz")).json()["rasa"] is False
        r = await c.post("/api/chat", json={"message": "你好"})
        assert r.json()["messages"] == [{"text": FALLBACK_TEXT}]
        assert (await c.post("/wechat", content=b"<xml/>")).status_code in (404, 405)   # WeChat off
