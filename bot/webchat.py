"""Web chat: the page at `/` (bot/static) and `POST /api/chat` {session, message} -> rendered messages."""
from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.core import Conversation
from bot.httputil import BodyTooLarge, read_limited
from bot.ratelimit import RATE_LIMITED_TEXT, RateLimiter
from bot.render import render_web

STATIC_DIR = Path(__file__).with_name("static")
MAX_BODY_BYTES = 16 * 1024
_SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def new_session() -> str:
    return secrets.token_urlsafe(18)


def client_ip(request: Request, trusted_proxies: frozenset[str]) -> str:
    """The peer address; behind a trusted reverse proxy, the address it appended to X-Forwarded-For."""
    peer = request.client.host if request.client else "unknown"
    if peer in trusted_proxies:
        forwarded = [p.strip() for p in request.headers.get("x-forwarded-for", "").split(",") if p.strip()]
        if forwarded:
            return forwarded[-1]
    return peer


class WebChat:
    """The web chat. Besides the per-sender limit of `Conversation`, two per-IP limits: anyone can
    start a fresh session by sending none, so sessions alone would allow unlimited status guesses."""

    def __init__(self, conversation: Conversation, max_input_chars: int, *, per_ip_per_min: int = 60,
                 new_sessions_per_ip_per_hour: int = 30, trusted_proxies: frozenset[str] = frozenset()) -> None:
        self.conversation = conversation
        self.ip_messages = RateLimiter(per_ip_per_min)
        self.ip_sessions = RateLimiter(new_sessions_per_ip_per_hour, window_s=3600.0)
        self.trusted_proxies = trusted_proxies
        self._index = (STATIC_DIR / "index.html").read_text(encoding="utf-8").replace(
            "{{MAX_CHARS}}", str(int(max_input_chars)))

    def routes(self) -> list:
        return [
            Route("/", self.index, methods=["GET"]),
            Route("/api/chat", self.chat, methods=["POST"]),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        ]

    async def index(self, request: Request) -> Response:
        """The chat page."""
        return HTMLResponse(self._index, headers={"Cache-Control": "no-cache"})

    async def chat(self, request: Request) -> Response:
        """One user message -> {session, messages:[{text?, buttons?, image?}]}."""
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return JSONResponse({"error": "请使用 JSON 格式"}, status_code=415)
        try:
            data = json.loads(await read_limited(request, MAX_BODY_BYTES))
        except BodyTooLarge:
            return JSONResponse({"error": "消息太长"}, status_code=413)
        except ValueError:
            return JSONResponse({"error": "请求格式不正确"}, status_code=400)
        if not isinstance(data, dict):
            return JSONResponse({"error": "请求格式不正确"}, status_code=400)
        session = data.get("session")
        ip = client_ip(request, self.trusted_proxies)
        fresh = not isinstance(session, str) or not _SESSION_RE.match(session)
        if not self.ip_messages.allow(ip) or (fresh and not self.ip_sessions.allow(ip)):
            return JSONResponse({"session": None if fresh else session, "messages": [{"text": RATE_LIMITED_TEXT}]},
                                status_code=429, headers={"Cache-Control": "no-store", "Retry-After": "60"})
        if fresh:
            session = new_session()
        turn = await self.conversation.text("web:" + session, data.get("message"))
        messages = turn.messages
        documents = self.conversation.documents
        if documents is not None:
            messages = documents.for_web(messages, "web:" + session)
        response = JSONResponse({"session": session, "messages": render_web(messages, turn.note, turn.script)},
                                headers={"Cache-Control": "no-store"})
        if documents is not None:   # binds download links to this chat session
            documents.set_cookie(response, session, secure=request.url.scheme == "https")
        return response
