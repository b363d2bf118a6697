"""Helpers for building signed WeChat requests and Telegram updates in tests and the bench."""
from __future__ import annotations

import itertools
import random
import string
import time
import xml.etree.ElementTree as ET
from typing import Any

from bot.wechat_crypto import sha1_signature

_ids = itertools.count(int(time.time() * 1000) % 10**12)


def next_msg_id() -> str:
    return str(6_000_000_000_000_000_000 + next(_ids))


def nonce() -> str:
    return "".join(random.choices(string.digits, k=10))


def signed_query(token: str, *, ts: str | None = None, nc: str | None = None) -> dict[str, str]:
    ts = ts or str(int(time.time()))
    nc = nc or nonce()
    return {"signature": sha1_signature(token, ts, nc), "timestamp": ts, "nonce": nc, "openid": "x"}


def _x(tag: str, value: Any, cdata: bool = True) -> str:
    return f"<{tag}><![CDATA[{value}]]></{tag}>" if cdata else f"<{tag}>{value}</{tag}>"


def wx_xml(openid: str, msg_type: str, *, create_time: int | None = None, account: str = "gh_miyun_test",
           **fields: Any) -> str:
    body = [_x("ToUserName", account), _x("FromUserName", openid),
            _x("CreateTime", create_time or int(time.time()), cdata=False), _x("MsgType", msg_type)]
    for tag, value in fields.items():
        body.append(_x(tag, value, cdata=tag not in ("MsgId", "Location_X", "Location_Y", "Scale")))
    return "<xml>" + "".join(body) + "</xml>"


def text_xml(openid: str, content: str, msg_id: str | None = None) -> str:
    return wx_xml(openid, "text", Content=content, MsgId=msg_id or next_msg_id())


def parse_reply(xml: str) -> dict[str, str]:
    root = ET.fromstring(xml)
    return {child.tag: child.text or "" for child in root}


def tg_user(uid: int) -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": "测试", "language_code": "zh-hans"}


def tg_message(update_id: int, chat_id: int, *, text: str | None = None, edited: bool = False,
               **extra: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"message_id": update_id, "date": int(time.time()), "from": tg_user(chat_id),
                           "chat": {"id": chat_id, "type": "private", "first_name": "测试"}}
    if text is not None:
        msg["text"] = text
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    if edited:
        msg["edit_date"] = int(time.time())
    msg.update(extra)
    return {"update_id": update_id, "edited_message" if edited else "message": msg}


def tg_callback(update_id: int, chat_id: int, data: str) -> dict[str, Any]:
    return {"update_id": update_id, "callback_query": {
        "id": f"cb{update_id}", "from": tg_user(chat_id), "chat_instance": "ci1", "data": data,
        "message": {"message_id": 1, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
                    "from": {"id": 123456, "is_bot": True, "first_name": "bot"}, "text": "请选择"}}}
