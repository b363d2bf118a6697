"""Generated documents on each channel: web links bound to the chat session (404 for a guessed, expired or
foreign link), Telegram's sendDocument, WeChat's link or text, and nothing left on disk after the expiry."""
from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from channel_fakes import ServerThread
from conftest import TG_SECRET, WX_TOKEN, gateway_settings, telegram_overrides, wechat_overrides
from helpers import parse_reply, signed_query, tg_message, text_xml

from bot.app import create_app
from bot.documents import Documents
from miyun.documents import fill, make, pdf_out, templates
from miyun.documents.downloads import DownloadStore
from miyun.knowledge import content

ROOT = Path(__file__).resolve().parents[2]
CHAT = 777001


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@functools.lru_cache(maxsize=2)
def _files(pdf: bool = True) -> dict[str, bytes]:
    t = templates.templates(content.load(ROOT / "content").settings["documents"])["reconsideration"]
    filled = fill.fill(t, {f.key: f"{f.label}之答" for f in t.fields}, dt.date(2026, 12, 1))
    return make.produce(filled, pdf_out.find_font() if pdf else None).files


class DocumentRasa:
    """Answers "生成" as the action server does: files into the store, a `document` custom message."""

    def __init__(self, store: DownloadStore, pdf: bool = True) -> None:
        self.store, self.pdf = store, pdf
        self.app = Starlette(routes=[Route("/webhooks/rest/webhook", self.webhook, methods=["POST"])])

    async def webhook(self, request: Request) -> JSONResponse:
        data = await request.json()
        sender = data["sender"]
        files = _files(self.pdf)
        token = self.store.put(kind="reconsideration", title="行政复议申请书", sender_id=sender, files=files)
        return JSONResponse([
            {"recipient_id": sender, "text": "《行政复议申请书》已生成。"},
            {"recipient_id": sender, "custom": {"document": {
                "token": token, "title": "行政复议申请书", "formats": sorted(f for f in files if f != "txt"),
                "text": "pdf" not in files, "printed": "需要纸质文书，可以到所在镇街的公共法律服务站咨询。"}}},
        ])


@pytest.fixture()
def setup(tmp_path):
    started: list[ServerThread] = []

    def factory(pdf: bool = True, **overrides: Any):
        clock = Clock()
        store = DownloadStore(tmp_path / "documents", ttl_s=1800, clock=clock)
        rasa = ServerThread(DocumentRasa(store, pdf).app).start()
        _files(pdf)   # made once, outside the gateway's Rasa timeout
        settings = gateway_settings(rasa.url, rasa_timeout_s=20.0, **overrides)
        app = create_app(settings, documents=Documents(store, settings.public_base_url))
        gw = ServerThread(app).start()
        started.extend([gw, rasa])
        return gw, app, store, clock

    yield factory
    for server in started:
        server.stop()


def client(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, trust_env=False, timeout=15.0)


async def test_web_link_downloads_for_its_session_only(setup, tmp_path):
    gw, _, store, clock = setup()
    async with client(gw.url) as c:
        data = (await c.post("/api/chat", json={"message": "生成"})).json()
        doc = next(m["document"] for m in data["messages"] if "document" in m)
        assert doc["title"] == "行政复议申请书" and [l["format"] for l in doc["links"]] == ["pdf", "docx"]
        url = doc["links"][0]["url"]
        assert re.fullmatch(r"/documents/[A-Za-z0-9_-]{32}/pdf", url)
        r = await c.get(url)
        assert r.status_code == 200 and r.content.startswith(b"%PDF") and r.headers["content-type"] == "application/pdf"
        assert "attachment" in r.headers["content-disposition"] and "no-store" in r.headers["cache-control"]
        assert (await c.get(doc["links"][1]["url"])).content.startswith(b"PK")   # the DOCX, a zip
        token = url.split("/")[2]
        guessed = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        for bad in (f"/documents/{guessed}/pdf", f"/documents/{token}/txt", f"/documents/{token}/exe",
                    "/documents/short/pdf", "/documents/..%2F..%2Fetc/pdf"):
            assert (await c.get(bad)).status_code == 404, bad
    async with client(gw.url) as other:                         # another browser: no session cookie
        assert (await other.get(url)).status_code == 404
        await other.post("/api/chat", json={"message": "你好"})   # its own session, not the owner
        assert (await other.get(url)).status_code == 404
    clock.now += 1801
    async with client(gw.url) as c:
        assert (await c.get(url)).status_code == 404
    store.purge()
    assert list((tmp_path / "documents").iterdir()) == [], "document content left on disk after expiry"


async def test_expired_documents_are_swept_without_a_visit(tmp_path):
    clock = Clock()
    store = DownloadStore(tmp_path / "d", ttl_s=60, clock=clock)
    store.put(kind="mediation", title="人民调解申请书", sender_id="tg:1", files={"txt": "内容".encode()})
    docs = Documents(store)
    async with docs.sweeping(every_s=0.02):
        await asyncio.sleep(0.05)
        assert any((tmp_path / "d").iterdir())
        clock.now += 61
        await asyncio.sleep(0.1)
    assert not any((tmp_path / "d").iterdir())


async def test_web_without_pdf_shows_docx_and_the_text(setup):
    gw, *_ = setup(pdf=False)
    async with client(gw.url) as c:
        data = (await c.post("/api/chat", json={"message": "生成"})).json()
    texts = [m.get("text", "") for m in data["messages"]]
    assert any(t.startswith("行政复议申请书\n") and "被申请人：被申请人之答" in t for t in texts)
    doc = next(m["document"] for m in data["messages"] if "document" in m)
    assert [l["format"] for l in doc["links"]] == ["docx"]


async def _wechat(gw) -> str:
    async with client(gw.url) as c:
        r = await c.post("/wechat", params=signed_query(WX_TOKEN), content=text_xml("o_doc_user", "生成").encode(),
                         headers={"Content-Type": "text/xml"})
        assert r.status_code == 200
        return parse_reply(r.text)["Content"]


async def test_wechat_without_public_url_gets_the_text_and_where_to_print(setup):
    gw, *_ = setup(**wechat_overrides(None))
    reply = await _wechat(gw)
    assert "文书内容如下" in reply and "申请人：申请人之答" in reply and "公共法律服务站" in reply
    assert "/documents/" not in reply and len(reply.encode()) <= 2048


async def test_wechat_with_public_url_gets_links_anyone_with_it_can_open(setup):
    gw, _, store, _ = setup(**wechat_overrides(None), public_base_url="https://fw.example.cn")
    reply = await _wechat(gw)
    links = re.findall(r"https://fw\.example\.cn(/documents/[A-Za-z0-9_-]+/(?:pdf|docx))", reply)
    assert len(links) == 2 and "申请人之答" not in reply
    async with client(gw.url) as c:                 # WeChat's browser has no chat cookie: the token is the key
        r = await c.get(links[0])
        assert r.status_code == 200 and r.content.startswith(b"%PDF")


def test_public_base_url_must_be_https():
    with pytest.raises(ValueError):
        gateway_settings("http://127.0.0.1:9", public_base_url="http://fw.example.cn")


async def test_telegram_gets_the_pdf_by_send_document(setup, telegram_api, telegram_server):
    gw, app, *_ = setup(**telegram_overrides(telegram_server[1].url, "webhook"))
    deadline = time.monotonic() + 10
    while not app.state.telegram.ready.is_set():
        assert time.monotonic() < deadline, "telegram did not start"
        await asyncio.sleep(0.02)
    async with client(gw.url) as c:
        r = await c.post("/telegram/webhook", content=json.dumps(tg_message(50, CHAT, text="生成")),
                         headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "Content-Type": "application/json"})
        assert r.status_code == 200
    deadline = time.monotonic() + 5
    while not telegram_api.calls("sendDocument"):
        assert time.monotonic() < deadline, "no sendDocument"
        await asyncio.sleep(0.02)
    sent = telegram_api.calls("sendDocument")[0]
    assert sent["chat_id"] == str(CHAT)
    assert sent["document"]["filename"] == "行政复议申请书.pdf" and sent["document"]["data"].startswith(b"%PDF")
    assert telegram_api.calls("sendMessage")[0]["text"] == "《行政复议申请书》已生成。"


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage", "--no-proxy-server"]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="run scripts/install_browser.sh")
async def test_browser_downloads_the_pdf_from_the_web_chat(setup, tmp_path):
    from playwright.async_api import async_playwright, expect

    gw, *_ = setup()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = await browser.new_context(accept_downloads=True)
            page = await context.new_page()
            await page.goto(gw.url + "/")
            box = page.get_by_label("请输入您的问题（按回车发送）")
            await box.fill("生成")
            await box.press("Enter")
            pdf_link = page.get_by_role("link", name="下载PDF（可直接打印）")
            await expect(pdf_link).to_be_visible(timeout=20_000)
            await expect(page.get_by_role("link", name="下载Word文件（可修改）")).to_be_visible()
            async with page.expect_download() as info:
                await pdf_link.click()
            download = await info.value
            assert download.suggested_filename == "行政复议申请书.pdf"
            saved = tmp_path / "got.pdf"
            await download.save_as(saved)
            assert saved.read_bytes().startswith(b"%PDF")
            href = await pdf_link.get_attribute("href")
            stranger = await browser.new_context()               # another browser: the link is not theirs
            r = await stranger.request.get(gw.url + href)
            assert r.status == 404
            await stranger.close()
        finally:
            await browser.close()
