"""A flow's first message that is really a question about a service is answered, not taken as the
start of the flow: a status check, a mediation request, a document draft. Requests stay flows."""
from __future__ import annotations

from actions.documents import ActionStartDocument
from actions.legal import ActionAnswerLegalQuestion
from actions.referral import ActionStartReferral
from actions.status import ActionStartStatus
from tests.helpers import force_clarify, run, texts, tracker



def _listens(events: list[dict]) -> bool:
    return any(e.get("event") == "followup" and e.get("name") == "action_listen" for e in events)


def _start(action, text: str, intent: str, entities: list | None = None):
    dispatcher, events = run(action, tracker(text, intent, entities))
    return texts(dispatcher), events


def _slots(events: list[dict]) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_a_refusal_question_about_reconsideration_is_no_status_check(published):
    said, events = _start(ActionStartStatus(), "复议机关不受理我的申请，咋办", "check_referral_status")
    assert said[0].startswith("【行政复议") and "申请编号" not in said[0]
    assert _listens(events) and "status_ref" not in _slots(events)
    assert _slots(events)["current_service"] == "admin_reconsideration"


def test_a_status_check_about_a_mediation_stays_a_status_check(published):
    said, events = _start(ActionStartStatus(), "我的调解申请到哪一步了", "check_referral_status")
    assert said == [] and not _listens(events) and _slots(events) == {"status_ref": None, "status_tail": None}


def test_a_status_check_with_a_reference_keeps_it(published):
    said, events = _start(ActionStartStatus(), "复议的事，编号MY-2026-000123-K7QX", "check_referral_status")
    assert said == [] and _slots(events)["status_ref"] == "MY-2026-000123-K7QX"


def test_a_mediation_fact_asked_is_answered_before_any_form(published):
    said, events = _start(ActionStartReferral(), "调解协议签完字就生效了吗", "request_mediation")
    assert "生效" in said[0] and len("".join(said[0].split())) <= 400
    assert _listens(events) and "referral_kind" not in _slots(events)


def test_a_mediation_request_still_opens_the_form(published):
    said, events = _start(ActionStartReferral(), "我要申请调解，和邻居的纠纷", "request_mediation")
    assert said == [] and not _listens(events) and _slots(events)["referral_kind"] == "mediation"


def test_how_to_hand_in_an_application_is_a_question_not_a_draft(published):
    entities = [{"entity": "document_kind", "value": "行政复议申请书"}]
    said, events = _start(ActionStartDocument(), "复议申请书往哪交", "request_document", entities)
    assert said and "去哪办" in said[0] and _listens(events)
    assert _slots(events).get("doc_kind") is None


def test_asking_for_the_draft_starts_it(published):
    entities = [{"entity": "document_kind", "value": "行政复议申请书"}]
    said, events = _start(ActionStartDocument(), "帮我写一份复议申请书", "request_document", entities)
    assert said == [] and not _listens(events) and _slots(events)["doc_kind"]


def test_a_misspelt_service_is_still_that_service(published):
    said, _ = _start(ActionAnswerLegalQuestion(), "行政附议一般多长时间出结果", "ask_legal_question")
    assert said[0].startswith("【行政复议") and "60日" in said[0], said


def test_whether_one_must_write_at_all_is_a_question_not_a_draft(published):
    entities = [{"entity": "document_kind", "value": "行政复议申请书"}]
    said, events = _start(ActionStartDocument(), "复议能不能不写申请书，我写不了字", "request_document", entities)
    assert said and "口头" in said[0] and _listens(events)
    assert _slots(events).get("doc_kind") is None


def test_a_writer_who_cannot_write_still_gets_the_draft(published):
    entities = [{"entity": "document_kind", "value": "行政复议申请书"}]
    said, events = _start(ActionStartDocument(), "我写不了字，帮我写个复议申请书", "request_document", entities)
    assert said == [] and not _listens(events) and _slots(events)["doc_kind"]


def test_what_the_hotline_drafts_is_a_question_about_the_hotline(published):
    said, events = _start(ActionStartDocument(), "热线能帮我写起诉状不", "request_document")
    assert said and "法律援助" in said[0] and _listens(events)


def test_a_service_fact_asked_without_naming_the_service_is_answered(published):
    said, _ = _start(ActionAnswerLegalQuestion(), "政府记录我的信息写错了能改吗", "ask_legal_question")
    assert "更正" in said[0] and "没有找到有把握的答案" not in said[0], said


def test_a_service_fact_wins_over_a_choice_between_unsure_articles(published, monkeypatch):
    force_clarify(monkeypatch)
    said, _ = _start(ActionAnswerLegalQuestion(), "交警当场给开了罚单，不服，能直接去法院告吗", "ask_legal_question")
    assert "先申请行政复议" in said[0] and "您问的是" not in said[0], said
    # … but a question no service fact answers still gets the choice
    said, _ = _start(ActionAnswerLegalQuestion(), "离婚的时候孩子归谁，家里的房子和存款怎么分", "ask_legal_question")
    assert said[0].startswith("您问的是"), said


def test_a_question_no_fact_fits_still_falls_back_honestly(published):
    said, _ = _start(ActionAnswerLegalQuestion(), "量子纠缠和超导体的原理是什么", "ask_legal_question")
    assert "没有找到有把握的答案" in said[0]
