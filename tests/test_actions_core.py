"""Custom actions, run as the action server runs them: a Tracker in, messages and events out."""
import pytest

from actions.legal import ActionAnswerLegalQuestion, ActionShowArticle
from actions.services import ActionAnswerService, ActionEmergency, ActionFallback
from actions.stations import ActionFindStation
from miyun.knowledge.answers import DISCLAIMER
from miyun.referrals.sqlite import RuntimeStore
from tests.helpers import buttons, run, texts, tracker

SERVICE_INTENTS = [
    "ask_hotline", "ask_legal_aid", "ask_mediation", "request_mediation", "check_referral_status",
    "ask_admin_reconsideration", "ask_info_disclosure", "ask_petition", "ask_capabilities", "request_human",
]


@pytest.mark.parametrize("intent", SERVICE_INTENTS)
def test_every_service_intent_gets_a_short_answer_and_the_full_cited_one_on_request(published, intent):
    dispatcher, events = run(ActionAnswerService(), tracker("问一下", intent))
    [text] = texts(dispatcher)
    assert text.endswith(DISCLAIMER) and "12348" in text and len(text) <= 400
    full = [b["payload"] for b in buttons(dispatcher) if b["title"] == "完整说明"]
    if full:  # the summary: the whole entry, with its source, is one button away
        service = full[0].split('"service":"')[1].split('"')[0]
        assert events == [{"event": "slot", "timestamp": None, "name": "current_service", "value": service}]
        entities = [{"entity": "service", "value": service}, {"entity": "aspect", "value": "full"}]
        dispatcher, _ = run(ActionAnswerService(), tracker(full[0], "ask_service_aspect", entities))
        text = texts(dispatcher)[0]
    assert "来源：" in text


@pytest.mark.parametrize(
    "intent, law",
    [
        ("ask_legal_aid", "《中华人民共和国法律援助法》"),
        ("ask_mediation", "《中华人民共和国人民调解法》"),
        ("ask_admin_reconsideration", "《中华人民共和国行政复议法》"),
        ("ask_info_disclosure", "《中华人民共和国政府信息公开条例》"),
    ],
)
def test_legal_basis_is_named(published, intent, law):
    dispatcher, _ = run(ActionAnswerService(), tracker("问一下", intent))
    assert "法律依据：" in texts(dispatcher)[0] and law in texts(dispatcher)[0]


def test_unknown_fact_points_to_12348(published):
    dispatcher, _ = run(ActionAnswerService(), tracker("12348要钱吗", "ask_hotline"))
    text = texts(dispatcher)[0]
    assert text.startswith("【12348公共法律服务热线 · 收费】\n这一项正在核实中，请拨打12348确认。")
    dispatcher, _ = run(ActionAnswerService(), tracker("12348几点上班", "ask_hotline"))
    assert "暂未核实" in texts(dispatcher)[0] and "12348" in texts(dispatcher)[0]


def test_out_of_scope_is_honest(published):
    dispatcher, _ = run(ActionAnswerService(), tracker("明天天气怎么样", "out_of_scope"))
    assert "12348" in texts(dispatcher)[0]


def test_missing_store_gives_a_clean_message(isolated):
    dispatcher, events = run(ActionAnswerService(), tracker("12348", "ask_hotline"))
    assert events == [] and "12348" in texts(dispatcher)[0] and "暂时无法读取" in texts(dispatcher)[0]


def test_station_for_the_named_town(published):
    t = tracker("古北口的服务站在哪", "find_service_station", [{"entity": "town", "value": "古北口镇", "start": 0, "end": 3}])
    dispatcher, _ = run(ActionFindStation(), t)
    text = texts(dispatcher)[0]
    assert "古北口镇公共法律服务站" in text
    assert "正在核实中" in text and "12348" in text  # address and hours are not known yet


def test_station_uses_only_the_latest_message(published):
    """A town in an earlier slot or event must not be used when the latest message has none."""
    t = tracker("服务站在哪", "find_service_station", slots={"town": "石城镇"})
    dispatcher, _ = run(ActionFindStation(), t)
    text = texts(dispatcher)[0]
    assert "石城镇公共法律服务站" not in text
    assert "20个镇街" in text and "古北口镇" in text


def test_nearest_station_by_location(published):
    from actions import context

    station = context.content().station_for_town("太师屯镇")
    t = tracker("/share_location", "share_location", [
        {"entity": "latitude", "value": station["latitude"] + 0.01},
        {"entity": "longitude", "value": station["longitude"] - 0.01},
    ])
    dispatcher, _ = run(ActionFindStation(), t)
    assert "太师屯镇公共法律服务站" in texts(dispatcher)[0] and "最近" in texts(dispatcher)[0]


def test_legal_question_answers_with_a_cited_article(published):
    dispatcher, _ = run(ActionAnswerLegalQuestion(), tracker("老板拖欠工资不给怎么办", "ask_legal_question"))
    [text] = texts(dispatcher)
    assert text.startswith("【") and "法律依据：" in text and text.endswith(DISCLAIMER)
    payloads = [b["payload"] for b in buttons(dispatcher)]
    assert payloads[0].startswith("/show_article")
    assert len([p for p in payloads if p.startswith("/show_article")]) <= 3  # the full text and up to two related
    assert any(p.startswith("/feedback_helpful") for p in payloads)


def test_legal_question_without_confident_answer_is_logged(published):
    question = "量子纠缠和超导体的原理是什么"
    dispatcher, _ = run(ActionAnswerLegalQuestion(), tracker(question, "ask_legal_question", sender="wx:abc"))
    assert "没有找到有把握的答案" in texts(dispatcher)[0] and "12348" in texts(dispatcher)[0]
    rows = RuntimeStore(published.runtime_db).unanswered()
    assert rows[-1]["question"] == question
    assert rows[-1]["sender_hash"] and "wx:abc" not in rows[-1]["sender_hash"]


def test_show_article_gives_the_full_text(published):
    from actions import context

    article = context.content().articles()[0]
    dispatcher, _ = run(ActionShowArticle(), tracker("/show_article", "show_article", [{"entity": "article_id", "value": article["id"]}]))
    text = texts(dispatcher)[0]
    assert "".join(article["answer"].split()) in "".join(text.split()) and "来源：" in text


def test_show_unknown_article(published):
    dispatcher, _ = run(ActionShowArticle(), tracker("/show_article", "show_article", [{"entity": "article_id", "value": "gone"}]))
    assert "12348" in texts(dispatcher)[0]


def test_emergency_gives_110_120_first(published):
    dispatcher, _ = run(ActionEmergency(), tracker("有人拿刀要砍人", "emergency"))
    first = texts(dispatcher)[0]
    assert "110" in first and "120" in first


def test_domestic_violence_also_gets_12338_and_protection_order(published):
    dispatcher, _ = run(ActionEmergency(), tracker("我老公正在打我", "emergency"))
    all_text = "\n".join(texts(dispatcher))
    assert texts(dispatcher)[0].find("110") >= 0
    assert "12338" in all_text and "人身安全保护令" in all_text


def test_emergency_works_without_a_store(isolated):
    dispatcher, _ = run(ActionEmergency(), tracker("救命", "emergency"))
    assert "110" in texts(dispatcher)[0] and "120" in texts(dispatcher)[0]


def test_fallback_says_what_it_can_do(published):
    dispatcher, _ = run(ActionFallback(), tracker("阿巴阿巴", "nlu_fallback"))
    assert "12348" in texts(dispatcher)[0]
