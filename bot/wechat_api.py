"""WeChat server API: access-token cache and the customer-service message API (late replies)."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable

import httpx

from bot.logging_setup import hash_sender

log = logging.getLogger(__name__)

_TOKEN_ERRORS = {40001, 40014, 42001}      # invalid / expired access_token: refetch once
_SAFETY_MARGIN_S = 300.0                   # refresh this long before WeChat's expiry


class WeChatAPIError(Exception):
    pass


class WeChatAPI:
    """GET {base}/cgi-bin/token (cached until shortly before expiry); POST message/custom/send."""

    def __init__(self, base_url: str, app_id: str, app_secret: str, *, timeout_s: float = 5.0,
                 client: httpx.AsyncClient | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self._secret = app_secret
        self._client = client or httpx.AsyncClient(
            timeout=timeout_s, limits=httpx.Limits(max_connections=8, max_keepalive_connections=8))
        self._slots = asyncio.Semaphore(8)           # few connections keep httpx's pool fast under load
        self._owns_client = client is None
        self._clock = clock
        self._token = ""
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.token_fetches = 0
        self.sent = 0

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def invalidate(self) -> None:
        self._token = ""

    async def access_token(self) -> str:
        if self._token and self._clock() < self._expires_at:
            return self._token
        async with self._lock:                       # one fetch at a time; others reuse its result
            if self._token and self._clock() < self._expires_at:
                return self._token
            resp = await self._client.get(
                f"{self.base_url}/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret},
            )
            resp.raise_for_status()
            data = resp.json()
            token = data.get("access_token") if isinstance(data, dict) else None
            if not token:
                raise WeChatAPIError(f"token error errcode={data.get('errcode') if isinstance(data, dict) else '?'}")
            expires_in = float(data.get("expires_in", 7200))
            self._token = str(token)
            self._expires_at = self._clock() + max(expires_in - _SAFETY_MARGIN_S, expires_in / 2)
            self.token_fetches += 1
            return self._token

    async def send_text(self, openid: str, text: str) -> None:
        """Send one customer-service text message; refetch the token once if WeChat rejects it."""
        body = json.dumps({"touser": openid, "msgtype": "text", "text": {"content": text}},
                          ensure_ascii=False).encode("utf-8")       # WeChat shows \\u escapes literally
        for attempt in range(3):
            try:
                token = await self.access_token()
                async with self._slots:
                    resp = await self._client.post(
                        f"{self.base_url}/cgi-bin/message/custom/send", params={"access_token": token},
                        content=body, headers={"Content-Type": "application/json; charset=utf-8"},
                    )
                resp.raise_for_status()
                data = resp.json()
            except (httpx.HTTPError, ValueError, WeChatAPIError) as exc:
                log.warning("wechat_send_retry sender=%s attempt=%d error=%s",
                            hash_sender("wx:" + openid), attempt, type(exc).__name__)
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            errcode = data.get("errcode", 0) if isinstance(data, dict) else -1
            if errcode == 0:
                self.sent += 1
                return
            if errcode in _TOKEN_ERRORS:
                self.invalidate()                    # stale token: fetch a new one and retry
                continue
            raise WeChatAPIError(f"custom send errcode={errcode}")
        raise WeChatAPIError("custom send failed after retries")

    async def send_texts(self, openid: str, parts: list[str]) -> None:
        """Send parts in order."""
        for part in parts:
            await self.send_text(openid, part)

    async def create_menu(self, menu: dict[str, Any]) -> None:
        token = await self.access_token()
        resp = await self._client.post(
            f"{self.base_url}/cgi-bin/menu/create", params={"access_token": token},
            content=json.dumps(menu, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        resp.raise_for_status()
        if resp.json().get("errcode", 0) != 0:
            raise WeChatAPIError(f"menu create errcode={resp.json().get('errcode')}")
