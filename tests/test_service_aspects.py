"""Aspects of the service answers: validation, the keyword table, the wording, and the action
(the one fact first, buttons for the rest, follow-ups about the service answered last)."""
from __future__ import annotations

import json

import pytest

from actions.aspects import payload
from actions.legal import ActionAnswerLegalQuestion
from actions.legal_aid import ActionLegalAidResult, ValidateLegalAidForm, assess
from actions.services import ActionAnswerService, ActionFallback
from miyun.knowledge import answers
from miyun.knowledge.aspects import ASPECTS, Table
from miyun.knowledge.content import load
from tests.helpers import buttons, run, texts, tracker

SLOT = "current_service"


def _problems(content_dir) -> list[str]:
    return [str(p) for p in load(content_dir).problems]


def _edit(path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def _slot(events: list[dict]) -> object:
    return next((e["value"] for e in events if e.get("name") == SLOT), "unset")


def _ask(text: str, intent: str, slots: dict | None = None, entities: list | None = None, action=None):
    dispatcher, events = run(action or ActionAnswerService(), tracker(text, intent, entities, slots=slots))
    return texts(dispatcher)[0], buttons(dispatcher), events


# ---------------------------------------------------------------- validation


def test_the_real_content_is_valid():
    from tests.conftest import ROOT

    assert _problems(ROOT / "content") == []


def test_a_missing_required_aspect_is_reported(content_copy):
    services = content_copy / "services.yml"
    text = services.read_text(encoding="utf-8")
    start = text.index("      fee:\n        text: 免费：法律援助由国家无偿提供")
    end = text.index("      materials:", start)
    services.write_text(text[:start] + text[end:], encoding="utf-8")
    assert any(p.startswith("services.yml › legal_aid › aspects.fee: 缺少这一方面") for p in _problems(content_copy))


def test_an_entry_for_a_service_intent_without_aspects_is_reported(content_copy):
    services = content_copy / "services.yml"
    text = services.read_text(encoding="utf-8")
    start = text.index("    aspects:\n", text.index("  - id: petition"))
    end = text.index("\n    source: 信访工作条例（2022年）第十七条、", start) + 1
    services.write_text(text[:start] + text[end:], encoding="utf-8")
    assert any(p.startswith("services.yml › petition › aspects: 缺少 aspects") for p in _problems(content_copy))


def test_aspect_text_over_120_characters_is_reported(content_copy):
    _edit(content_copy / "services.yml", "text: 免费：法律援助由国家无偿提供", "text: " + "很长" * 61 + "免费：法律援助由国家无偿提供")
    [problem] = [p for p in _problems(content_copy) if "aspects.fee.text" in p]
    assert problem.startswith("services.yml › legal_aid › aspects.fee.text: 最多 120 字")


@pytest.mark.parametrize(
    "old, new, where",
    [
        ("          - law: 中华人民共和国法律援助法\n            articles: [2, 20, 53]\n        source: 中华人民共和国法律援助法第二条、第二十条、第五十三条\n        verified: 2026-12-01",
         "          - law: 中华人民共和国法律援助法\n            articles: [第二条]\n        source: 中华人民共和国法律援助法第二条、第二十条、第五十三条\n        verified: 2026-12-01",
         "aspects.fee.legal_basis[1].articles"),
        ("        source: 中华人民共和国法律援助法第二条、第二十条、第五十三条\n        verified: 2026-12-01",
         "        source: 中华人民共和国法律援助法第二条、第二十条、第五十三条\n        verified: 十二月一日", "aspects.fee.verified"),
        ("        source: 中华人民共和国法律援助法第二条、第二十条、第五十三条\n        verified: 2026-12-01",
         "        source: null\n        verified: 2026-12-01", "aspects.fee.source"),
        ("        source: 中华人民共和国法律援助法第二条、第二十条、第五十三条\n        verified: 2026-12-01",
         "        source: 中华人民共和国法律援助法第二条、第二十条、第五十三条\n        verified: 2026-12-01\n        price: 0", "aspects.fee.price"),
    ],
)
def test_bad_aspect_fields_are_located(content_copy, old, new, where):
    _edit(content_copy / "services.yml", old, new)
    assert any(p.startswith(f"services.yml › legal_aid › {where}:") for p in _problems(content_copy)), _problems(content_copy)


def test_an_unknown_aspect_cannot_be_marked_verified(content_copy):
    _edit(content_copy / "services.yml", "        text: null            # unknown: no authoritative source found on whether calls/consultation cost anything\n"
          "        legal_basis: []\n        source: null\n        verified: false",
          "        text: null\n        legal_basis: []\n        source: null\n        verified: 2026-12-01")
    assert any(p.startswith("services.yml › hotline › aspects.fee.verified: 未知的内容不能标记为已核实") for p in _problems(content_copy))


def test_keyword_table_problems_are_located(content_copy):
    table = content_copy / "aspects.yml"
    _edit(table, "keywords: [多久,", "keywords: [钱, 多久,")  # 钱 already belongs to fee
    _edit(table, "  petition: [信访,", "  nowhere: [信访,")
    problems = _problems(content_copy)
    assert any(p.startswith("aspects.yml › aspects[7](time).keywords: 关键词“钱”已属于 fee") for p in problems), problems
    assert any(p.startswith("aspects.yml › topics.nowhere: 没有这个服务") for p in problems), problems


# ---------------------------------------------------------------- recognition and wording


@pytest.fixture()
def table(published):
    from actions import context

    return Table.from_setting(context.content().aspect_table())


@pytest.mark.parametrize(
    "text, expected",
    [
        ("法律援助要钱吗", ["fee"]), ("申请调解要带什么材料", ["materials"]), ("复议多久出结果", ["time"]),
        ("去哪申请法律援助", ["where"]), ("12348晚上有人接吗", ["hours"]), ("法律援助被拒了咋办", ["remedy"]),
        ("谁能申请法律援助", ["who"]), ("信息公开能口头申请吗", ["how"]), ("说法评理是什么", ["what"]),
        ("要多久，收费吗", ["fee", "time"]), ("借钱不还能调解吗", []),
        # spoken words are read as their written form (咋交 → 怎么交, 多会儿 → 什么时候)
        ("复议申请咋交", ["how"]), ("信息公开多会儿能有答复", ["time"]), ("援助律师要辛苦费正常不", ["fee"]),
    ],
)
def test_aspect_recognition(table, text, expected):
    assert table.aspects_in(text) == expected


def test_not_satisfied_with_a_fine_is_not_a_remedy_question_about_reconsideration(table):
    assert table.aspects_in("对罚款决定不服", "admin_reconsideration") == []
    assert table.aspects_in("对复议决定不服怎么办", "admin_reconsideration") == ["remedy"]


def test_topics_in_the_order_named(table):
    assert table.topics_in("调解不成能申请法律援助吗") == ["mediation", "legal_aid"]


def test_a_criminal_law_word_names_no_service(table):
    # 法缓 was once listed as a slip for 法援; it is inside 刑法缓刑
    assert table.topics_in("刑法缓刑期间又犯事了会怎样") == []


def test_working_somewhere_asks_no_hours_but_asking_when_they_work_does(table):
    # "在镇政府上班" says where the resident works; 上班 alone once read as an opening-hours question
    assert "hours" not in table.aspects_in("我在镇政府上班，单位给了我一个处分，能复议吗", "admin_reconsideration")
    assert table.aspects_in("12348几点上班", "hotline") == ["hours"]
    assert table.aspects_in("司法所周六上班不", "legal_aid") == ["hours"]


def test_a_careless_aid_lawyer_is_a_remedy_question(table):
    assert table.aspects_in("援助律师办事一点不上心，有啥办法", "legal_aid") == ["remedy"]


def test_unknown_aspect_is_answered_honestly():
    service = {"title": "12348公共法律服务热线", "aspects": {"fee": {"text": None, "legal_basis": [], "source": None, "verified": None}}}
    text = answers.aspect_text(service, ["fee"], lambda k: "收费")
    assert text == "【12348公共法律服务热线 · 收费】\n这一项正在核实中，请拨打12348确认。\n" + answers.DISCLAIMER


def test_known_aspect_leads_with_the_fact_then_the_basis_then_one_disclaimer():
    aspect = {"text": "免费。", "legal_basis": [{"law": "中华人民共和国法律援助法", "articles": [2]}], "source": "x", "verified": "2026-12-01"}
    lines = answers.aspect_text({"title": "法律援助", "aspects": {"fee": aspect}}, ["fee"], lambda k: "收费").split("\n")
    assert lines == ["【法律援助 · 收费】", "免费。", "法律依据：《中华人民共和国法律援助法》第二条", answers.DISCLAIMER]


def test_unverified_aspect_says_so():
    aspect = {"text": "一般60日内办结。", "legal_basis": [], "source": "信访工作条例", "verified": None}
    assert "待工作人员核实，请拨打12348确认" in answers.aspect_text({"title": "信访", "aspects": {"time": aspect}}, ["time"], str)


# ---------------------------------------------------------------- the action


def test_the_fact_asked_comes_first_with_buttons_for_the_rest(published):
    text, found, events = _ask("法律援助要钱吗", "ask_legal_aid")
    assert text.startswith("【法律援助 · 收费】\n免费") and "第二十条" in text and len(text) <= 400
    titles = [b["title"] for b in found]
    assert "收费" not in titles and {"材料", "去哪办", "多久", "不服怎么办", "完整说明"} <= set(titles)
    assert {"payload": payload("legal_aid", "materials"), "title": "材料"} in found
    assert _slot(events) == "legal_aid"


def test_no_aspect_gets_a_short_summary_and_the_same_buttons(published):
    text, found, _ = _ask("法律援助", "ask_legal_aid")
    assert text.startswith("【法律援助】\n法律援助是国家") and len(answers.summary({"aspects": {"what": {"text": text}}})) <= 200
    assert len(text) <= 400 and "完整说明" in [b["title"] for b in found] and "是什么" not in [b["title"] for b in found]


def test_button_payloads_carry_service_and_aspect_and_work(published):
    _, found, _ = _ask("行政复议", "ask_admin_reconsideration")
    button = next(b for b in found if b["title"] == "材料")
    assert button["payload"].startswith("/ask_service_aspect{")
    assert json.loads(button["payload"][len("/ask_service_aspect"):]) == {"service": "admin_reconsideration", "aspect": "materials"}
    entities = [{"entity": "service", "value": "admin_reconsideration"}, {"entity": "aspect", "value": "materials"}]
    text, _, events = _ask(button["payload"], "ask_service_aspect", entities=entities)
    assert text.startswith("【行政复议 · 要带的材料】") and _slot(events) == "admin_reconsideration"


def test_full_entry_on_request_is_the_whole_answer(published):
    entities = [{"entity": "service", "value": "legal_aid"}, {"entity": "aspect", "value": "full"}]
    text, found, _ = _ask(payload("legal_aid", "full"), "ask_service_aspect", entities=entities)
    assert "第42条" in text and "来源：" in text and len(text) > 400
    assert "/legal_aid_precheck" in [b["payload"] for b in found]


@pytest.mark.parametrize(
    "text, intent, remembered, heading, now",
    [
        ("那要带什么材料？", "ask_service_aspect", "mediation", "【人民调解与“说法评理” · 要带的材料】", "mediation"),
        ("要钱吗", "ask_service_aspect", "admin_reconsideration", "【行政复议 · 收费】", "admin_reconsideration"),
        ("多久能办下来", "ask_service_aspect", "legal_aid", "【法律援助 · 多久】", "legal_aid"),
        # a new topic replaces the remembered one
        ("信访要钱吗", "ask_service_aspect", "legal_aid", "【信访 · 收费】", "petition"),
        ("信息公开多久答复", "ask_info_disclosure", "legal_aid", "【政府信息公开申请 · 多久】", "info_disclosure"),
    ],
)
def test_follow_ups_resolve_to_the_service_answered_last(published, text, intent, remembered, heading, now):
    reply, _, events = _ask(text, intent, slots={SLOT: remembered})
    assert reply.startswith(heading) and _slot(events) == now


@pytest.mark.parametrize("action, intent", [(ActionFallback(), "nlu_fallback"), (ActionAnswerLegalQuestion(), "ask_legal_question"),
                                            (ActionAnswerService(), "out_of_scope")])
def test_a_short_follow_up_the_nlu_did_not_place_still_resolves(published, action, intent):
    reply, _, events = _ask("那几天能办好", intent, slots={SLOT: "legal_aid"}, action=action)
    assert reply.startswith("【法律援助 · 多久】") and _slot(events) == "legal_aid"


@pytest.mark.parametrize("action, intent", [(ActionFallback(), "nlu_fallback"), (ActionAnswerLegalQuestion(), "ask_legal_question")])
def test_a_named_service_and_aspect_the_nlu_sent_elsewhere_get_that_aspect(published, action, intent):
    reply, _, events = _ask("调解员拉偏架，找谁说理", intent, action=action)
    assert reply.startswith("【人民调解与“说法评理” · 不服怎么办】") and _slot(events) == "mediation"


def test_a_long_story_that_mentions_a_service_is_left_to_the_legal_search(published):
    story = "我家和邻居因为宅基地边界吵了三年，村里调解过两次都没用，对方还把墙砌到我家地里了，我该怎么办，要多久"
    reply, _, events = _ask(story, "ask_legal_question", action=ActionAnswerLegalQuestion())
    assert not reply.startswith("【人民调解") and _slot(events) != "mediation"


def test_a_follow_up_with_nothing_remembered_asks_which_service(published):
    reply, found, events = _ask("要钱吗", "ask_service_aspect")
    assert reply == "您问的是哪一项服务？请点选：" and events == []
    assert payload("legal_aid", "fee") in [b["payload"] for b in found]


def test_an_article_answer_is_a_new_topic(published):
    dispatcher, events = run(ActionAnswerLegalQuestion(), tracker("老板拖欠工资不给怎么办", "ask_legal_question", slots={SLOT: "hotline"}))
    assert "【" in texts(dispatcher)[0] and _slot(events) is None


def test_where_names_the_station_of_the_town_named_now(published):
    earlier = [{"event": "user", "text": "我在石城", "parse_data": {"entities": [{"entity": "town", "value": "石城镇"}]}}]
    t = tracker("在古北口去哪申请调解", "ask_mediation", [{"entity": "town", "value": "古北口镇"}], events=earlier)
    dispatcher, _ = run(ActionAnswerService(), t)
    assert "古北口镇公共法律服务站" in texts(dispatcher)[0] and "石城镇" not in texts(dispatcher)[0]
    t = tracker("去哪申请调解", "ask_mediation", events=earlier)
    dispatcher, _ = run(ActionAnswerService(), t)
    assert "石城镇公共法律服务站" in texts(dispatcher)[0]


def test_mid_form_the_answer_has_no_buttons(published):
    t = tracker("12348要钱吗", "ask_hotline", active_loop={"name": "mediation_form"})
    dispatcher, _ = run(ActionAnswerService(), t)
    assert "12348" in texts(dispatcher)[0] and buttons(dispatcher) == []


def test_every_aspect_of_every_service_is_short(published):
    from actions import context

    t = Table.from_setting(context.content().aspect_table())
    for service in context.content().services():
        for key in ASPECTS if service.get("aspects") else []:
            assert len(answers.aspect_text(service, [key], t.label)) <= 400


# ---------------------------------------------------------------- facts the issue found missing


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("12348要钱吗", "ask_hotline", "这一项正在核实中，请拨打12348确认"),
        ("法律援助申请被拒了咋办", "ask_legal_aid", "第四十九条"),
        ("农民工讨薪申请法律援助要带什么材料", "ask_legal_aid", "免予核查经济困难状况"),
        ("信访答复不满意怎么办", "ask_petition", "复核"),
        ("劳动仲裁要钱吗，调解收费吗", "ask_mediation", "劳动争议仲裁也不收费"),
    ],
)
def test_the_missing_facts_are_now_reachable(published, text, intent, expected):
    assert expected in _ask(text, intent)[0]


# ---------------------------------------------------------------- legal-aid self-check, 第42条


def test_migrant_worker_claiming_wages_is_not_means_tested():
    assert assess("进城务工讨薪工伤", "no", "no") == "waived"
    assert assess("讨要工资工伤赔偿", "no", "migrant") == "waived"
    assert assess("人身损害赔偿", "no", "migrant") == "possibly"  # 第42条(三) is wages or work injury only
    assert assess("讨要工资工伤赔偿", "no", "no") == "unlikely"


def test_migrant_worker_answer_skips_the_hardship_question(published):
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    result = ValidateLegalAidForm().validate_aid_matter("我是农民工，老板欠工资", dispatcher, tracker("x", "inform"), {})
    assert result == {"aid_matter": "进城务工讨薪工伤", "aid_hardship": "migrant"}


def test_migrant_worker_result_cites_article_42(published):
    t = tracker("都不符合", "inform", slots={"aid_matter": "进城务工讨薪工伤", "aid_exemption": "no", "aid_hardship": "migrant"})
    dispatcher, _ = run(ActionLegalAidResult(), t)
    text = texts(dispatcher)[0]
    assert "免予核查经济困难状况（法律援助法第42条）" in text and "不是审批结果" in text
    assert "不符合法律援助的经济困难条件" not in text


def test_no_fixed_reply_claims_what_the_hotline_entry_leaves_unverified(published):
    """The fallback, the statute tier's closing, the "which of these" question and the feedback thanks
    point to 12348 without saying it is free or that lawyers answer: its fee is not verified."""
    from actions.feedback import ActionFeedbackComment
    from actions.legal import NO_CONFIDENT_ANSWER
    from actions.statutes import TIER_CLOSING
    from miyun.knowledge.store import ContentStore

    hotline = ContentStore(published.content_db).service("hotline")
    assert not hotline["aspects"]["fee"]["verified"], "the test assumes the fee is unverified"
    dispatcher, _ = run(ActionFeedbackComment(), tracker("没说到点子上", "inform"))
    fixed = [NO_CONFIDENT_ANSWER, TIER_CLOSING, answers.suggestion_question([{"title": "甲"}, {"title": "乙"}]), *texts(dispatcher)]
    for text in fixed:
        clauses = [c for c in text.replace("\n", "；").split("；") if "12348" in c]
        assert clauses, text
        assert not any("免费" in c or "律师" in c for c in clauses), text
