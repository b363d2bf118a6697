"""Telegram channel: the real PTB Application against a local fake Bot API (webhook and polling)."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from channel_fakes import LONG_PAYLOAD, STATION_PAYLOAD
from conftest import TG_SECRET, TG_TOKEN, telegram_overrides
from helpers import tg_callback, tg_message

from bot.tg_channel import EXPIRED_BUTTON_TEXT, UNKNOWN_COMMAND_TEXT, UNSUPPORTED_TEXT

CHAT = 4242


async def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting")


async def wait_sent(tg, n: int, timeout: float = 5.0) -> list[dict]:
    await wait_for(lambda: len(tg.calls("sendMessage")) >= n, timeout)
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


async def hook(client, update: dict, secret: str | bytes = TG_SECRET):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"}
    return await client.post("/telegram/webhook", content=json.dumps(update), headers=headers)


async def test_text_update_to_exact_send_message(tg_gateway, telegram_api, fake_rasa):
    assert telegram_api.calls("getMe")                          # Application.initialize() went to the fake
    async with tg_gateway.client() as c:
        r = await hook(c, tg_message(1, CHAT, text="古北口镇的法律服务站在哪"))
        assert r.status_code == 200
    sent = await wait_sent(telegram_api, 1)
    assert fake_rasa.calls == [(f"tg:{CHAT}", "古北口镇的法律服务站在哪")]
    assert sent[0]["chat_id"] == str(CHAT)
    assert sent[0]["text"] == "古北口镇公共法律服务站在古北口镇政府一层。"
    assert json.loads(sent[0]["reply_markup"]) == {"inline_keyboard": [
        [{"text": "办公时间", "callback_data": STATION_PAYLOAD}],
        [{"text": "12348热线", "callback_data": "/ask_hotline"}],
    ]}
    assert set(sent[0]) == {"chat_id", "text", "reply_markup"}   # plain text: no parse_mode


async def test_button_press_sends_payload(tg_gateway, telegram_api, fake_rasa):
    async with tg_gateway.client() as c:
        await hook(c, tg_callback(2, CHAT, STATION_PAYLOAD))
    sent = await wait_sent(telegram_api, 1)
    assert fake_rasa.calls[-1] == (f"tg:{CHAT}", STATION_PAYLOAD)
    assert sent[0]["text"].startswith("古北口镇公共法律服务站办公时间") and "reply_markup" not in sent[0]
    assert telegram_api.calls("answerCallbackQuery")[0]["callback_query_id"] == "cb2"


async def test_long_payload_uses_short_id(tg_gateway, telegram_api, fake_rasa):
    assert len(LONG_PAYLOAD.encode()) > 64
    async with tg_gateway.client() as c:
        await hook(c, tg_message(3, CHAT, text="长按钮"))
        sent = await wait_sent(telegram_api, 1)
        data = json.loads(sent[0]["reply_markup"])["inline_keyboard"][0][0]["callback_data"]
        assert data.startswith("#") and len(data.encode()) <= 64
        await hook(c, tg_callback(4, CHAT, data))
        await wait_sent(telegram_api, 2)
        assert fake_rasa.calls[-1] == (f"tg:{CHAT}", LONG_PAYLOAD)
        await hook(c, tg_callback(5, CHAT, "#forged-id"))
        sent = await wait_sent(telegram_api, 3)
        assert sent[-1]["text"] == EXPIRED_BUTTON_TEXT
        await hook(c, tg_callback(6, CHAT, "not a payload"))
        sent = await wait_sent(telegram_api, 4)
        assert sent[-1]["text"] == EXPIRED_BUTTON_TEXT and fake_rasa.count() == 2


async def test_commands_location_other_and_edited(tg_gateway, telegram_api, fake_rasa):
    sender = f"tg:{CHAT}"
    async with tg_gateway.client() as c:
        await hook(c, tg_message(10, CHAT, text="/start"))
        await wait_for(lambda: fake_rasa.count(message="/greet") == 1)
        await hook(c, tg_message(11, CHAT, text="/help"))
        await hook(c, tg_message(12, CHAT, text="/menu"))
        await wait_for(lambda: fake_rasa.count(message="/ask_capabilities") == 2)
        await hook(c, tg_message(13, CHAT, location={"latitude": 40.37, "longitude": 116.84}))
        await wait_for(lambda: fake_rasa.count(
            sender, '/share_location{"latitude": 40.37, "longitude": 116.84}') == 1)
        await hook(c, tg_message(14, CHAT, text="古北口", edited=True))
        await wait_for(lambda: fake_rasa.count(sender, "古北口") == 1)
        n = fake_rasa.count()
        await hook(c, tg_message(15, CHAT, sticker={"file_id": "s1", "file_unique_id": "u1", "type": "regular",
                                                    "width": 512, "height": 512, "is_animated": False,
                                                    "is_video": False}))
        await hook(c, tg_message(16, CHAT, photo=[{"file_id": "p1", "file_unique_id": "pu1", "width": 90,
                                                   "height": 90}]))
        await hook(c, tg_message(17, CHAT, text="/unknown_cmd"))
        await wait_for(lambda: [m["text"] for m in telegram_api.calls("sendMessage")].count(UNSUPPORTED_TEXT) == 2)
        await wait_for(lambda: UNKNOWN_COMMAND_TEXT in [m["text"] for m in telegram_api.calls("sendMessage")])
    assert fake_rasa.count() == n
    greet = [m for m in telegram_api.calls("sendMessage") if m["text"] == "您可以问我："][0]
    assert json.loads(greet["reply_markup"])["inline_keyboard"][0][0]["callback_data"] == "/find_service_station"


async def test_long_answer_split_4096(tg_gateway, telegram_api, fake_rasa):
    long_text = fake_rasa.answer("长回答")[0]["text"].strip()
    async with tg_gateway.client() as c:
        await hook(c, tg_message(20, CHAT, text="长回答"))
    await wait_for(lambda: sum(len(m["text"]) for m in telegram_api.calls("sendMessage")) >= len(long_text) - 20)
    texts = [m["text"] for m in telegram_api.calls("sendMessage")]
    assert len(texts) >= 2 and all(len(t) <= 4096 for t in texts)
    assert "".join(texts).replace("\n", "") == long_text.replace("\n", "")


async def test_forged_secret_tokens_rejected(tg_gateway, telegram_api, fake_rasa):
    forgeries = ["", "x", TG_SECRET[:-1], TG_SECRET + "x", TG_SECRET.upper(), "x" + TG_SECRET, "秘密",
                 "é" * 10, TG_SECRET[::-1]]
    forgeries += [TG_SECRET[:i] + ("A" if TG_SECRET[i] != "A" else "B") + TG_SECRET[i + 1:]
                  for i in range(len(TG_SECRET))]
    async with tg_gateway.client() as c:
        for bad in forgeries:
            headers = {"X-Telegram-Bot-Api-Secret-Token": bad.encode("utf-8"),  # raw non-ASCII bytes too
                       "Content-Type": "application/json"}
            r = await c.post("/telegram/webhook", content=json.dumps(tg_message(30, CHAT, text="hi")),
                             headers=headers)
            assert r.status_code == 403, bad
        r = await c.post("/telegram/webhook", content=json.dumps(tg_message(31, CHAT, text="hi")))
        assert r.status_code == 403                             # header missing
        for junk in ("garbage", [1, 2], {"no_update_id": 1}, {"update_id": "x"}):
            r = await hook(c, junk)                             # type: ignore[arg-type]
            assert r.status_code == 400, junk
        r = await c.post("/telegram/webhook", content=b"{not json",
                         headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
        assert r.status_code == 400
    await asyncio.sleep(0.2)
    assert fake_rasa.count() == 0 and not telegram_api.calls("sendMessage")


async def test_polling_mode(make_gateway, fake_rasa_url, fake_rasa, telegram_api, telegram_server):
    gw = make_gateway(fake_rasa_url, **telegram_overrides(telegram_server[1].url, "polling"))
    telegram_api.push_update(tg_message(100, 777, text="古北口镇的法律服务站在哪"))
    sent = await wait_sent(telegram_api, 1, timeout=10)
    assert sent[0]["chat_id"] == "777" and sent[0]["text"].startswith("古北口镇公共法律服务站")
    assert telegram_api.calls("deleteWebhook")                   # PTB's polling bootstrap
    assert fake_rasa.calls == [("tg:777", "古北口镇的法律服务站在哪")]
    async with gw.client() as c:                                # no webhook route in polling mode
        r = await c.post("/telegram/webhook", content=b"{}", headers={"X-Telegram-Bot-Api-Secret-Token": ""})
        assert r.status_code in (404, 405)


async def test_unreachable_telegram_does_not_block_gateway(make_gateway, fake_rasa_url, dead_rasa_url):
    gw = make_gateway(fake_rasa_url, **telegram_overrides(dead_rasa_url, "webhook"))
    async with gw.client() as c:
        r = await c.post("/api/chat", json={"message": "你好"})
        assert r.status_code == 200 and r.json()["messages"]
    assert not gw.app.state.telegram.ready.is_set()


async def test_logs_hold_no_text_chat_ids_or_token(tg_gateway, telegram_api, fake_rasa, caplog):
    import logging
    caplog.set_level(logging.DEBUG)
    async with tg_gateway.client() as c:
        await hook(c, tg_message(40, 987654321, text="我的私密问题"))
    await wait_sent(telegram_api, 1)
    text = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "turn sender=tg:" in text
    for secret in ("987654321", "我的私密问题", TG_TOKEN, TG_TOKEN.split(":")[1], TG_SECRET, "您说的是"):
        assert secret not in text


# ------------------------------------------------------------------ private chats only (issue 15)

def _in_chat(update: dict, chat: dict) -> dict:
    key = "message" if "message" in update else "edited_message"
    update[key]["chat"] = chat
    return update


@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
async def test_group_messages_are_refused_and_never_reach_rasa(tg_gateway, telegram_api, fake_rasa, chat_type):
    """Members of a group would share one form and see each other's referral summary."""
    group = {"id": -100123, "type": chat_type, "title": "某村群"}
    async with tg_gateway.client() as c:
        for i, text in enumerate(["/start", "我要调解，电话13912345678", "古北口镇"]):
            assert (await hook(c, _in_chat(tg_message(100 + i, CHAT, text=text), group))).status_code == 200
        await wait_for(lambda: telegram_api.calls("leaveChat"))
        cb = tg_callback(110, CHAT, "/ask_hotline")
        cb["callback_query"]["message"]["chat"] = group
        await hook(c, cb)
        await wait_for(lambda: telegram_api.calls("answerCallbackQuery"))
        await hook(c, tg_message(111, CHAT, text="私聊问题"))           # the same person in private: served
        await wait_for(lambda: fake_rasa.count() == 1)
    await asyncio.sleep(0.2)
    assert fake_rasa.calls == [(f"tg:{CHAT}", "私聊问题")]
    refusals = [m for m in telegram_api.calls("sendMessage") if m["chat_id"] == str(group["id"])]
    assert len(refusals) == 1 and "私聊" in refusals[0]["text"] and "12348" in refusals[0]["text"]
    assert telegram_api.calls("leaveChat")[0]["chat_id"] == str(group["id"])
    alert = telegram_api.calls("answerCallbackQuery")[0]
    assert "私聊" in alert["text"] and alert["show_alert"] in ("true", "True", True)


async def test_channel_posts_are_ignored(tg_gateway, telegram_api, fake_rasa):
    post = {"update_id": 120, "channel_post": {"message_id": 1, "date": int(time.time()), "text": "频道消息",
                                              "chat": {"id": -100999, "type": "channel", "title": "频道"}}}
    async with tg_gateway.client() as c:
        assert (await hook(c, post)).status_code == 200
        await wait_for(lambda: telegram_api.calls("leaveChat"))
    assert fake_rasa.count() == 0 and not telegram_api.calls("sendMessage")
