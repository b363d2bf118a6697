"""`python -m bot` starts the gateway from environment settings (all channels on, against fakes)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import TG_TOKEN, WX_TOKEN
from helpers import parse_reply, signed_query, text_xml

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_python_m_bot_serves_all_channels(fake_rasa_url, fake_rasa, telegram_server, telegram_api):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIYUN_", "WECHAT_", "TELEGRAM_"))}
    env.update(NO_PROXY="127.0.0.1,localhost", MIYUN_GATEWAY_PORT=str(port), MIYUN_RASA_URL=fake_rasa_url,
               MIYUN_LOG_SALT="salt", WECHAT_TOKEN=WX_TOKEN, TELEGRAM_BOT_TOKEN=TG_TOKEN,
               TELEGRAM_API_BASE=telegram_server[1].url + "/bot", TELEGRAM_MODE="polling")
    proc = subprocess.Popen([sys.executable, "-m", "bot"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, trust_env=False, timeout=10) as c:
            for _ in range(300):
                try:
                    health = c.get("/healthz").json()
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            else:
                raise AssertionError("gateway did not start")
            assert health == {"status": "ok", "rasa": True,
                              "channels": {"web": True, "wechat": True, "telegram": True}}
            r = c.post("/api/chat", json={"message": "机密问题"})
            assert r.json()["messages"][0]["text"] == "您说的是：机密问题"
            r = c.post("/wechat", params=signed_query(WX_TOKEN), content=text_xml("oMainUser", "你好").encode())
            assert parse_reply(r.text)["Content"] == "您说的是：你好"
        for _ in range(200):
            if telegram_api.calls("getUpdates"):
                break
            time.sleep(0.05)
        assert telegram_api.calls("getMe") and telegram_api.calls("getUpdates")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert "gateway_started web=on wechat=on telegram=polling" in out
    for secret in ("机密问题", "oMainUser", TG_TOKEN):
        assert secret not in out
