"""Stop the real Rasa server under a running gateway: residents still get 12348, then normal answers again."""
from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import WX_TOKEN, wechat_overrides
from helpers import parse_reply, signed_query, text_xml

from bot.rasa_client import FALLBACK_TEXT
from scripts import servers

QUESTION = "古北口镇的法律服务站在哪"


async def _ask_web(gw) -> list:
    async with gw.client() as c:
        return (await c.post("/api/chat", json={"message": QUESTION})).json()["messages"]


async def _ask_wechat(gw, openid: str) -> str:
    async with gw.client() as c:
        r = await c.post("/wechat", params=signed_query(WX_TOKEN), content=text_xml(openid, QUESTION).encode())
        return parse_reply(r.text)["Content"]


async def test_stopping_and_restarting_the_real_rasa_server(make_gateway, tmp_path: Path, session_var: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MIYUN_RASA_TOKEN", raising=False)
    var = tmp_path / "var"
    var.mkdir()
    (var / "content.db").write_bytes((session_var / "content.db").read_bytes())
    env = {"MIYUN_VAR_DIR": str(var)}
    action_port, rasa_port = servers.free_port(), servers.free_port()
    actions = servers.start_actions(action_port, tmp_path / "actions.log", **env)
    rasa = servers.start_rasa(rasa_port, action_port, log=tmp_path / "rasa.log", **env)
    try:
        actions.wait_ready(60)
        rasa.wait_ready(120)
        # As `make run` starts it (no MIYUN_RASA_TOKEN): the HTTP API is off, only the REST channel answers.
        for path in ("/conversations/wx:oStopped/tracker", "/status", "/model/parse"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(rasa.url + path, timeout=10)
            assert refused.value.code == 404, path
        # 10 s: on a loaded machine the first answers after a cold start can take over 2 s.
        gw = make_gateway(rasa.url, rasa_timeout_s=10.0, **wechat_overrides(None))
        up = await _ask_web(gw)
        assert "古北口镇公共法律服务站" in up[0]["text"]

        rasa.stop()  # SIGTERM to the real server, as an operator or a crash would
        t0 = time.perf_counter()
        down = await _ask_web(gw)
        assert down == [{"text": FALLBACK_TEXT}] and time.perf_counter() - t0 < 3.0
        assert "12348" in FALLBACK_TEXT
        assert await _ask_wechat(gw, "oStopped") == FALLBACK_TEXT

        rasa = servers.start_rasa(rasa_port, action_port, log=tmp_path / "rasa2.log", **env)
        rasa.wait_ready(120)
        await asyncio.sleep(0.2)
        again = await _ask_web(gw)
        assert "古北口镇公共法律服务站" in again[0]["text"]
    finally:
        rasa.stop()
        actions.stop()
