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
from bot.render import render_web

STATIC_DIR = Path(__file__).with_name("static")
MAX_BODY_BYTES = 16 * 1024
_SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def new_session() -> str:
    return secrets.token_urlsafe(18)


class WebChat:
    def __init__(self, conversation: Conversation, max_input_chars: int) -> None:
        self.conversation = conversation
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
        if not isinstance(session, str) or not _SESSION_RE.match(session):
            session = new_session()
        turn = await self.conversation.text("web:" + session, data.get("message"))
        messages = turn.messages
        documents = self.conversation.documents
        if documents is not None:
            messages = documents.for_web(messages, "web:" + session)
        response = JSONResponse({"session": session, "messages": render_web(messages, turn.note)},
                                headers={"Cache-Control": "no-store"})
        if documents is not None:   # binds download links to this chat session
            documents.set_cookie(response, session, secure=request.url.scheme == "https")
        return response
