"""The deadline action, run as the action server runs it: a Tracker in, messages and slot events out."""
import json

import pytest
from rasa_sdk.events import SlotSet

from actions import context
from actions.deadline import UNAVAILABLE, ActionDeadlineDate
from miyun.deadlines.answer import ESTIMATE, LUNAR_TEXT
from tests.helpers import buttons, run, texts, tracker


@pytest.fixture()
def today(monkeypatch, published):
    def set_today(iso: str) -> None:
        monkeypatch.setenv("MIYUN_TODAY", iso)
        context.settings.cache_clear()
    set_today("2026-10-01")
    return set_today


def ask(text, slots=None, entities=None):
    return run(ActionDeadlineDate(), tracker(text, "ask_deadline_date", entities=entities, slots=slots))


def test_the_issue_question_gets_the_date_rule_basis_and_estimate(today):
    dispatcher, events = ask("我是9月10号收到罚款决定书的，复议最晚哪天？")
    [text] = texts(dispatcher)
    assert text.startswith("按您说的9月10日收到决定书推算，申请行政复议的最后一天是2026年11月9日（星期一）。")
    assert "按今年（2026年）算" in text and "60日" in text
    assert "法律依据：《中华人民共和国行政复议法》第二十条" in text
    assert text.endswith(ESTIMATE) and "估算" in text
    assert events == [SlotSet("deadline_kind", "reconsideration")]
    assert [b["title"] for b in buttons(dispatcher)] == ["有帮助", "没帮助"]


def test_a_passed_deadline_is_said(today):
    today("2026-12-01")
    [text] = texts(ask("我是9月10号收到罚款决定书的，复议最晚哪天？")[0])
    assert "期限已过" in text and "12348" in text


def test_traditional_characters(today):
    [text] = texts(ask("判決書是9月25號送達的，上訴最晚哪天")[0])
    # 15 days: 10-10 is a 调休 working Saturday, so no moving
    assert "对判决提起上诉的最后一天是2026年10月10日（星期六）" in text and "调休上班日" in text


def test_kind_without_date_gives_the_rule_and_asks_for_the_date(today):
    dispatcher, events = ask("事故认定复核最晚哪天")
    [text] = texts(dispatcher)
    assert "3个工作日" in text and "第七十一条" in text and "告诉我具体日期" in text
    assert events == [SlotSet("deadline_kind", "accident_review")]


def test_the_date_in_the_next_message_completes_the_question(today):
    dispatcher, _ = ask("9月30号", slots={"deadline_kind": "accident_review"})
    [text] = texts(dispatcher)
    # working days after 9-30: 10-08, 10-09, 10-10 (调休 Saturday)
    assert "提出书面复核申请的最后一天是2026年10月10日（星期六）" in text and ESTIMATE in text


def test_date_without_kind_offers_buttons_that_keep_the_date(today):
    dispatcher, events = ask("我9月10号收到的，最晚哪天")
    assert events == [] and "哪一种期限" in texts(dispatcher)[0]
    offered = buttons(dispatcher)
    assert len(offered) >= 5 and offered[0]["title"] == "申请行政复议"
    payload = offered[0]["payload"]
    assert payload.startswith("/ask_deadline_date{")
    entities = json.loads(payload[len("/ask_deadline_date"):])
    assert entities == {"deadline_kind": "reconsideration", "deadline_start": "2026-09-10"}
    # pressing it
    dispatcher, events = ask(payload, entities=[{"entity": k, "value": v} for k, v in entities.items()])
    assert "2026年11月9日（星期一）" in texts(dispatcher)[0]
    assert events == [SlotSet("deadline_kind", "reconsideration")]


def test_lunar_dates_are_asked_again(today):
    dispatcher, events = ask("我是九月初十收到的，复议最晚哪天")
    assert texts(dispatcher) == [LUNAR_TEXT] and events == [SlotSet("deadline_kind", "reconsideration")]


def test_impossible_date(today):
    assert "没有2月30日这一天" in texts(ask("2月30号收到判决书，上诉最晚哪天")[0])[0]


def test_year_beyond_the_calendar_data_is_said(today):
    [text] = texts(ask("2026年8月31日收到征收决定，起诉政府最晚哪天")[0])
    assert "2027年3月1日（星期一）" in text and "2027年的法定节假日安排不在日历数据里" in text
    assert "2027年2月28日" in text     # the calendar date, then the weekend rule


def test_disclosure_reply_gives_the_extended_date_too(today):
    [text] = texts(ask("我9月28号交的信息公开申请，最晚哪天答复")[0])
    assert "行政机关应当答复的最后一天是2026年10月30日（星期五）" in text
    assert "延长后最晚是" in text and "第三十三条" in text


def test_no_published_table(isolated):
    dispatcher, events = run(ActionDeadlineDate(), tracker("复议最晚哪天", "ask_deadline_date"))
    assert texts(dispatcher) == [UNAVAILABLE] and events == []


def test_when_the_extension_is_asked_the_extended_day_leads(today):
    [text] = texts(ask("信息公开申请9月28日被收到，如果他们延期，最晚哪天答复")[0])
    first = text.splitlines()[0]
    assert "延长后行政机关应当答复的最后一天是" in first
    assert "不延长的话，最后一天是2026年10月30日（星期五）" in text
