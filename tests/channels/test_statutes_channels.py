"""查看法条原文 on every channel: the real actions' messages, served by the fake Rasa, through each gateway."""
from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
from conftest import TG_SECRET, WX_TOKEN, telegram_overrides, wechat_overrides
from helpers import parse_reply, signed_query, text_xml, tg_callback, tg_message

from bot.render import TELEGRAM_MAX_UNITS, WECHAT_MAX_BYTES, utf8_len, utf16_len

QUESTION = "公司把我辞退了，要给经济补偿吗"
ARTICLE = "labour-dismissal-compensation"
OPENID = "oMiyunStatuteUser000000000001"
CHAT = 5151


def _rest(dispatcher) -> list[dict]:
    """CollectingDispatcher messages as Rasa's REST channel returns them."""
    return [{k: m[k] for k in ("text", "buttons") if m.get(k)} for m in dispatcher.messages]


@pytest.fixture(scope="module")
def replies(session_var, tmp_path_factory):
    """What the real actions answer: the question, and the statute texts behind its button."""
    from actions import context
    from actions.legal import ActionShowArticle
    from actions.statutes import BUTTON_TITLE, ActionShowStatutes
    from tests.helpers import run, tracker

    old = os.environ.get("MIYUN_VAR_DIR")
    os.environ["MIYUN_VAR_DIR"] = str(session_var)
    context.reset()
    try:
        # The article a resident reaches for this question (directly, or from the clarifying question's button).
        answer, _ = run(ActionShowArticle(), tracker(QUESTION, "show_article", [{"entity": "article_id", "value": ARTICLE}]))
        payload = next(b["payload"] for m in answer.messages for b in m.get("buttons") or [] if b["title"] == BUTTON_TITLE)
        content_id = json.loads(payload[len("/show_statutes"):])["content_id"]
        texts, _ = run(ActionShowStatutes(), tracker(payload, "show_statutes", [{"entity": "content_id", "value": content_id}]))
    finally:
        os.environ.pop("MIYUN_VAR_DIR") if old is None else os.environ.__setitem__("MIYUN_VAR_DIR", old)
        context.reset()
    return {"question": _rest(answer), "payload": payload, "statutes": _rest(texts)}


@pytest.fixture()
def statute_rasa(fake_rasa, replies, monkeypatch):
    """The fake Rasa answering the question and the button's payload as the real actions do."""
    def answer(message: str) -> list[dict]:
        if message == QUESTION:
            return replies["question"]
        if message == replies["payload"]:
            return replies["statutes"]
        return [{"text": f"您说的是：{message}"}]

    monkeypatch.setattr(fake_rasa, "answer", answer)
    return fake_rasa


def _statute_text(replies) -> str:
    return "".join(m.get("text", "") for m in replies["statutes"]).replace("\n", "")


def test_the_statute_reply_is_long_enough_to_need_splitting(replies):
    total = "\n\n".join(m["text"] for m in replies["statutes"])
    assert utf8_len(total) > WECHAT_MAX_BYTES                       # so the WeChat split below is exercised
    assert any(t["text"].startswith("《中华人民共和国劳动合同法》（2012年12月28日版）第") for t in replies["statutes"])


async def test_web_chat_button_shows_the_statute_text(make_gateway, fake_rasa_url, statute_rasa, replies):
    gw = make_gateway(fake_rasa_url)
    async with gw.client() as c:
        data = (await c.post("/api/chat", json={"message": QUESTION})).json()
        button = next(b for m in data["messages"] for b in m.get("buttons") or [] if b["title"] == "查看法条原文")
        assert button["payload"] == replies["payload"]
        shown = (await c.post("/api/chat", json={"session": data["session"], "message": button["payload"]})).json()
    assert [m["text"] for m in shown["messages"]] == [m["text"] for m in replies["statutes"]]


async def test_wechat_numbered_choice_then_split_statute_text(make_gateway, fake_rasa_url, statute_rasa, replies,
                                                              wechat_api, wechat_api_server):
    gw = make_gateway(fake_rasa_url, **wechat_overrides(wechat_api_server[1].url))

    async def post(client, xml: str):
        return await client.post("/wechat", params=signed_query(WX_TOKEN), content=xml.encode(),
                                 headers={"Content-Type": "text/xml"})

    async with gw.client() as c:
        first = parse_reply((await post(c, text_xml(OPENID, QUESTION))).text)["Content"]
        number = next(line.split(".")[0] for line in first.split("\n") if line.endswith(". 查看法条原文"))
        passive = parse_reply((await post(c, text_xml(OPENID, number))).text)["Content"]
        assert statute_rasa.calls[-1] == ("wx:" + OPENID, replies["payload"])   # the number became the payload
        for _ in range(100):
            if wechat_api.texts_for(OPENID):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    rest = wechat_api.texts_for(OPENID)
    parts = [passive, *rest]
    assert len(parts) >= 2 and all(utf8_len(p) <= WECHAT_MAX_BYTES for p in parts)
    assert "".join(parts).replace("\n", "") == _statute_text(replies)
    assert passive.startswith("【法条原文】")


async def test_telegram_button_then_statute_messages(make_gateway, fake_rasa_url, statute_rasa, replies,
                                                     telegram_api, telegram_server):
    gw = make_gateway(fake_rasa_url, **telegram_overrides(telegram_server[1].url, "webhook"))
    deadline = time.monotonic() + 10
    while not gw.app.state.telegram.ready.is_set():
        assert time.monotonic() < deadline, "telegram did not start"
        time.sleep(0.02)
    headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "Content-Type": "application/json"}

    async def sent_at_least(n: int) -> list[dict]:
        for _ in range(250):
            if len(telegram_api.calls("sendMessage")) >= n:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        return telegram_api.calls("sendMessage")

    async with gw.client() as c:
        await c.post("/telegram/webhook", content=json.dumps(tg_message(11, CHAT, text=QUESTION)), headers=headers)
        first = await sent_at_least(1)
        keyboard = [row[0] for m in first if m.get("reply_markup") for row in json.loads(m["reply_markup"])["inline_keyboard"]]
        button = next(b for b in keyboard if b["text"] == "查看法条原文")
        await c.post("/telegram/webhook", content=json.dumps(tg_callback(12, CHAT, button["callback_data"])), headers=headers)
        n = len(first)
        sent = (await sent_at_least(n + len(replies["statutes"])))[n:]
    assert statute_rasa.calls[-1] == (f"tg:{CHAT}", replies["payload"])
    assert all(utf16_len(m["text"]) <= TELEGRAM_MAX_UNITS for m in sent)
    assert "".join(m["text"] for m in sent).replace("\n", "") == _statute_text(replies)
