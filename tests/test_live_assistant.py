"""End to end through the real Rasa server and the real action server."""
import time

import yaml

from miyun import settings
from miyun.knowledge import publish
from miyun.referrals.sqlite import RuntimeStore


def _text(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def test_station_question_in_traditional_characters(stack):
    replies = stack.say("live-1", "古北口鎮的法律服務站在哪")
    assert "古北口镇公共法律服务站" in _text(replies)


def test_short_form_town_after_listing(stack):
    first = _text(stack.say("live-2", "附近有没有能免费问律师的地方"))
    assert "20个镇街" in first
    assert "穆家峪镇公共法律服务站" in _text(stack.say("live-2", "穆家峪"))


def test_traditional_and_simplified_are_understood_alike(stack):
    a = _text(stack.say("live-3a", "说法评理是什么"))
    b = _text(stack.say("live-3b", "說法評理是什麼"))
    assert a == b and "说法评理" in a


def test_emergency_comes_first(stack):
    replies = stack.say("live-4", "我老公拿着刀要砍我")
    assert "110" in replies[0]["text"] and "120" in replies[0]["text"]
    assert "12338" in _text(replies)


def test_legal_question_answered_from_an_article(stack):
    replies = stack.say("live-5", "老板拖欠工资不给怎么办")
    text = _text(replies)
    assert "法律依据" in text and "劳动" in text
    assert any(b["payload"].startswith("/show_article") for r in replies for b in r.get("buttons") or [])


def test_article_button_payload_shows_the_full_text(stack):
    replies = stack.say("live-6", "老板拖欠工资不给怎么办")
    payload = next(b["payload"] for r in replies for b in r.get("buttons") or [] if b["payload"].startswith("/show_article"))
    full = _text(stack.say("live-6", payload))
    assert "来源：" in full


def test_out_of_scope_is_honest(stack):
    text = _text(stack.say("live-7", "明天密云会下雨吗"))
    assert "12348" in text


def test_unanswered_question_is_logged(stack):
    stack.say("live-8", "我家的祖传字画被博物馆借走展览不还了，能要回来吗")
    rows = RuntimeStore(stack.var / "runtime.db").unanswered()
    assert rows, "a real fallback must be logged"


def test_publish_reaches_the_running_assistant_within_2_seconds(stack, monkeypatch):
    """Edit an aspect, publish it, ask again through Rasa: the new text, no restart, no retraining."""
    monkeypatch.setenv("MIYUN_CONTENT_DIR", str(stack.content_dir))
    monkeypatch.setenv("MIYUN_VAR_DIR", str(stack.var))
    cfg = settings.load()
    path = stack.content_dir / "services.yml"
    original = path.read_text(encoding="utf-8")
    data = yaml.safe_load(original)
    entry = next(s for s in data["services"] if s["id"] == "petition")
    marker = "【测试更新标记】"
    entry["aspects"]["how"]["text"] = marker + entry["aspects"]["how"]["text"]  # the fact this question gets first
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    try:
        assert publish.publish(cfg, "pytest", "live reload test").changed
        published_at = time.monotonic()
        while marker not in _text(stack.say("live-9", "我想去信访应该怎么走程序")):
            assert time.monotonic() - published_at < 2.0, "published answer not live within 2 s"
            time.sleep(0.1)
        assert publish.rollback(cfg, "pytest").changed
        assert marker not in _text(stack.say("live-9", "我想去信访应该怎么走程序"))
    finally:
        path.write_text(original, encoding="utf-8")
