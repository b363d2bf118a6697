"""Local fakes for the channel tests and the bench: Rasa REST, WeChat server API, Telegram Bot API.

All are Starlette apps served by uvicorn on 127.0.0.1 in a background thread (ServerThread).
Run a fake Rasa by hand with:  python tests/channels/channel_fakes.py rasa --port 5999
"""
from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, unquote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

STATION_PAYLOAD = '/ask_station_hours{"town": "古北口镇"}'
LONG_PAYLOAD = '/ask_legal_question{"topic": "' + "劳动合同纠纷与工资拖欠的处理办法" * 3 + '"}'


class ServerThread:
    """Serve an ASGI app with uvicorn on a loopback port in a daemon thread."""

    def __init__(self, app: Any, *, lifespan: str = "on") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, ws="none", lifespan=lifespan, log_level="warning", access_log=False,
                                timeout_graceful_shutdown=1, log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


def free_dead_url() -> str:
    """A loopback URL where nothing listens."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


# ------------------------------------------------------------------ Rasa

class FakeRasa:
    """Speaks Rasa's REST channel. `delay_s` makes every answer slow; `calls` records (sender, message)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.app = Starlette(routes=[
            Route("/webhooks/rest/webhook", self.webhook, methods=["POST"]),
            Route("/status", self.status),
            Route("/", self.root),
        ])

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
        self.delay_s = 0.0

    def count(self, sender: str | None = None, message: str | None = None) -> int:
        with self.lock:
            return sum(1 for s, m in self.calls if (sender is None or s == sender) and (message is None or m == message))

    async def status(self, request: Request) -> JSONResponse:
        return JSONResponse({"version": "3.6.21-fake", "model_file": "fake.tar.gz"})

    async def root(self, request: Request) -> PlainTextResponse:
        return PlainTextResponse("Hello from Rasa: 3.6.21 (fake)")

    async def webhook(self, request: Request) -> JSONResponse:
        data = await request.json()
        sender, message = data["sender"], data["message"]
        with self.lock:
            self.calls.append((sender, message))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return JSONResponse([dict(m, recipient_id=sender) for m in self.answer(message)])

    @staticmethod
    def answer(message: str) -> list[dict[str, Any]]:
        if message == "/greet":
            return [{"text": "您好！我是密云法治服务助手。"},
                    {"text": "您可以问我：", "buttons": [{"title": "找法律服务站", "payload": "/find_service_station"},
                                                    {"title": "12348热线", "payload": "/ask_hotline"}]}]
        if message == "/ask_capabilities":
            return [{"text": "我可以帮您查法律服务站、法律援助和调解。",
                     "buttons": [{"title": "法律援助", "payload": "/ask_legal_aid"}]}]
        if message == "/ask_hotline":
            return [{"text": "12348是公共法律服务热线，可以免费咨询法律问题。"}]
        if message.startswith("/ask_station_hours"):
            return [{"text": "古北口镇公共法律服务站办公时间：周一至周五 9:00-17:00。"}]
        if message.startswith("/share_location"):
            return [{"text": "离您最近的是古北口镇公共法律服务站。"}]
        if message.startswith("/ask_legal_question"):
            return [{"text": "劳动争议可以先协商，也可以申请调解或仲裁。"}]
        if message == "/find_service_station":
            return [{"text": "请告诉我您所在的镇街，或发送您的位置。"}]
        if "古北口" in message:
            return [{"text": "古北口镇公共法律服务站在古北口镇政府一层。",
                     "buttons": [{"title": "办公时间", "payload": STATION_PAYLOAD},
                                 {"title": "12348热线", "payload": "/ask_hotline"}]}]
        if message == "长回答":
            return [{"text": ("第一条 " + "法律服务内容说明。" * 40 + "\n") * 12}]
        if message == "长按钮":
            return [{"text": "请选择问题类型：", "buttons": [{"title": "劳动纠纷", "payload": LONG_PAYLOAD}]}]
        if message == "图片":
            return [{"text": "服务站位置图：", "image": "https://example.org/map.png"}]
        if message == "无回答":
            return []
        return [{"text": f"您说的是：{message}"}]


# ------------------------------------------------------------------ WeChat server API

class FakeWeChatAPI:
    """cgi-bin/token and cgi-bin/message/custom/send; records sends as (access_token, body dict)."""

    def __init__(self) -> None:
        self.token_requests: list[dict[str, str]] = []
        self.sends: list[tuple[str, dict[str, Any]]] = []
        self.raw_sends: list[bytes] = []
        self.reject_next_tokens = 0           # answer 40001 to this many sends
        self.lock = threading.Lock()
        self._n = 0
        self.app = Starlette(routes=[
            Route("/cgi-bin/token", self.token),
            Route("/cgi-bin/message/custom/send", self.send, methods=["POST"]),
            Route("/cgi-bin/menu/create", self.menu, methods=["POST"]),
        ])

    def reset(self) -> None:
        with self.lock:
            self.token_requests.clear()
            self.sends.clear()
            self.raw_sends.clear()
            self.reject_next_tokens = 0

    def texts_for(self, openid: str) -> list[str]:
        with self.lock:
            return [b["text"]["content"] for _, b in self.sends if b.get("touser") == openid]

    async def token(self, request: Request) -> JSONResponse:
        q = dict(request.query_params)
        with self.lock:
            self.token_requests.append(q)
            self._n += 1
            n = self._n
        if q.get("grant_type") != "client_credential" or not q.get("appid") or not q.get("secret"):
            return JSONResponse({"errcode": 40013, "errmsg": "invalid appid"})
        return JSONResponse({"access_token": f"ACCESS_TOKEN_{n}", "expires_in": 7200})

    async def send(self, request: Request) -> JSONResponse:
        raw = await request.body()
        body = json.loads(raw)
        token = request.query_params.get("access_token", "")
        with self.lock:
            if self.reject_next_tokens > 0:
                self.reject_next_tokens -= 1
                return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
            self.sends.append((token, body))
            self.raw_sends.append(raw)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def menu(self, request: Request) -> JSONResponse:
        return JSONResponse({"errcode": 0, "errmsg": "ok"})


# ------------------------------------------------------------------ Telegram Bot API

class FakeTelegram:
    """Enough of the Bot API for PTB: getMe, getUpdates, deleteWebhook, setWebhook, sendMessage, sendDocument,
    answerCallbackQuery, leaveChat."""

    def __init__(self, token: str = "123456:TEST-token") -> None:
        self.token = token
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._message_id = 1000
        self._offset = 0
        self.app = Starlette(routes=[Route("/bot{token:path}/{method}", self.call, methods=["GET", "POST"])])

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.updates.clear()

    def calls(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [p for m, p in self.requests if m == method]

    def push_update(self, update: dict[str, Any]) -> None:
        with self.lock:
            self.updates.append(update)

    async def call(self, request: Request) -> JSONResponse:
        if unquote(request.path_params["token"]) != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        method = request.path_params["method"]
        ctype = request.headers.get("content-type", "")
        raw = await request.body()
        if ctype.startswith("multipart/"):     # sendDocument: the file is a multipart part
            form = await request.form()
            params = {k: ({"filename": v.filename, "data": await v.read()} if hasattr(v, "read") else v)
                      for k, v in form.multi_items()}
        elif "json" in ctype:
            params = json.loads(raw) if raw else {}
        else:                                   # PTB posts application/x-www-form-urlencoded
            params = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        with self.lock:
            self.requests.append((method, params))
        if method == "getMe":
            return _ok({"id": 123456, "is_bot": True, "first_name": "密云法治服务助手", "username": "miyun_test_bot",
                        "can_join_groups": False, "can_read_all_group_messages": False,
                        "supports_inline_queries": False})
        if method == "getUpdates":
            offset = int(params.get("offset", 0) or 0)
            deadline = time.monotonic() + min(float(params.get("timeout", 0) or 0), 0.2)
            while True:
                with self.lock:
                    batch = [u for u in self.updates if u["update_id"] >= offset]
                if batch or time.monotonic() >= deadline:
                    return _ok(batch)
                await asyncio.sleep(0.02)
        if method in ("deleteWebhook", "setWebhook", "answerCallbackQuery", "sendChatAction", "leaveChat"):
            return _ok(True)
        if method == "sendDocument":
            with self.lock:
                self._message_id += 1
                mid = self._message_id
            return _ok({"message_id": mid, "date": int(time.time()),
                        "chat": {"id": int(params["chat_id"]), "type": "private"},
                        "document": {"file_id": f"doc{mid}", "file_unique_id": f"u{mid}"}})
        if method == "sendMessage":
            with self.lock:
                self._message_id += 1
                mid = self._message_id
            result = {"message_id": mid, "date": int(time.time()),
                      "chat": {"id": int(params["chat_id"]), "type": "private"}, "text": params.get("text", "")}
            return _ok(result)
        return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404)


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a fake service on 127.0.0.1")
    parser.add_argument("service", choices=["rasa"])
    parser.add_argument("--port", type=int, default=5999)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    uvicorn.run(FakeRasa(delay_s=args.delay).app, host="127.0.0.1", port=args.port, ws="none", log_level="warning")


if __name__ == "__main__":
    main()
