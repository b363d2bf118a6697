"""The NLU's DeadlineCue: a date plus a deadline cue (or a bare date) is ask_deadline_date; danger still wins."""
from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cue():
    from miyun.nlu.deadline_cue import DeadlineCue

    data = load_data(str(ROOT / "nlu" / "deadlines.yml"))
    return DeadlineCue({}, None, None, [r["pattern"] for r in data.regex_features if r["name"] == "deadline_cue"])


@pytest.fixture(scope="module")
def danger():
    from miyun.nlu.danger import DangerOverride

    data = load_data(str(ROOT / "nlu" / "safety.yml"))
    return DangerOverride({}, None, None, [r["pattern"] for r in data.regex_features if r["name"] == "danger"],
                          [r["pattern"] for r in data.regex_features if r["name"] == "not_danger"])


def _msg(text: str, intent: str = "ask_admin_reconsideration") -> Message:
    return Message(data={"text": text, "intent": {"name": intent, "confidence": 0.6},
                         "intent_ranking": [{"name": intent, "confidence": 0.6}]})


@pytest.mark.parametrize("text", [
    "我是9月10号收到罚款决定书的,复议最晚哪天?",
    "判决书昨天送达,上诉截止到几号",
    "事故认定书上周五拿到的,还来得及申请复核吗",
    "2025年3月1日被辞退,还能申请仲裁吗",
    "9月10号",
    "是上个月3号收到的",
])
def test_dated_deadline_questions(cue, text):
    assert cue.is_deadline_question(text)


@pytest.mark.parametrize("text", [
    "复议最晚哪天",                      # no date: the classifier's job
    "我9月10号离婚的,财产怎么分",          # a date, but no deadline asked
    "12348今天上班吗",
    "行政复议期限是多久",
    "古北口镇的法律服务站在哪",
])
def test_other_messages_are_left_alone(cue, text):
    assert not cue.is_deadline_question(text)


def test_the_intent_is_replaced_and_danger_still_wins(cue, danger):
    msg = _msg("我9月10号收到的决定书,复议最晚哪天")
    cue.process([msg])
    assert msg.get("intent") == {"name": "ask_deadline_date", "confidence": 1.0}
    assert msg.get("intent_ranking")[1]["name"] == "ask_admin_reconsideration"
    msg = _msg("9月10号他拿着刀要砍我,最晚哪天能报警", "ask_legal_question")
    danger.process(cue.process([msg]))                  # the pipeline order of config.yml
    assert msg.get("intent")["name"] == "emergency"


def test_pipeline_order():
    names = [c["name"] for c in yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))["pipeline"]]
    assert names.index("miyun.nlu.deadline_cue.DeadlineCue") < names.index("miyun.nlu.danger.DangerOverride")


def test_payloads_are_left_alone(cue):
    msg = _msg('/ask_deadline_date{"deadline_kind": "reconsideration"}', "ask_deadline_date")
    cue.process([msg])
    assert msg.get("intent")["confidence"] == 0.6
