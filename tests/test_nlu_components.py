"""The custom graph components, exercised on real Rasa messages and training data."""
from pathlib import Path

import numpy as np
import pytest
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from miyun.nlu.features import TfidfSpace, analyze
from miyun.nlu.gazetteer import find_entities

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def town_entries():
    data = load_data(str(ROOT / "nlu" / "towns.yml"))
    entries = {}
    for table in data.lookup_tables:
        for name in table["elements"]:
            entries[name] = (name, "town", name)
    for surface, value in data.entity_synonyms.items():
        entries[surface] = (surface, "town", value)
    return sorted(entries.values(), key=lambda e: (-len(e[0]), e[0]))


@pytest.mark.parametrize(
    "text, value",
    [
        ("古北口镇的法律服务站在哪", "古北口镇"),
        ("我在古北口", "古北口镇"),
        ("檀营这边有律师吗", "檀营地区"),
        ("溪翁庄镇", "溪翁庄镇"),
        ("穆家峪的司法所", "穆家峪镇"),
        ("鼓楼街道", "鼓楼街道"),
    ],
)
def test_gazetteer_maps_short_forms_to_official_names(town_entries, text, value):
    found = find_entities(text, town_entries)
    assert [e["value"] for e in found] == [value]
    assert text[found[0]["start"] : found[0]["end"]] in {value, value[:-1], value[:-2], value.replace("地区", "")}


def test_gazetteer_prefers_the_longest_match(town_entries):
    found = find_entities("西田各庄镇和十里堡", town_entries)
    assert [(e["value"], e["start"], e["end"]) for e in found] == [("西田各庄镇", 0, 5), ("十里堡镇", 6, 9)]


def test_gazetteer_ignores_the_district_name(town_entries):
    assert find_entities("密云区哪里能调解", town_entries) == []


def test_features_include_words_and_character_ngrams():
    feats = analyze(["法律", "援助"], "法律援助")
    assert "w:法律" in feats and "b:法律|援助" in feats and "c4:法律援助" in feats and "c1:法" in feats


def test_tfidf_rows_are_unit_length_and_ignore_unknown_features():
    space = TfidfSpace.fit([["a", "b"], ["a", "c"], ["c"]])
    X = space.transform([["a", "b", "zzz"], []]).toarray()
    assert np.isclose(np.linalg.norm(X[0]), 1.0)
    assert not X[1].any()
    # rarer features weigh more
    assert X[0][space.vocabulary["b"]] > X[0][space.vocabulary["a"]]


@pytest.fixture(scope="module")
def danger():
    from miyun.nlu.danger import DangerOverride

    data = load_data(str(ROOT / "nlu" / "safety.yml"))
    patterns = [r["pattern"] for r in data.regex_features if r["name"] == "danger"]
    exclusions = [r["pattern"] for r in data.regex_features if r["name"] == "not_danger"]
    return DangerOverride({}, None, None, patterns, exclusions)


@pytest.mark.parametrize(
    "text",
    ["他正在打我", "我老公拿着刀要砍人", "我不想活了", "孩子掉水库里了 有人溺水", "我被关在屋里出不去了被锁住了", "救命",
     "他喝多了还在打孩子", "两家人一直在打架，有人流血了", "他正在追着我跑"],
)
def test_danger_patterns_catch_immediate_danger(danger, text):
    assert danger.is_danger(text)


@pytest.mark.parametrize(
    "text", ["去年被家暴了怎么申请保护令", "员工自杀了公司要赔偿吗", "他借了我的救命钱不还", "拖欠工资怎么办",
             # 打/追 in 打官司, 打工, 打电话, 追讨 are not blows or a chase (a rent dispute once got the 110 notice)
             "押金房东不退，我们还在打官司，钱能要回来吗", "我一直在打工，老板欠了半年工资", "他又在打电话催我还钱",
             "我正在打官司，对方会不会转移财产", "正在追讨欠款，对方不接电话",
             # custody is not danger: a mother asking legal aid for her detained son once got the 110 notice
             "儿子被关在看守所，我当妈的能替他申请法律援助吗"]
)
def test_danger_patterns_leave_ordinary_questions_alone(danger, text):
    assert not danger.is_danger(text)


def test_danger_override_replaces_the_intent(danger):
    msg = Message(data={"text": "他正在打我", "intent": {"name": "ask_legal_question", "confidence": 0.9},
                        "intent_ranking": [{"name": "ask_legal_question", "confidence": 0.9}]})
    danger.process([msg])
    assert msg.get("intent") == {"name": "emergency", "confidence": 1.0}
    assert msg.get("intent_ranking")[1]["name"] == "ask_legal_question"


def test_normalizer_component_folds_traditional_input():
    from miyun.nlu.normalizer import TextNormalizer

    msg = Message(data={"text": "說法評理  在哪"})
    TextNormalizer().process([msg])
    assert msg.get("text") == "说法评理 在哪"
    payload = Message(data={"text": "/ask_hotline"})
    TextNormalizer().process([payload])
    assert payload.get("text") == "/ask_hotline"
