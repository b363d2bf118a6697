"""Unit tests: input hygiene, rate limit, renderer, settings, menu, Rasa client, log hashing."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot import inputs, render
from bot.core import Conversation
from bot.logging_setup import hash_sender, set_salt
from bot.rasa_client import EMPTY_ANSWER_TEXT, FALLBACK_TEXT, RasaClient
from bot.ratelimit import RATE_LIMITED_TEXT, RateLimiter
from bot.wechat import ChoiceMemory
from bot.wechat_menu import MenuError, load_menu
from miyun.settings import GatewaySettings, load_gateway

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ inputs

def test_strip_controls_and_format_chars():
    assert inputs.strip_controls("你\x00好\x1b[31m\u200b\u202e吗\n？") == "你好[31m吗 ？"
    assert inputs.strip_controls("a\t\tb") == "a b"


def test_clean_empty_and_whitespace():
    for raw in ("", "   ", "\n\t", "\x00\x01", "\u200b", None, 123 and ""):
        c = inputs.clean(raw, 500)
        assert c.empty and c.note == inputs.EMPTY_PROMPT and "12348" in c.note


def test_clean_truncates_with_note():
    c = inputs.clean("法" * 600, 500)
    assert c.truncated and len(c.text) == 500 and "500" in c.note
    assert not inputs.clean("法" * 500, 500).truncated


def test_payload_detection():
    assert inputs.is_payload("/ask_hotline")
    assert inputs.is_payload('/share_location{"latitude": 40.37, "longitude": 116.84}')
    assert not inputs.is_payload("/ask hotline")
    assert not inputs.is_payload("/x{not json}")
    assert not inputs.is_payload("/x[1]")
    assert not inputs.is_payload("ask_hotline")


def test_digit_choice_ascii_and_fullwidth():
    assert inputs.digit_choice("1") == 1
    assert inputs.digit_choice("１") == 1
    assert inputs.digit_choice(" ２ ") == 2
    assert inputs.digit_choice("12") == 12
    assert inputs.digit_choice("1个") is None
    assert inputs.digit_choice("一") is None
    assert inputs.digit_choice("") is None


def test_location_payload():
    p = inputs.location_payload("40.37", "116.84")
    assert p == '/share_location{"latitude": 40.37, "longitude": 116.84}'
    assert inputs.is_payload(p)
    assert inputs.location_payload("400", "1") is None
    assert inputs.location_payload("abc", "1") is None
    assert inputs.location_payload("nan", "1") is None


# ------------------------------------------------------------------ rate limit

def test_rate_limit_window():
    now = [0.0]
    rl = RateLimiter(20, clock=lambda: now[0])
    assert all(rl.allow("wx:a") for _ in range(20))
    assert not rl.allow("wx:a")
    assert rl.allow("wx:b")                     # per sender
    now[0] = 59.9
    assert not rl.allow("wx:a")
    now[0] = 60.0
    assert rl.allow("wx:a")
    assert "12348" in RATE_LIMITED_TEXT and "频繁" in RATE_LIMITED_TEXT


def test_rate_limit_memory_bounded():
    rl = RateLimiter(1, max_senders=100)
    for i in range(1000):
        rl.allow(f"web:{i}")
    assert len(rl._hits) == 100


class _FakeRasa:
    def __init__(self):
        self.calls = []

    async def send(self, sender, message, timeout_s=None):
        from bot.rasa_client import RasaReply
        self.calls.append((sender, message))
        return RasaReply(messages=[{"text": "ok"}])


async def test_conversation_rate_limit_and_inputs():
    rasa = _FakeRasa()
    conv = Conversation(rasa, RateLimiter(3), 10)
    t = await conv.text("web:s", "  ")
    assert t.kind == "empty_input" and not rasa.calls
    t = await conv.text("web:s", "一二三四五六七八九十十一")
    assert t.note and rasa.calls[-1] == ("web:s", "一二三四五六七八九十")
    t = await conv.text("web:s", "/ask_hotline")
    assert rasa.calls[-1][1] == "/ask_hotline"
    t = await conv.text("web:s", "/not a payload")
    assert t.kind == "rate_limited" and t.messages[0]["text"] == RATE_LIMITED_TEXT
    t = await conv.text("web:other", "/你好 世界")
    assert rasa.calls[-1][1] == "你好 世界"          # free text is never read as a payload


# ------------------------------------------------------------------ renderer

MSGS = [{"recipient_id": "x", "text": "古北口镇服务站在镇政府。",
         "buttons": [{"title": "办公时间", "payload": "/hours"}, {"title": "12348热线", "payload": "/ask_hotline"}]},
        {"recipient_id": "x", "text": "还有问题吗？", "buttons": [{"title": "没有了", "payload": "/goodbye"}]},
        {"recipient_id": "x", "image": "https://example.org/a.png"},
        {"recipient_id": "x", "image": "javascript:alert(1)"},
        {"recipient_id": "x", "custom": {"text": "自定义文本"}}]


def test_render_wechat_numbered_lines():
    out = render.render_wechat(MSGS)
    assert out.choices == ["/hours", "/ask_hotline", "/goodbye"]
    text = out.parts[0]
    assert "1. 办公时间\n2. 12348热线" in text and "3. 没有了" in text
    assert render.WECHAT_CHOICE_HINT in text and "图片：https://example.org/a.png" in text
    assert "javascript" not in text and "自定义文本" in text


def test_render_telegram_and_web():
    tg = render.render_telegram(MSGS, note="（注）")
    assert tg[0].text == "（注）"
    assert [b.payload for b in tg[1].buttons] == ["/hours", "/ask_hotline"]
    web = render.render_web(MSGS)
    assert web[0]["buttons"][0] == {"title": "办公时间", "payload": "/hours"}
    assert web[2] == {"image": "https://example.org/a.png"}
    assert len(web) == 4                          # the javascript: image is dropped entirely


def test_split_wechat_2048_bytes():
    text = ("劳动合同法规定，" * 30 + "\n") * 20 + "A" * 3000 + "😀" * 700
    out = render.render_wechat([{"text": text}])
    assert len(out.parts) > 2
    assert all(render.utf8_len(p) <= 2048 for p in out.parts)
    assert "".join(out.parts).replace("\n", "") == text.replace("\n", "")


def test_split_telegram_4096():
    text = "条" * 9000
    out = render.render_telegram([{"text": text, "buttons": [{"title": "好", "payload": "/ok"}]}])
    assert [len(o.text) for o in out] == [4096, 4096, 808]
    assert not out[0].buttons and out[-1].buttons
    emoji = render.render_telegram([{"text": "😀" * 3000}])
    assert all(render.utf16_len(o.text) <= 4096 for o in emoji)


# ------------------------------------------------------------------ choices memory

def test_choice_memory_expires(monkeypatch):
    import bot.wechat as wx
    now = [1000.0]
    monkeypatch.setattr(wx.time, "monotonic", lambda: now[0])
    mem = ChoiceMemory()
    mem.remember("o1", ["/a", "/b"])
    assert mem.get("o1", 2) == "/b" and mem.get("o1", 3) is None and mem.get("o2", 1) is None
    now[0] += 599
    assert mem.get("o1", 1) == "/a"
    now[0] += 2
    assert mem.get("o1", 1) is None


# ------------------------------------------------------------------ settings

def test_gateway_settings_from_env(monkeypatch):
    for k in ("WECHAT_TOKEN", "TELEGRAM_BOT_TOKEN", "WECHAT_AES_KEY", "TELEGRAM_MODE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("MIYUN_GATEWAY_PORT", "9090")
    monkeypatch.setenv("MIYUN_RASA_URL", "http://127.0.0.1:5999/")
    monkeypatch.setenv("WECHAT_PASSIVE_DEADLINE_S", "4")
    s = load_gateway()
    assert s.port == 9090 and s.rasa_url == "http://127.0.0.1:5999" and s.wechat_passive_deadline_s == 4.0
    assert s.rate_limit_per_min == 20 and s.max_input_chars == 500 and s.host == "127.0.0.1"
    assert not s.wechat_enabled and not s.telegram_enabled
    monkeypatch.setenv("WECHAT_TOKEN", "tok")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:secret")
    s = load_gateway()
    assert s.wechat_enabled and s.telegram_enabled and "secret" not in repr(s) and "tok" not in repr(s)
    monkeypatch.setenv("TELEGRAM_MODE", "webhook")
    with pytest.raises(ValueError):
        load_gateway()                           # webhook mode needs TELEGRAM_WEBHOOK_SECRET
    monkeypatch.setenv("MIYUN_GATEWAY_PORT", "eighty")
    with pytest.raises(ValueError):
        load_gateway()


def test_env_example_documents_every_gateway_setting():
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in ("MIYUN_GATEWAY_HOST", "MIYUN_GATEWAY_PORT", "MIYUN_RASA_URL", "MIYUN_RASA_TIMEOUT_S",
                 "MIYUN_RATE_LIMIT_PER_MIN", "MIYUN_MAX_INPUT_CHARS", "WECHAT_TOKEN", "WECHAT_APP_ID",
                 "WECHAT_APP_SECRET", "WECHAT_AES_KEY", "WECHAT_API_BASE", "WECHAT_PASSIVE_DEADLINE_S",
                 "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_BASE", "TELEGRAM_MODE",
                 "MIYUN_LOG_SALT", "MIYUN_RASA_MAX_CONCURRENCY", "MIYUN_LOG_LEVEL", "TELEGRAM_WEBHOOK_URL"):
        assert f"{name}=" in text, name


# ------------------------------------------------------------------ menu

def test_menu_file_and_command():
    menu, keys = load_menu()
    assert len(menu["button"]) <= 3
    assert all(len(b.get("sub_button", [])) <= 5 for b in menu["button"])
    assert keys["MENU_HOTLINE"] == "/ask_hotline"
    assert "payload" not in json.dumps(menu)
    out = subprocess.run([sys.executable, "-m", "bot.wechat_menu"], cwd=ROOT, capture_output=True, text=True,
                         timeout=30, check=True)
    assert json.loads(out.stdout) == menu
    assert "找服务站" in out.stdout                # UTF-8, not \\u escapes


def test_menu_rejects_bad_file(tmp_path):
    bad = tmp_path / "m.yml"
    bad.write_text("button:\n  - {type: click, name: 一二三四五六七八九, key: K, payload: /x}\n", encoding="utf-8")
    with pytest.raises(MenuError):
        load_menu(bad)                         # top-level name over 16 bytes
    bad.write_text("button:\n  - {type: click, name: 好, key: K, payload: not-a-payload}\n", encoding="utf-8")
    with pytest.raises(MenuError):
        load_menu(bad)


# ------------------------------------------------------------------ Rasa client

async def test_rasa_client_fallbacks(dead_rasa_url, slow_rasa_url, fake_rasa_url, fake_rasa):
    import time
    dead = RasaClient(dead_rasa_url, 1.0)
    r = await dead.send("web:x", "你好")
    assert not r.ok and r.messages[0]["text"] == FALLBACK_TEXT
    slow = RasaClient(slow_rasa_url, 0.5)
    t0 = time.perf_counter()
    r = await slow.send("web:x", "你好")
    assert not r.ok and r.error == "timeout" and time.perf_counter() - t0 < 1.5
    ok = RasaClient(fake_rasa_url, 2.0)
    r = await ok.send("web:x", "无回答")
    assert r.ok and r.messages[0]["text"] == EMPTY_ANSWER_TEXT
    r = await ok.send("web:x", "古北口")
    assert r.ok and r.messages[0]["buttons"][1]["payload"] == "/ask_hotline"
    assert await ok.healthy() and not await dead.healthy()
    for c in (dead, slow, ok):
        await c.aclose()


def test_hash_sender_hides_id():
    set_salt("s1")
    h = hash_sender("wx:oyORnuP8q7ou2gfYjqLzSIWZf0rs")
    assert h.startswith("wx:") and "oyORnu" not in h and h == hash_sender("wx:oyORnuP8q7ou2gfYjqLzSIWZf0rs")
    set_salt("s2")
    assert hash_sender("wx:oyORnuP8q7ou2gfYjqLzSIWZf0rs") != h


def test_settings_dataclass_is_frozen():
    s = GatewaySettings(wechat_token="", telegram_bot_token="")
    with pytest.raises(Exception):
        s.port = 1  # type: ignore[misc]
