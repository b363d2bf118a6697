"""WeChat Official Account channel: `GET/POST /wechat` (plaintext and safe mode).

A message gets ONE Rasa call however often WeChat retries it (dedupe by MsgId, or by
FromUserName+CreateTime for events). The reply is passive when ready within
WECHAT_PASSIVE_DEADLINE_S; otherwise the request answers `success` and the reply goes out
later through the customer-service API. Replies longer than 2048 UTF-8 bytes are split:
the first part is passive, the rest go through the customer-service API.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.core import Conversation, Turn
from bot.httputil import BodyTooLarge, read_limited
from bot.inputs import digit_choice, location_payload
from bot.logging_setup import hash_sender
from bot.rasa_client import FALLBACK_TEXT
from bot.render import WeChatOut, render_wechat
from bot.wechat_api import WeChatAPI
from bot.wechat_crypto import WeChatCrypto, WeChatCryptoError, check_signature
from bot.wechat_replay import WINDOW_S, ReplayGuard

log = logging.getLogger(__name__)

UNSUPPORTED_TEXT = (
    "抱歉，我目前只能读懂文字、语音和位置消息。请直接输入您的问题，例如“古北口镇的法律服务站在哪”，"
    "或发送您的位置查找附近的法律服务站。"
)
VOICE_UNRECOGNISED_TEXT = "抱歉，没有听清您的语音。请再说一遍，或者直接输入文字。"
BAD_LOCATION_TEXT = "抱歉，没有读到有效的位置。请重新发送位置，或直接输入您所在的镇街名称。"

MAX_BODY_BYTES = 64 * 1024
CHOICE_TTL_S = 600.0          # a numbered button can be chosen for 10 minutes
# WeChat retries 3 times within ~15 s; keep keys until no call with that message's timestamp can pass the
# replay window (a timestamp up to WINDOW_S ahead of our clock is accepted for WINDOW_S more).
DEDUPE_TTL_S = 2 * WINDOW_S + 60
MAX_PENDING = 50_000
SUCCESS = "success"


class BadRequest(Exception):
    pass


@dataclass
class _Pending:
    task: asyncio.Task
    created: float
    async_mode: bool = False        # the reply goes (went) out through the customer-service API
    rest_sent: bool = False         # parts[1:] of a passive reply have been queued
    passive_override: WeChatOut | None = None


class ChoiceMemory:
    """The payloads of the numbered buttons last shown to each user, for 10 minutes."""

    def __init__(self, ttl_s: float = CHOICE_TTL_S, max_users: int = 100_000) -> None:
        self.ttl_s = ttl_s
        self.max_users = max_users
        self._data: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()

    def remember(self, user: str, choices: list[str]) -> None:
        self._data.pop(user, None)
        if choices:
            self._data[user] = (time.monotonic() + self.ttl_s, list(choices))
            while len(self._data) > self.max_users:
                self._data.popitem(last=False)

    def get(self, user: str, number: int) -> str | None:
        entry = self._data.get(user)
        if entry is None:
            return None
        expires, choices = entry
        if time.monotonic() > expires:
            self._data.pop(user, None)
            return None
        return choices[number - 1] if 1 <= number <= len(choices) else None


def _cdata(s: str) -> str:
    return "<![CDATA[" + s.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(to_user: str, from_user: str, content: str, create_time: int | None = None) -> str:
    return (
        f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content></xml>"
    )


def parse_xml(body: bytes) -> dict[str, str]:
    """Top-level fields of a WeChat XML message; DTDs, entities and external refs are refused."""
    try:
        root = safe_fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, ValueError) as exc:
        raise BadRequest(type(exc).__name__) from exc
    if root.tag != "xml":
        raise BadRequest("root is not <xml>")
    return {child.tag: (child.text or "").strip() for child in root if isinstance(child.tag, str)}


@dataclass
class WeChatChannel:
    """Routes and state of the WeChat channel."""

    token: str
    conversation: Conversation
    passive_deadline_s: float
    api: WeChatAPI | None = None
    crypto: WeChatCrypto | None = None
    menu_keys: dict[str, str] = field(default_factory=dict)
    choices: ChoiceMemory = field(default_factory=ChoiceMemory)
    replay: ReplayGuard = field(default_factory=ReplayGuard)
    _pending: OrderedDict = field(default_factory=OrderedDict)
    _background: set = field(default_factory=set)

    def routes(self) -> list[Route]:
        return [Route("/wechat", self.verify, methods=["GET"]), Route("/wechat", self.receive, methods=["POST"])]

    async def aclose(self, timeout_s: float = 10.0) -> None:
        """Let late replies finish (bounded), then cancel what is left."""
        if self._background:
            _, pending = await asyncio.wait(set(self._background), timeout=timeout_s)
            for task in pending:
                task.cancel()

    # ------------------------------------------------------------ HTTP

    async def verify(self, request: Request) -> Response:
        """WeChat's URL check: echo `echostr` if the signature is right."""
        q = request.query_params
        if not check_signature(self.token, q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", "")):
            return PlainTextResponse("forbidden", status_code=403)
        if not self.replay.fresh(q.get("timestamp", "")):
            return PlainTextResponse("forbidden", status_code=403)
        return PlainTextResponse(q.get("echostr", ""))

    async def receive(self, request: Request) -> Response:
        """One message or event from WeChat."""
        started = asyncio.get_running_loop().time()
        q = request.query_params
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        if not check_signature(self.token, q.get("signature", ""), timestamp, nonce):
            return PlainTextResponse("forbidden", status_code=403)
        if not self.replay.fresh(timestamp):
            log.warning("wechat_stale_timestamp")
            return PlainTextResponse("forbidden", status_code=403)
        safe_mode = q.get("encrypt_type", "").lower() == "aes"
        try:
            body = await read_limited(request, MAX_BODY_BYTES)
            fields = parse_xml(body)
            if self.crypto is not None and not safe_mode:
                raise BadRequest("safe mode is configured; plaintext refused")
            if safe_mode:
                if self.crypto is None:
                    raise BadRequest("safe mode not configured")
                try:
                    plain = self.crypto.decrypt_message(
                        fields.get("Encrypt", ""), q.get("msg_signature", ""), timestamp, nonce)
                except WeChatCryptoError as exc:
                    if "signature" in str(exc):
                        return PlainTextResponse("forbidden", status_code=403)
                    raise BadRequest(str(exc)) from exc
                fields = parse_xml(plain.encode("utf-8"))
        except BadRequest as exc:
            log.warning("wechat_bad_request reason=%s", exc)
            return PlainTextResponse("bad request", status_code=400)
        except BodyTooLarge:
            return PlainTextResponse("too large", status_code=413)

        openid, account = fields.get("FromUserName", ""), fields.get("ToUserName", "")
        if not openid or not account:
            return PlainTextResponse("bad request", status_code=400)
        # A (timestamp, nonce) already used for another message is a replay; WeChat's retry of this one is not.
        if not self.replay.claim(timestamp, nonce, self._key(fields)):
            log.warning("wechat_replay_refused sender=%s", hash_sender("wx:" + openid))
            return PlainTextResponse("forbidden", status_code=403)

        out = await self._answer(fields, started)
        if out is None or not out.parts:
            return PlainTextResponse(SUCCESS)
        xml = text_reply_xml(openid, account, out.parts[0])
        if safe_mode and self.crypto is not None:
            xml = self.crypto.encrypt_message(xml, nonce)
        return Response(xml, media_type="application/xml")

    # ------------------------------------------------------------ dedupe and the deadline

    def _key(self, f: dict[str, str]) -> str:
        if f.get("MsgId"):
            return f"m:{f.get('FromUserName')}:{f['MsgId']}"
        return f"e:{f.get('FromUserName')}:{f.get('CreateTime')}:{f.get('Event', '')}"

    async def _answer(self, fields: dict[str, str], started: float) -> WeChatOut | None:
        """The passive reply for this request, or None for `success`."""
        key, openid = self._key(fields), fields["FromUserName"]
        loop = asyncio.get_running_loop()
        entry = self._pending.get(key)
        if entry is None:
            self._purge(loop.time())
            entry = _Pending(task=asyncio.create_task(self._turn(fields)), created=loop.time())
            self._pending[key] = entry
        else:
            log.info("wechat_retry sender=%s", hash_sender("wx:" + openid))
        if entry.async_mode:
            return None
        if entry.passive_override is not None:
            return entry.passive_override
        remaining = self.passive_deadline_s - (loop.time() - started)
        try:
            out = await asyncio.wait_for(asyncio.shield(entry.task), max(remaining, 0.0))
        except asyncio.TimeoutError:
            if entry.async_mode:
                return None
            if entry.passive_override is not None:
                return entry.passive_override
            if self.api is not None:
                entry.async_mode = True
                self._spawn(self._deliver_late(openid, entry.task))
                log.info("wechat_async sender=%s", hash_sender("wx:" + openid))
                return None
            # No customer-service API configured: answer the static fallback now.
            entry.passive_override = render_wechat([{"text": FALLBACK_TEXT}])
            return entry.passive_override
        if entry.async_mode:          # another request for this message already went async
            return None
        if len(out.parts) > 1 and not entry.rest_sent and self.api is not None:
            entry.rest_sent = True
            self._spawn(self._send_parts(openid, out.parts[1:]))
        return out

    def _purge(self, now: float) -> None:
        while self._pending:
            key, entry = next(iter(self._pending.items()))
            if now - entry.created < DEDUPE_TTL_S and len(self._pending) < MAX_PENDING:
                break
            if not entry.task.done() and len(self._pending) < MAX_PENDING:
                break
            self._pending.popitem(last=False)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _deliver_late(self, openid: str, task: asyncio.Task) -> None:
        out = await task
        await self._send_parts(openid, out.parts)

    async def _send_parts(self, openid: str, parts: list[str]) -> None:
        if not parts or self.api is None:
            return
        try:
            await self.api.send_texts(openid, parts)
        except Exception as exc:  # noqa: BLE001 - a late reply must never crash the gateway
            log.error("wechat_custom_send_failed sender=%s error=%s", hash_sender("wx:" + openid), type(exc).__name__)

    # ------------------------------------------------------------ one turn

    async def _turn(self, f: dict[str, str]) -> WeChatOut:
        openid = f["FromUserName"]
        sender = "wx:" + openid
        try:
            turn = await self._dispatch(sender, openid, f)
        except Exception as exc:  # noqa: BLE001 - never silence
            log.error("wechat_turn_failed sender=%s error=%s", hash_sender(sender), type(exc).__name__)
            turn = Turn(messages=[{"text": FALLBACK_TEXT}], kind="fallback")
        if turn is None:
            return WeChatOut(parts=[], choices=[])
        messages = turn.messages
        if self.conversation.documents is not None:
            messages = self.conversation.documents.for_wechat(messages, sender)
        out = render_wechat(messages, turn.note, turn.script)
        if turn.rasa_called:
            self.choices.remember(openid, out.choices)
        return out

    async def _dispatch(self, sender: str, openid: str, f: dict[str, str]) -> Turn | None:
        conv = self.conversation
        kind = f.get("MsgType", "").lower()
        if kind == "text":
            number = digit_choice(f.get("Content", ""))
            payload = self.choices.get(openid, number) if number is not None else None
            if payload is not None:
                return await conv.payload(sender, payload)
            return await conv.text(sender, f.get("Content", ""))
        if kind == "voice":
            recognition = f.get("Recognition", "").strip()
            if recognition:
                return await conv.text(sender, recognition)
            return conv.static(sender, VOICE_UNRECOGNISED_TEXT)
        if kind == "location":
            payload = location_payload(f.get("Location_X"), f.get("Location_Y"))
            if payload is None:
                return conv.static(sender, BAD_LOCATION_TEXT)
            return await conv.payload(sender, payload)
        if kind == "event":
            event = f.get("Event", "").lower()
            if event == "subscribe":
                return await conv.payload(sender, "/greet")
            if event == "click":
                payload = self.menu_keys.get(f.get("EventKey", ""), "/ask_capabilities")
                return await conv.payload(sender, payload)
            return None
        return conv.static(sender, UNSUPPORTED_TEXT)
