"""The console in headless Chromium against the real Rasa + action servers (session `stack` fixture):
an editor edits, publishes and rolls back a service answer and an article and the web chat follows; a mediator updates
a referral and the resident's status check shows the new public status."""
from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from bot.app import create_app
from console import create_console
from miyun.knowledge import publish
from miyun.referrals.rules import public_reference
from miyun.referrals.sqlite import RuntimeStore
from miyun.settings import Settings
from miyun.staff.store import StaffStore, hash_password

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage",
                 "--no-proxy-server"]
MARKER = "【控制台更新测试】"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="run scripts/install_browser.sh")


def _text(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


@pytest.fixture()
def console_gateway(stack, serve, settings_factories):
    """A gateway over the real Rasa with the console on the stack's content and var dirs; content restored after."""
    gateway_settings, staff_settings = settings_factories
    core = Settings(content_dir=stack.content_dir, var_dir=stack.var)
    users = StaffStore(core.runtime_db)
    for name, role, towns in (("b-editor", "editor", []), ("b-mediator", "mediator", ["古北口镇"])):
        if users.user(name) is None:
            users.create_user(name, hash_password("browser-pass-123"), role, towns, "pytest")
    original = {p: p.read_bytes() for p in stack.content_dir.rglob("*.yml")}
    app = create_app(gateway_settings(stack.rasa_url),
                     staff=create_console(core, staff_settings(stack.var)))
    yield serve(app).url, core
    for path, data in original.items():
        path.write_bytes(data)
    publish.publish(core, "pytest", "restore after the browser test")     # a no-op when the live text is the original


async def _login(page, url: str, name: str) -> None:
    await page.goto(url + "/staff/")
    await page.get_by_label("用户名").fill(name)
    await page.get_by_label("密码").fill("browser-pass-123")
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(url + "/staff/")


async def _ask(chat, question: str) -> str:
    from playwright.async_api import expect

    bot = chat.locator(".msg.bot")
    before = await bot.count()
    box = chat.get_by_label("请输入您的问题（按回车发送）")
    await box.fill(question)
    await box.press("Enter")
    await expect(bot).not_to_have_count(before, timeout=20_000)
    await expect(chat.locator("#send")).to_be_enabled(timeout=20_000)
    return "\n".join((await bot.all_inner_texts())[before:])


@pytest.mark.parametrize(
    "kind, ident, question",
    [("services", "hotline", '/ask_service_aspect{"service":"hotline","aspect":"full"}'), ("articles", "labour-unpaid-wages", "老板拖了我三个月工资不给怎么办")],
)
async def test_editor_edits_publishes_and_rolls_back(console_gateway, kind, ident, question):
    from playwright.async_api import async_playwright, expect

    url, core = console_gateway
    previous = RuntimeStore(core.runtime_db).versions()[-1]["version"]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await _login(page, url, "b-editor")
            await page.goto(url + f"/staff/content/{kind}/{ident}")
            answer = page.get_by_label("回答（150–400字）" if kind == "articles" else "回答", exact=True)
            old = await answer.input_value()
            await answer.fill(MARKER + old)
            await page.get_by_role("button", name="保存", exact=True).click()
            await expect(page.locator(".flash.ok")).to_contain_text("已保存")
            await page.goto(url + "/staff/publish")
            await expect(page.locator(".changes")).to_contain_text(ident)
            await page.get_by_label("发布说明（必填）").fill("浏览器测试：更新热线说明")
            await page.get_by_role("button", name="发布", exact=True).click()
            await expect(page.locator(".flash.ok")).to_contain_text("已发布第")

            chat = await browser.new_page(viewport={"width": 390, "height": 844})
            await chat.goto(url + "/")
            assert MARKER in await _ask(chat, question)                        # live within 2 s, no restart

            await page.goto(url + "/staff/publish")
            row = page.locator("tr", has_text=f"第 {previous} 版")
            await row.get_by_role("button", name="回滚到此版").click()
            await expect(page.locator(".flash.ok")).to_contain_text(f"已回滚到第 {previous} 版")
            reply = await _ask(chat, question)
            assert MARKER not in reply and "".join(old.split())[:15] in "".join(reply.split())
        finally:
            await browser.close()


async def test_mediator_updates_a_referral_and_the_resident_sees_the_public_status(console_gateway, stack):
    from playwright.async_api import async_playwright, expect

    url, core = console_gateway
    fields = {"kind": "mediation", "level": "town", "target": "古北口镇说法评理平台（司法所）", "dispute_type": "邻里",
              "town": "古北口镇", "village": "河西村", "description": "邻居家漏水", "involvement": "none", "name": "赵",
              "phone": "13700005678", "contact_time": "上午", "sender_hash": None, "channel": "web"}
    row, _ = RuntimeStore(core.runtime_db).create_referral(f"browser-{uuid.uuid4()}", fields, 2026)
    ref = row["ref"]
    note = "内部备注：周三在司法所调解"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})          # on a phone
            await _login(page, url, "b-mediator")
            await page.get_by_role("link", name="调解转介").click()
            await page.get_by_role("link", name=ref).click()
            await expect(page.locator("dl.grid")).to_contain_text("13700005678")
            await page.get_by_label("新状态").select_option("mediating")
            await page.get_by_label("内部备注（必填，居民看不到）").fill(note)
            await page.get_by_role("button", name="保存", exact=True).click()
            await expect(page.locator(".flash.ok")).to_contain_text("调解中")
        finally:
            await browser.close()
    sender = f"status-{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(stack.say, sender, "查询调解进度")
    await asyncio.to_thread(stack.say, sender, public_reference(row))   # residents hold the check-coded number
    reply = _text(await asyncio.to_thread(stack.say, sender, "5678"))
    assert "调解进行中" in reply and note not in reply and "周三" not in reply
