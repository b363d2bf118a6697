"""Flow actions with a Tracker and a CollectingDispatcher: assert on messages and events."""
import asyncio

import pytest
from rasa_sdk.events import SlotSet

from actions.feedback import ActionFeedback, ActionFeedbackComment, ValidateFeedbackForm
from actions.legal_aid import MATTERS, ActionAskAidMatter, ActionLegalAidResult, ValidateLegalAidForm, assess
from actions.referral import (
    ActionAskConfirm, ActionAskConsent, ActionStartReferral, ActionSubmitReferral,
    ValidateMediationForm, prefill,
)
from actions.services import ActionAnswerService, station_hours_line
from actions.status import ATTEMPTS_PER_HOUR, ActionCheckStatus, ActionStartStatus, ValidateStatusForm
from miyun.referrals.rules import public_reference
from miyun.referrals.sqlite import RuntimeStore
from tests.helpers import buttons, run, texts, tracker

FILLED = {
    "referral_kind": "mediation", "referral_key": "k-1", "consent": True, "dispute_type": "邻里", "town": "古北口镇",
    "village": "河西村", "description": "邻居盖房占了我家的地", "involvement": "none", "name": "王",
    "phone": "13912345678", "contact_time": "工作日下午", "confirm": "yes",
}


def slots(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_start_prefills_from_the_first_message(published):
    t = tracker("我和邻居在古北口因为宅基地吵架了", "request_mediation", [{"entity": "town", "value": "古北口镇"}])
    _, events = run(ActionStartReferral(), t)
    got = slots(events)
    assert got["dispute_type"] == "土地宅基地" and got["town"] == "古北口镇"
    assert got["description"] == "我和邻居在古北口因为宅基地吵架了"
    assert got["referral_kind"] == "mediation" and len(got["referral_key"]) == 32


def test_a_bare_request_prefills_nothing():
    assert prefill("我要调解", None, {"dispute_types": []}) == {}


def test_consent_text_comes_from_content(published):
    dispatcher, _ = run(ActionAskConsent(), tracker("我要调解", "request_mediation"))
    assert "同意" in texts(dispatcher)[0] and "保存" in texts(dispatcher)[0]
    assert [b["payload"] for b in buttons(dispatcher)] == ["/affirm", "/deny"]


def test_a_request_that_also_asks_where_gets_that_fact_before_the_consent(published):
    dispatcher, _ = run(ActionAskConsent(), tracker("邻居吵架想调解，上哪找调解委员会", "request_mediation"))
    said = texts(dispatcher)
    assert len(said) == 2 and said[0].startswith("【怎样申请调解 · 去哪办】") and "人民调解委员会" in said[0]
    assert "同意" in said[1] and len("".join("".join(said).split())) <= 400
    dispatcher, _ = run(ActionAskConsent(), tracker("我想申请调解，怎么申请", "request_mediation"))
    assert len(texts(dispatcher)) == 1                     # how to apply is the form itself


def test_summary_masks_the_phone(published):
    dispatcher, _ = run(ActionAskConfirm(), tracker("", "inform", slots=FILLED))
    text = texts(dispatcher)[0]
    assert "139****5678" in text and "13912345678" not in text and "古北口镇" in text


def _validate(action, slot, value, intent="inform", slots_=None):
    t = tracker(str(value), intent, slots=slots_ or {})
    dispatcher = __import__("rasa_sdk.executor", fromlist=["CollectingDispatcher"]).CollectingDispatcher()
    result = getattr(action, f"validate_{slot}")(value, dispatcher, t, {})
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    return result, texts(dispatcher)


def test_bad_phone_is_reasked_with_an_example(published):
    result, said = _validate(ValidateMediationForm(), "phone", "123")
    assert result == {"phone": None} and "13912345678" in said[0]


def test_good_phone_is_kept(published):
    assert _validate(ValidateMediationForm(), "phone", "139 1234 5678")[0] == {"phone": "13912345678"}


def test_correcting_one_field_clears_it(published):
    result, _ = _validate(ValidateMediationForm(), "confirm", "改一下电话", slots_=FILLED)
    assert result == {"confirm": None, "phone": None}


def test_confirming(published):
    assert _validate(ValidateMediationForm(), "confirm", "确认提交", slots_=FILLED)[0] == {"confirm": "yes"}


def test_unknown_town_is_reasked(published):
    result, said = _validate(ValidateMediationForm(), "town", "海淀")
    assert result == {"town": None} and "古北口镇" in said[0]


def test_submit_saves_once_and_routes(published):
    t = tracker("确认提交", "affirm", slots=FILLED, sender="wx:resident")
    dispatcher, events = run(ActionSubmitReferral(), t)
    text = texts(dispatcher)[0]
    assert "MY-" in text and "古北口镇说法评理平台" in text and "查询进度" in text
    assert all(e["value"] is None for e in events if e["event"] == "slot")
    again, _ = run(ActionSubmitReferral(), t)  # a resent confirmation
    rows = RuntimeStore(published.runtime_db).referrals()
    assert len(rows) == 1
    assert rows[0]["ref"] in texts(again)[0]
    assert rows[0]["status"] == "received" and rows[0]["level"] == "town" and rows[0]["sender_hash"] != "wx:resident"


def test_declined_consent_saves_nothing(published):
    t = tracker("不同意", "deny", slots={**FILLED, "consent": False})
    dispatcher, _ = run(ActionSubmitReferral(), t)
    assert "12348" in texts(dispatcher)[0]
    assert RuntimeStore(published.runtime_db).referrals() == []


def _submit(published, phone="13912345678", key="k-status"):
    t = tracker("确认提交", "affirm", slots={**FILLED, "referral_key": key, "phone": phone})
    run(ActionSubmitReferral(), t)
    return public_reference(RuntimeStore(published.runtime_db).referrals()[-1])  # what the resident is told


def test_status_shows_public_status_on_a_match(published):
    ref = _submit(published)
    dispatcher, _ = run(ActionCheckStatus(), tracker("5678", "inform", slots={"status_ref": ref, "status_tail": "5678"}, sender="s1"))
    assert ref in texts(dispatcher)[0] and "已受理" in texts(dispatcher)[0]


def test_status_mismatch_says_nothing_about_existence(published):
    ref = _submit(published)
    wrong_tail, _ = run(ActionCheckStatus(), tracker("", "inform", slots={"status_ref": ref, "status_tail": "0000"}, sender="s2"))
    no_such, _ = run(ActionCheckStatus(), tracker("", "inform", slots={"status_ref": "MY-2026-999999", "status_tail": "5678"}, sender="s2"))
    assert texts(wrong_tail) == texts(no_such)
    assert ref not in texts(wrong_tail)[0]


def test_status_is_rate_limited_per_sender(published):
    ref = _submit(published)
    for _ in range(ATTEMPTS_PER_HOUR):
        run(ActionCheckStatus(), tracker("", "inform", slots={"status_ref": ref, "status_tail": "0000"}, sender="guesser"))
    blocked, _ = run(ActionCheckStatus(), tracker("", "inform", slots={"status_ref": ref, "status_tail": "5678"}, sender="guesser"))
    assert "一小时后" in texts(blocked)[0] and ref not in texts(blocked)[0]
    required = asyncio.run(ValidateStatusForm().required_slots(["status_ref", "status_tail"], None, tracker("", "check_referral_status", sender="guesser"), {}))
    assert required == []
    other, _ = run(ActionCheckStatus(), tracker("", "inform", slots={"status_ref": ref, "status_tail": "5678"}, sender="someone-else"))
    assert "已受理" in texts(other)[0]


def test_status_start_keeps_a_reference_in_the_first_message(published):
    _, events = run(ActionStartStatus(), tracker("帮我查一下 MY-2026-000042", "check_referral_status"))
    assert slots(events)["status_ref"] == "MY-2026-000042"


@pytest.mark.parametrize(
    "matter, exemption, hardship, expected",
    [
        ("家暴虐待遗弃", "no", "no", "likely"),
        ("讨要工资工伤赔偿", "no", "yes", "likely"),
        ("讨要工资工伤赔偿", "yes", "no", "likely"),
        ("其他事项", "no", "yes", "possibly"),
        ("讨要工资工伤赔偿", "no", "unsure", "possibly"),
        ("人身损害赔偿", "no", "no", "unlikely"),
    ],
)
def test_legal_aid_assessment(matter, exemption, hardship, expected):
    assert assess(matter, exemption, hardship) == expected


def test_legal_aid_result_is_never_a_decision(published):
    t = tracker("不困难", "inform", slots={"aid_matter": "人身损害赔偿", "aid_exemption": "no", "aid_hardship": "no"})
    dispatcher, events = run(ActionLegalAidResult(), t)
    text = texts(dispatcher)[0]
    assert "不是审批结果" in text and "12348" in text and "法律援助法" in text
    assert "/request_mediation" in [b["payload"] for b in buttons(dispatcher)]
    assert all(e["value"] is None for e in events)


def test_legal_aid_free_text_answers(published):
    assert _validate(ValidateLegalAidForm(), "aid_matter", "老板欠我工资")[0] == {"aid_matter": "讨要工资工伤赔偿"}
    assert _validate(ValidateLegalAidForm(), "aid_hardship", "说不准")[0] == {"aid_hardship": "unsure"}


def test_feedback_is_stored_with_the_content_id(published):
    t = tracker("/feedback_unhelpful", "feedback_unhelpful", [{"entity": "content_id", "value": "hotline"}])
    _, events = run(ActionFeedback(), t)
    fid = slots(events)["feedback_id"]
    comment, _ = _validate(ValidateFeedbackForm(), "feedback_comment", "没说几点能打通")
    run(ActionFeedbackComment(), tracker("", "inform", slots={"feedback_id": fid, **comment}))
    [row] = RuntimeStore(published.runtime_db).feedback()
    assert (row["content_id"], row["helpful"], row["comment"]) == ("hotline", 0, "没说几点能打通")


def test_skipping_the_feedback_comment(published):
    assert _validate(ValidateFeedbackForm(), "feedback_comment", "跳过")[0] == {"feedback_comment": ""}


def test_informative_answers_offer_feedback(published):
    dispatcher, _ = run(ActionAnswerService(), tracker("法律援助", "ask_legal_aid"))
    payloads = [b["payload"] for b in buttons(dispatcher)]
    assert any(p.startswith("/feedback_helpful") for p in payloads) and "/legal_aid_precheck" in payloads


def test_human_handoff_names_the_town_station_and_offers_a_callback(published):
    t = tracker("我在穆家峪 想找个真人", "request_human", [{"entity": "town", "value": "穆家峪镇"}])
    dispatcher, _ = run(ActionAnswerService(), t)
    text = texts(dispatcher)[0]
    assert "12348" in text and "穆家峪镇公共法律服务站" in text and "正在核实" in text
    assert "/request_callback" in [b["payload"] for b in buttons(dispatcher)]


def test_human_handoff_uses_a_town_from_an_earlier_message(published):
    earlier = [{"event": "user", "text": "檀营的服务站", "parse_data": {"entities": [{"entity": "town", "value": "檀营地区"}]}}]
    dispatcher, _ = run(ActionAnswerService(), tracker("转人工", "request_human", events=earlier))
    assert "檀营地区公共法律服务站" in texts(dispatcher)[0]


def test_station_hours_open_closed_and_unknown():
    import datetime as dt

    station = {"name": "测试站", "hours": "周一至周五 9:00-17:00"}
    assert "现在是开放时间" in station_hours_line(station, dt.datetime(2026, 11, 23, 10))
    closed = station_hours_line(station, dt.datetime(2026, 11, 28, 10))  # Saturday
    assert "不在开放时间" in closed and "周一09:00" in closed
    assert "12348" in station_hours_line({"name": "测试站", "hours": None}, dt.datetime(2026, 11, 23, 10))


def test_the_pre_check_states_who_can_apply_before_its_first_step(published):
    from actions.legal_aid import FIRST_STEP

    dispatcher, events = run(ActionAskAidMatter(), tracker("谁能申请法律援助", "ask_legal_aid", [{"entity": "aid_check", "value": "谁能"}]))
    [text] = texts(dispatcher)
    assert events == [] and text.endswith(FIRST_STEP)
    assert "第42条" in text and "进城务工人员" in text and "法律依据：《中华人民共和国法律援助法》第三十一条" in text
    assert sorted(b["payload"] for b in buttons(dispatcher)) == sorted(MATTERS)
    again, _ = run(ActionAskAidMatter(), tracker("嗯", "inform"))          # asked again: the step alone
    assert texts(again) == [FIRST_STEP]
