"""Async client for Rasa's REST channel with a hard deadline and a static fallback (never silence)."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.logging_setup import hash_sender

log = logging.getLogger(__name__)

FALLBACK_TEXT = (
    "抱歉，系统暂时无法回答。法律咨询请拨打12348公共法律服务热线；也可以到所在镇街的公共法律服务站当面咨询。"
)
# Rasa answered, but with nothing to say: still never leave the user in silence.
EMPTY_ANSWER_TEXT = "抱歉，我暂时没有找到合适的回答。您可以换个说法再问，或拨打12348公共法律服务热线咨询。"

_MAX_RESPONSE_BYTES = 1_000_000


@dataclass
class RasaReply:
    messages: list[dict[str, Any]]
    ok: bool = True
    error: str = ""
    elapsed_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def fallback_reply(sender: str, error: str) -> RasaReply:
    return RasaReply(messages=[{"recipient_id": sender, "text": FALLBACK_TEXT}], ok=False, error=error)


def _valid_messages(sender: str, data: Any) -> list[dict[str, Any]]:
    """Keep only well-formed message dicts from Rasa's answer."""
    if not isinstance(data, list):
        raise ValueError("Rasa answer is not a list")
    out = []
    for item in data:
        if not isinstance(item, dict):
            continue
        msg: dict[str, Any] = {"recipient_id": sender}
        if isinstance(item.get("text"), str) and item["text"].strip():
            msg["text"] = item["text"]
        if isinstance(item.get("image"), str) and item["image"].strip():
            msg["image"] = item["image"]
        buttons = [
            {"title": str(b["title"]), "payload": str(b["payload"])}
            for b in item.get("buttons") or []
            if isinstance(b, dict) and b.get("title") and b.get("payload")
        ] if isinstance(item.get("buttons"), list) else []
        if buttons:
            msg["buttons"] = buttons
        if isinstance(item.get("custom"), dict):
            msg["custom"] = item["custom"]
        if len(msg) > 1:
            out.append(msg)
    return out


class RasaClient:
    """POST `{base}/webhooks/rest/webhook`; any error or a missed deadline gives the 12348 fallback."""

    def __init__(self, base_url: str, timeout_s: float, *, max_concurrency: int = 8,
                 client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        # Rasa is a local service: don't route loopback traffic through an HTTP(S)_PROXY.
        self._client = client or httpx.AsyncClient(
            trust_env=False,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 2.0)),
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
        )
        self._owns_client = client is None
        self._slots = asyncio.Semaphore(max_concurrency)
        self.calls = 0
        self.failures = 0

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def send(self, sender: str, message: str, *, timeout_s: float | None = None) -> RasaReply:
        """Send one user message; always returns at least one message, within `timeout_s`."""
        deadline = timeout_s if timeout_s is not None else self.timeout_s
        start = time.perf_counter()
        self.calls += 1
        try:
            reply = await asyncio.wait_for(self._post(sender, message), deadline)
        except (asyncio.TimeoutError, httpx.TimeoutException):
            # httpx's own timeout equals the deadline, so either may fire first: both are a timeout.
            reply = fallback_reply(sender, "timeout")
        except (httpx.HTTPError, ValueError, OSError) as exc:
            reply = fallback_reply(sender, type(exc).__name__)
        reply.elapsed_ms = (time.perf_counter() - start) * 1000
        if not reply.ok:
            self.failures += 1
            log.warning("rasa_fallback sender=%s error=%s ms=%.0f", hash_sender(sender), reply.error, reply.elapsed_ms)
        elif not reply.messages:
            reply.messages = [{"recipient_id": sender, "text": EMPTY_ANSWER_TEXT}]
            reply.extra["empty"] = True
        return reply

    async def _post(self, sender: str, message: str) -> RasaReply:
        async with self._slots:
            resp = await self._client.post(
                f"{self.base_url}/webhooks/rest/webhook", json={"sender": sender, "message": message}
            )
        resp.raise_for_status()
        if len(resp.content) > _MAX_RESPONSE_BYTES:
            raise ValueError("Rasa answer too large")
        return RasaReply(messages=_valid_messages(sender, resp.json()))

    async def healthy(self, timeout_s: float = 2.0) -> bool:
        """True when Rasa's `/` answers 200 (it does once the model is loaded; the HTTP API may be off)."""
        try:
            resp = await asyncio.wait_for(self._client.get(self.base_url + "/"), timeout_s)
            return resp.status_code == 200
        except (asyncio.TimeoutError, httpx.HTTPError, OSError):
            return False
