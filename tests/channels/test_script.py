"""Traditional in → traditional out on every channel (web, WeChat, Telegram), buttons included; payloads exact."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from channel_fakes import STATION_PAYLOAD
from conftest import TG_SECRET, WX_TOKEN, telegram_overrides, wechat_overrides
from helpers import parse_reply, signed_query, text_xml, tg_callback, tg_message

from bot.render import WECHAT_CHOICE_HINT
from bot.script import TRADITIONAL, to_script

ASK_TRAD = "古北口鎮的法律服務站在哪"
ASK_SIMP = "古北口镇的法律服务站在哪"
ANSWER_SIMP = "古北口镇公共法律服务站在古北口镇政府一层。"
ANSWER_TRAD = "古北口鎮公共法律服務站在古北口鎮政府一層。"


def test_expected_strings_are_what_opencc_gives():
    assert to_script(ANSWER_SIMP, TRADITIONAL) == ANSWER_TRAD
    assert to_script("办公时间", TRADITIONAL) == "辦公時間"


# ------------------------------------------------------------------ web

async def test_web_traditional_in_traditional_out_and_back(make_gateway, fake_rasa_url, fake_rasa):
    gw = make_gateway(fake_rasa_url)
    async with gw.client() as c:
        data = (await c.post("/api/chat", json={"message": ASK_TRAD})).json()
        session = data["session"]
        assert data["messages"] == [{"text": ANSWER_TRAD, "buttons": [
            {"title": "辦公時間", "payload": STATION_PAYLOAD},                 # payload unchanged
            {"title": "12348熱線", "payload": "/ask_hotline"}]}]
        # A button press carries no script of its own: the conversation's script stays.
        data = (await c.post("/api/chat", json={"session": session, "message": "/ask_hotline"})).json()
        assert data["messages"][0]["text"] == "12348是公共法律服務熱線，可以免費諮詢法律問題。"
        # Back to simplified: the replies follow.
        data = (await c.post("/api/chat", json={"session": session, "message": ASK_SIMP})).json()
        assert data["messages"][0]["text"] == ANSWER_SIMP and data["messages"][0]["buttons"][0]["title"] == "办公时间"
    assert [m for _, m in fake_rasa.calls] == [ASK_TRAD, "/ask_hotline", ASK_SIMP]   # Rasa sees what was typed


async def test_web_exact_spans_stay(make_gateway, fake_rasa_url, fake_rasa):
    gw = make_gateway(fake_rasa_url)
    async with gw.client() as c:
        text = "請查MY-2026-000123，電話010-69041234，《中华人民共和国人民调解法》"
        data = (await c.post("/api/chat", json={"message": text})).json()
    reply = data["messages"][0]["text"]
    assert reply.startswith("您說的是：") and "MY-2026-000123" in reply and "010-69041234" in reply
    assert "《中华人民共和国人民调解法》" in reply


async def test_web_notes_are_converted_too(make_gateway, fake_rasa_url, fake_rasa):
    gw = make_gateway(fake_rasa_url, max_input_chars=10)
    async with gw.client() as c:
        data = (await c.post("/api/chat", json={"message": "請問" + "們" * 20})).json()
    assert data["messages"][0]["text"] == "（您的消息較長，只處理了前10個字。）"


# ------------------------------------------------------------------ WeChat

async def post(client, xml: str):
    return await client.post("/wechat", params=signed_query(WX_TOKEN), content=xml.encode(),
                             headers={"Content-Type": "text/xml"})


async def test_wechat_traditional_in_traditional_out(make_gateway, fake_rasa_url, fake_rasa, wechat_api, wechat_api_server):
    gw = make_gateway(fake_rasa_url, **wechat_overrides(wechat_api_server[1].url))
    openid = "oMiyunScriptUser00000000001"
    async with gw.client() as c:
        reply = parse_reply((await post(c, text_xml(openid, ASK_TRAD))).text)["Content"]
        assert reply == (ANSWER_TRAD + "\n1. 辦公時間\n2. 12348熱線\n\n" + to_script(WECHAT_CHOICE_HINT, TRADITIONAL))
        assert "回覆數字" in reply
        # Choosing "1" sends the exact (simplified) payload; the answer comes back in traditional.
        reply = parse_reply((await post(c, text_xml(openid, "1"))).text)["Content"]
        assert fake_rasa.calls[-1] == ("wx:" + openid, STATION_PAYLOAD)
        assert reply.startswith("古北口鎮公共法律服務站辦公時間")
        reply = parse_reply((await post(c, text_xml(openid, ASK_SIMP))).text)["Content"]
        assert reply.startswith(ANSWER_SIMP) and "1. 办公时间" in reply


# ------------------------------------------------------------------ Telegram

async def _wait_sent(tg, n: int) -> list[dict]:
    deadline = time.monotonic() + 5
    while len(tg.calls("sendMessage")) < n:
        assert time.monotonic() < deadline, "timed out waiting for sendMessage"
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)
    return tg.calls("sendMessage")


@pytest.fixture()
def tg_gateway(make_gateway, fake_rasa_url, fake_rasa, telegram_api, telegram_server):
    gw = make_gateway(fake_rasa_url, **telegram_overrides(telegram_server[1].url, "webhook"))
    deadline = time.monotonic() + 10
    while not gw.app.state.telegram.ready.is_set():
        assert time.monotonic() < deadline, "telegram did not start"
        time.sleep(0.02)
    return gw


async def hook(client, update: dict):
    return await client.post("/telegram/webhook", content=json.dumps(update),
                             headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "Content-Type": "application/json"})


async def test_telegram_traditional_in_traditional_out(tg_gateway, telegram_api, fake_rasa):
    chat = 5151
    async with tg_gateway.client() as c:
        await hook(c, tg_message(11, chat, text=ASK_TRAD))
        sent = await _wait_sent(telegram_api, 1)
        assert sent[0]["text"] == ANSWER_TRAD
        assert json.loads(sent[0]["reply_markup"]) == {"inline_keyboard": [
            [{"text": "辦公時間", "callback_data": STATION_PAYLOAD}],
            [{"text": "12348熱線", "callback_data": "/ask_hotline"}]]}
        await hook(c, tg_callback(12, chat, "/ask_hotline"))
        sent = await _wait_sent(telegram_api, 2)
        assert sent[1]["text"] == "12348是公共法律服務熱線，可以免費諮詢法律問題。"
        await hook(c, tg_message(13, chat, text=ASK_SIMP))
        sent = await _wait_sent(telegram_api, 3)
        assert sent[2]["text"] == ANSWER_SIMP
