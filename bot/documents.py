"""Generated documents on each channel, and the download route.

The action server leaves a `{"custom": {"document": {token, title, formats, text, printed}}}` message and
the files in the download store (miyun.documents.downloads). Here that becomes: on the web, links bound to
the chat session (a cookie set by /api/chat); on Telegram, the file itself (sendDocument); on WeChat, a link
when a public HTTPS address is configured, otherwise the filled text, split by the renderer to WeChat's size.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from miyun.documents.downloads import DownloadStore

log = logging.getLogger(__name__)
COOKIE = "miyun_chat"
COOKIE_PATH = "/documents"
SWEEP_S = 60.0
LABELS = {"pdf": "下载PDF（可直接打印）", "docx": "下载Word文件（可修改）"}
_SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
NOT_FOUND = "链接无效或已过期（文书只保留一段时间）。请回到对话里重新生成。"


def document_of(message: Any) -> dict | None:
    custom = message.get("custom") if isinstance(message, dict) else None
    doc = custom.get("document") if isinstance(custom, dict) else None
    return doc if isinstance(doc, dict) and isinstance(doc.get("token"), str) else None


def link(base: str, token: str, fmt: str) -> str:
    return f"{base}/documents/{token}/{fmt}"


class Documents:
    def __init__(self, store: DownloadStore, public_base_url: str = "") -> None:
        self.store = store
        self.public_base_url = public_base_url.rstrip("/")

    # ------------------------------------------------------------ channels

    def text(self, doc: dict, sender: str) -> str | None:
        data = self.store.read(doc["token"], "txt", sender)
        return data.decode("utf-8") if data is not None else None

    def for_web(self, messages: list[dict], sender: str) -> list[dict]:
        """Document messages -> {document: {title, links}}, plus the text when there is no PDF."""
        out = []
        for m in messages:
            doc = document_of(m)
            if doc is None:
                out.append(m)
                continue
            formats = [f for f in ("pdf", "docx") if f in (doc.get("formats") or [])]
            if doc.get("text"):
                out.append({"text": self.text(doc, sender) or NOT_FOUND})
            out.append({"custom": {"web_document": {
                "title": str(doc.get("title") or "文书"),
                "links": [{"label": LABELS[f], "url": link("", doc["token"], f), "format": f} for f in formats],
            }}})
        return out

    def for_wechat(self, messages: list[dict], sender: str) -> list[dict]:
        """Links with a public HTTPS address; otherwise the filled text and where to get it printed."""
        out = []
        for m in messages:
            doc = document_of(m)
            if doc is None:
                out.append(m)
                continue
            formats = [f for f in ("pdf", "docx") if f in (doc.get("formats") or [])]
            if self.public_base_url and formats:
                lines = [f"{LABELS[f]}：{link(self.public_base_url, doc['token'], f)}" for f in formats]
                out.append({"text": "\n".join(lines)})
            else:
                body = self.text(doc, sender) or NOT_FOUND
                out.append({"text": "文书内容如下，可以照着抄写或复制打印：\n\n" + body})
            if doc.get("printed"):
                out.append({"text": str(doc["printed"])})
        return out

    def files_for(self, doc: dict, sender: str) -> list[tuple[str, bytes]]:
        """(filename, bytes) for Telegram's sendDocument: the PDF, else the DOCX."""
        for fmt in ("pdf", "docx"):
            if fmt in (doc.get("formats") or []):
                data = self.store.read(doc["token"], fmt, sender)
                if data is not None:
                    return [(f"{doc.get('title') or '文书'}.{fmt}", data)]
        return []

    # ------------------------------------------------------------ web

    def routes(self) -> list[Route]:
        return [Route("/documents/{token}/{fmt}", self.download, methods=["GET"])]

    async def download(self, request: Request) -> Response:
        """The file, for its own web-chat session only (or any holder of a WeChat/Telegram link); else 404."""
        session = request.cookies.get(COOKIE, "")
        sender = "web:" + session if _SESSION_RE.match(session) else None
        fmt = request.path_params["fmt"]
        found = await run_in_threadpool(self.store.open, request.path_params["token"], fmt, sender) \
            if fmt in LABELS else None   # the text copy is for the chat, never a link
        if found is None:
            return PlainTextResponse(NOT_FOUND, status_code=404, headers={"Cache-Control": "no-store"})
        log.info("document_download format=%s", fmt)
        disposition = f"attachment; filename=\"document{Path(found.filename).suffix}\"; filename*=UTF-8''{quote(found.filename)}"
        return FileResponse(found.path, media_type=found.media_type,
                            headers={"Content-Disposition": disposition, "Cache-Control": "no-store"})

    @staticmethod
    def set_cookie(response: Response, session: str, secure: bool) -> None:
        response.set_cookie(COOKIE, session, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure)

    # ------------------------------------------------------------ expiry

    @contextlib.asynccontextmanager
    async def sweeping(self, every_s: float = SWEEP_S):
        """Delete expired documents in the background while the gateway runs, visited or not."""
        async def loop() -> None:
            while True:
                try:
                    removed = await run_in_threadpool(self.store.purge)
                    if removed:
                        log.info("documents_expired count=%d", removed)
                except Exception as exc:  # noqa: BLE001 - the sweep must outlive a bad folder
                    log.error("documents_sweep_failed error=%s", type(exc).__name__)
                await asyncio.sleep(every_s)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
