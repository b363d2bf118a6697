"""Issue 15 through the real Rasa and action servers: what Rasa's tracker store keeps of a referral.

The stack's Rasa uses endpoints.yml, so its SQLite tracker store is `miyun.privacy.tracker_store`; these
tests read that database directly, as an attacker with the file (or a backup) would.
"""
from __future__ import annotations

import json
import re
import sqlite3

from tests.test_live_flows import _referral_happy_path, _text

PHONE = "13912345678"


def _events(stack, sender: str) -> tuple[str, list[dict]]:
    conn = sqlite3.connect(stack.var / "trackers.db")
    try:
        rows = conn.execute("select data from events where sender_id = ? order by id", (sender,)).fetchall()
    finally:
        conn.close()
    raw = "\n".join(r[0] for r in rows)
    return raw, [json.loads(r[0]) for r in rows]


def _decoded(events: list[dict]) -> str:
    return json.dumps(events, ensure_ascii=False)


# Random machine identifiers (uuid4 hex) can hold any four digits; they are not what the resident said.
_MACHINE_IDS = frozenset({"message_id", "model_id", "assistant_id"})


def _strings(value) -> str:
    """Every string in the events bar machine ids, joined: digits in confidences or uuids must not pass for a phone tail."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(_strings(k) + "\n" + _strings(v) for k, v in value.items() if k not in _MACHINE_IDS)
    if isinstance(value, list):
        return "\n".join(_strings(v) for v in value)
    return ""


def _user_intents(events: list[dict]) -> list[str]:
    return [e["parse_data"]["intent"]["name"] for e in events if e["event"] == "user"]


def test_the_trackers_database_holds_no_phone_number_after_a_referral(stack):
    ref, _ = _referral_happy_path(stack, "priv-1")
    raw, events = _events(stack, "priv-1")
    assert len(_user_intents(events)) >= 9           # the conversation is stored (not an in-memory fallback) …
    assert "request_mediation" in _user_intents(events)  # … and its intents still count on the dashboard
    text = _decoded(events)
    assert PHONE not in raw and PHONE not in text
    for personal in ("5678", "河西村", "姓王", "宅基地吵架", "工作日下午"):
        assert personal not in _strings(events), personal
    assert ref in text                                 # the reference the resident was given is not personal
    # Rasa carries on with the same conversation …
    assert "12348" in _text(stack.say("priv-1", "12348是免费的吗"))
    # … and the status check works for the resident, then is blanked as well
    assert "后4位" in _text(stack.say("priv-1b", f"查询调解进度 {ref}"))
    assert "已受理" in _text(stack.say("priv-1b", "5678"))
    _, checked = _events(stack, "priv-1b")
    assert "5678" not in _strings(checked) and ref not in json.dumps([e.get("text") for e in checked if e["event"] == "user"])
    assert "后4位" in _text(stack.say("priv-1b", ref.lower()))   # a new check starts from a clean form
    assert "已受理" in _text(stack.say("priv-1b", "5678"))


def test_a_declined_form_leaves_nothing_it_was_told(stack):
    first = _text(stack.say("priv-2", "我和邻居在古北口因为宅基地吵架了，想找人调解"))
    assert "同意" in first
    assert "12348" in _text(stack.say("priv-2", "不同意"))
    raw, events = _events(stack, "priv-2")
    assert events and "宅基地吵架" not in _decoded(events) and "古北口因为" not in _decoded(events)
    assert "12348" in _text(stack.say("priv-2", "12348是干什么的"))


def test_a_cancelled_form_saves_nothing_anywhere(stack):
    stack.say("priv-3", "我要申请调解")
    stack.say("priv-3", "同意")
    stack.say("priv-3", "邻里")
    stack.say("priv-3", "古北口")
    assert "发生了什么" in _text(stack.say("priv-3", "河西村东头"))
    reply = _text(stack.say("priv-3", "算了不办了"))
    assert "没有保存任何信息" in reply
    raw, events = _events(stack, "priv-3")
    assert events and "河西村东头" not in _decoded(events)
    assert re.search("同意", _text(stack.say("priv-3", "我要申请调解")))  # a new form starts normally


def test_the_postgresql_trackers_hold_no_phone_number_after_a_referral(stack, pg_dsn, tmp_path):
    """The cluster's dialect: a second Rasa on the throwaway PostgreSQL, same model and action server."""
    import urllib.parse

    import psycopg

    from scripts import servers
    from tests.conftest import Stack

    dsn = urllib.parse.urlparse(pg_dsn)
    port = servers.free_port()
    rasa = servers.start_rasa(port, stack.action_port, log=tmp_path / "rasa-pg.log", MIYUN_VAR_DIR=str(stack.var),
                              MIYUN_CONTENT_DIR=str(stack.content_dir), MIYUN_TRACKER_DIALECT="postgresql",
                              MIYUN_TRACKER_HOST=f"{dsn.hostname}:{dsn.port}", MIYUN_TRACKER_DB=dsn.path.lstrip("/"),
                              MIYUN_TRACKER_USER=dsn.username, MIYUN_TRACKER_PASSWORD=dsn.password)
    try:
        rasa.wait_ready(240)
        pg = Stack.__new__(Stack)           # only its say() against this Rasa
        pg.rasa = rasa
        ref, _ = _referral_happy_path(pg, "pg-priv-1")
        with psycopg.connect(pg_dsn) as conn:
            rows = [r[0] for r in conn.execute("select data from events where sender_id = %s order by id", ("pg-priv-1",))]
        events = [json.loads(r) for r in rows]
        assert len(_user_intents(events)) >= 9
        for personal in (PHONE, "河西村", "姓王", "宅基地吵架"):
            assert personal not in "\n".join(rows) and personal not in _decoded(events), personal
        assert "12348" in _text(pg.say("pg-priv-1", "12348是免费的吗"))
    finally:
        rasa.stop()
