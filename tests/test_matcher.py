"""The article matcher: candidates, calibrated confidence, and the answer / clarify / fallback decision."""
import json

import pytest
import yaml

from miyun.knowledge import publish
from miyun.knowledge import matcher
from miyun.knowledge.store import ContentStore
from miyun.text import normalize


@pytest.fixture()
def store(published):
    from miyun.text import load_dictionary

    load_dictionary(published.dictionary_dir)
    return ContentStore(published.content_db)


def test_the_phrasing_model_is_built_with_each_version(store):
    blobs = store.blobs(matcher.MODEL_PREFIX)
    assert {"idf_index", "data", "indices", "indptr", "row_article", "article_ids"} <= set(blobs)
    assert len(blobs["article_ids"].decode().split("\n")) == len(store.articles())
    assert {"columns", "indptr", "indices", "data", "intercept"} <= set(store.blobs(matcher.CLASSIFIER_PREFIX))


def test_a_plain_question_is_answered(store):
    m = matcher.match(store, "房东扣着押金不退")
    assert m.decision == matcher.ANSWER and m.best.id == "housing-deposit-withheld"
    assert 0.0 <= m.confidence <= 1.0 and m.confidence >= m.answer_at


def test_a_plain_question_never_falls_back_and_its_article_leads(store):
    # Answered, or (when the calibrated confidence is just under the answer threshold) asked
    # "which of these" with its article first: never the fallback.
    m = matcher.match(store, "老板拖欠工资三个月了怎么办")
    assert m.decision in (matcher.ANSWER, matcher.SUGGEST) and m.best.id == "labour-unpaid-wages"


def test_the_same_question_inside_a_long_story_keeps_its_answer_and_confidence(store):
    short = matcher.match(store, "房东扣着押金不退")
    story = matcher.match(store, "您好，想咨询个事。我是十里堡镇的，今年六十多了，不太会打字，让孙子帮着打的。"
                                 "去年租的房子，合同到期我搬走了，房东扣着押金不退，说墙脏了要刷，家里就靠这点钱过日子，谢谢您了")
    assert short.best.id == story.best.id == "housing-deposit-withheld"
    assert short.decision == story.decision == matcher.ANSWER
    assert abs(short.confidence - story.confidence) < 0.25


def test_focus_drops_the_story_around_the_question():
    focused = matcher.focus("您好，麻烦问一下，我是太师屯镇的，老板拖欠工资怎么办，谢谢您了")
    assert "拖欠工资" in focused
    assert "您好" not in focused and "太师屯" not in focused and "谢谢" not in focused


@pytest.mark.parametrize("question", ["老闆拖欠工資三個月了怎麼辦", "老板拖欠公资三个月了怎么办"])
def test_traditional_characters_and_typos(store, question):
    assert matcher.match(store, question).best.id == "labour-unpaid-wages"


def test_an_unrelated_question_falls_back(store):
    assert matcher.match(store, "量子纠缠和超导体的原理是什么").decision == matcher.FALLBACK


def test_two_close_candidates_ask_instead_of_guessing():
    p = matcher.Parameters({}, 0.0, answer_at=0.6, clarify_at=0.5, close_ratio=0.6)
    assert matcher.decide([0.45, 0.40, 0.01], [], p) == matcher.CLARIFY   # close, together likely
    assert matcher.decide([0.90, 0.10], [], p) == matcher.ANSWER          # a clear winner
    assert matcher.decide([0.20, 0.15], [], p) == matcher.FALLBACK        # neither likely


def test_likely_among_the_top_three_asks_which_of_them():
    p = matcher.Parameters({}, 0.0, answer_at=0.9, clarify_at=0.8, close_ratio=0.5, suggest_at=0.7)
    assert matcher.decide([0.50, 0.15, 0.10, 0.05], [], p) == matcher.SUGGEST   # 0.75 over three, none sure
    assert matcher.decide([0.40, 0.15, 0.10, 0.05], [], p) == matcher.FALLBACK  # 0.65: not likely enough
    assert matcher.decide([0.75], [], p) == matcher.FALLBACK                    # one candidate is no choice
    assert matcher.decide([0.95, 0.02, 0.01], [], p) == matcher.ANSWER          # a sure one is answered
    off = matcher.Parameters({}, 0.0, answer_at=0.9, clarify_at=0.8, close_ratio=0.5)
    assert matcher.decide([0.50, 0.15, 0.10], [], off) == matcher.FALLBACK      # off unless reranker.json sets it


def test_a_word_of_legal_need_asks_which_of_them_sooner():
    p = matcher.Parameters({}, 0.0, answer_at=0.9, clarify_at=0.8, close_ratio=0.5, suggest_at=0.9, suggest_cue_at=0.4)
    assert matcher.decide([0.30, 0.10, 0.05], [], p, cue=True) == matcher.SUGGEST   # 0.45 with a cue
    assert matcher.decide([0.30, 0.10, 0.05], [], p) == matcher.FALLBACK            # the same without one
    assert matcher.decide([0.20, 0.10, 0.05], [], p, cue=True) == matcher.FALLBACK  # 0.35: still too unlikely
    lower = matcher.Parameters({}, 0.0, answer_at=0.9, clarify_at=0.8, close_ratio=0.5, suggest_at=0.5, suggest_cue_at=0.9)
    assert matcher.decide([0.30, 0.15, 0.10], [], lower, cue=True) == matcher.SUGGEST  # a cue never raises it


@pytest.mark.parametrize("text, need", [
    ("老板拖欠了我三个月工资", True), ("离婚了孩子归谁", True), ("邻居家的狗咬伤了我", True),
    ("房东不退押金", True), ("秋天柿子咋做柿饼好吃", False), ("明天密云会下雨吗", False),
    ("电动车电瓶冬天不经用该换了吗", False),
    # a cue's characters in an everyday word are no cue; the legal word beside them still is
    ("有没有啥好的减肥方法", False), ("告诉我明天吃啥", False), ("孙子考驾照科目一咋背", False),
    ("有啥办法要回工钱", True), ("驾照被扣了12分咋办", True),
])
def test_words_of_legal_need(text, need):
    from miyun.knowledge import legal_cues

    assert legal_cues.present(normalize(text)) is need


def test_a_legal_story_with_middling_confidence_gets_a_choice_not_a_refusal(store):
    params = matcher.Parameters.load()
    assert params.suggest_cue_at < params.suggest_at, "reranker.json: the cue threshold is calibrated (scripts/fit_reranker.py)"
    probe = matcher.Parameters(params.weights, params.bias, params.answer_at, params.clarify_at, params.close_ratio,
                               params.likely_at, params.suggest_at, params.suggest_cue_at)
    m = matcher.match(store, "在工地干了两个月活，包工头一直拖着不给钱，现在人也找不着了", probe)
    assert m.decision in (matcher.ANSWER, matcher.CLARIFY, matcher.SUGGEST)


def test_a_suggestion_offers_the_top_three(store, monkeypatch):
    params = matcher.Parameters.load()
    forced = matcher.Parameters(params.weights, params.bias, answer_at=1.01, clarify_at=9.0, close_ratio=2.0, suggest_at=0.0)
    m = matcher.match(store, "离婚的时候孩子归谁，家里的房子和存款怎么分", forced)
    assert m.decision == matcher.SUGGEST
    assert [c.id for c in m.options] == [c.id for c in m.candidates[:matcher.SUGGEST_OPTIONS]]
    assert len({c.id for c in m.options}) == matcher.SUGGEST_OPTIONS


def test_the_shipped_parameters_ask_before_falling_back():
    p = matcher.Parameters.load()
    assert p.suggest_at < 1.5, "reranker.json: the suggestion threshold is calibrated (scripts/fit_reranker.py)"
    assert matcher.decide([], [], p) == matcher.FALLBACK


def test_a_published_phrasing_is_matched_without_retraining(published, content_copy):
    """Staff add a question to an article; after publishing, the matcher knows it (new version, new model)."""
    path = content_copy / "articles" / "labour.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    article = next(a for a in data["articles"] if a["id"] == "labour-no-written-contract")
    article["questions"][-1] = "招工的时候答应的工钱叫做甲乙丙丁戊己庚辛"  # replace one: some articles hold the most allowed
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert publish.publish(published, "pytest", "new phrasing").changed
    m = matcher.match(ContentStore(published.content_db), "甲乙丙丁戊己庚辛")
    assert m.best.id == "labour-no-written-contract"


def test_parameters_are_plain_json():
    data = json.loads(matcher.PARAMETERS.read_text(encoding="utf-8"))
    assert set(data["weights"]) == set(matcher.FEATURES)
    assert 0 < data["answer_at"] < 1 and 0 < data["clarify_at"] <= 2


def test_an_articles_own_question_typed_word_for_word_is_answered(store):
    for article in store.articles()[::40]:
        m = matcher.match(store, article["questions"][0])
        assert m.decision == matcher.ANSWER and m.best.id == article["id"], article["id"]
        assert m.confidence >= matcher.VERBATIM_CONFIDENCE


def test_likely_sits_between_answer_and_fallback():
    p = matcher.Parameters({}, 0.0, answer_at=0.875, clarify_at=0.8, close_ratio=0.5, likely_at=0.7)
    assert matcher.decide([0.9, 0.1], [], p) == matcher.ANSWER
    assert matcher.decide([0.75, 0.1], [], p) == matcher.LIKELY
    assert matcher.decide([0.65, 0.1], [], p) == matcher.FALLBACK
    assert matcher.decide([0.5, 0.45], [], p) == matcher.CLARIFY
    off = matcher.Parameters({}, 0.0, answer_at=0.875, clarify_at=0.8, close_ratio=0.5)
    assert matcher.decide([0.8, 0.1], [], off) == matcher.FALLBACK   # without likely_at, no guesses


def test_the_likely_threshold_never_exceeds_the_answer_threshold(monkeypatch):
    monkeypatch.setenv("MIYUN_MATCH_ANSWER_AT", "0.5")
    monkeypatch.setenv("MIYUN_MATCH_LIKELY_AT", "0.9")
    p = matcher.Parameters.load()
    assert p.likely_at == p.answer_at == 0.5
