"""Request bodies the console accepts: URL-encoded forms only, at most `max_bytes`.

No console form uploads files, so multipart bodies (and their parser: temporary files, many parts) are
refused before any handler runs; every other POST body is read here, bounded, and handed on.
"""
from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_TYPE = "application/x-www-form-urlencoded"
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


class FormLimits:
    """Pure ASGI middleware: 415 for anything but a URL-encoded form, 413 past `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        ctype = headers.get(b"content-type", b"").decode("latin-1").split(";", 1)[0].strip().lower()
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if ctype and ctype != FORM_TYPE:
            await _plain(send, 415, "只接受普通表单 / only URL-encoded forms are accepted")
            return
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _plain(send, 413, "表单内容太大 / form too large")
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:                  # no or a false Content-Length: count what arrives
                await _plain(send, 413, "表单内容太大 / form too large")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
