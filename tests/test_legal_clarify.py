"""The legal-question action with the matcher: answer, one clarifying question, or fallback."""
import json

import pytest

from actions.legal import ActionAnswerLegalQuestion, ActionShowArticle
from miyun.knowledge import matcher
from miyun.referrals.sqlite import RuntimeStore
from tests.helpers import buttons, force_clarify, run, texts, tracker

# Both halves of one message, each the topic of a different article.
TWO_TOPICS = "离婚的时候孩子归谁，家里的房子和存款怎么分"




def test_two_close_topics_get_one_question_with_a_button_each(published, monkeypatch):
    force_clarify(monkeypatch)
    dispatcher, events = run(ActionAnswerLegalQuestion(), tracker(TWO_TOPICS, "ask_legal_question"))
    [text] = texts(dispatcher)
    assert events == []
    assert text.startswith("您问的是“") and "还是“" in text and text.count("？") == 1
    options = [b for b in buttons(dispatcher) if b["payload"].startswith("/show_article")]
    assert len(options) == 2 and options[0]["title"] != options[1]["title"]
    assert all(f"“{b['title'].rstrip('？?。')}”" in text for b in options)  # the question names the two articles
    assert buttons(dispatcher)[-1]["payload"] == "/ask_hotline"  # "neither" leads to 12348
    assert "没有找到有把握的答案" not in text  # neither the wrong answer nor the fallback
    assert RuntimeStore(published.runtime_db).unanswered() == []  # a question asked back is not unanswered


def test_a_clarifying_button_shows_that_article(published, monkeypatch):
    force_clarify(monkeypatch)
    dispatcher, _ = run(ActionAnswerLegalQuestion(), tracker(TWO_TOPICS, "ask_legal_question"))
    payload = next(b["payload"] for b in buttons(dispatcher) if b["payload"].startswith("/show_article"))
    ident = json.loads(payload[len("/show_article"):])["article_id"]
    shown, _ = run(ActionShowArticle(), tracker(payload, "show_article", [{"entity": "article_id", "value": ident}]))
    assert "来源：" in texts(shown)[0]


@pytest.mark.parametrize("decision", [matcher.ANSWER, matcher.FALLBACK])
def test_answer_and_fallback_are_unchanged(published, decision):
    question = "房东扣着押金不退" if decision == matcher.ANSWER else "量子纠缠和超导体的原理是什么"
    dispatcher, _ = run(ActionAnswerLegalQuestion(), tracker(question, "ask_legal_question"))
    text = texts(dispatcher)[0]
    if decision == matcher.ANSWER:
        assert text.startswith("【") and "您问的是" not in text
    else:
        assert "没有找到有把握的答案" in text
        assert RuntimeStore(published.runtime_db).unanswered()[-1]["question"] == question


def _likely(monkeypatch):
    """Thresholds under which any candidate is a guess: never answered outright, never a question."""
    params = matcher.Parameters.load()
    forced = matcher.Parameters(params.weights, params.bias, answer_at=1.01, clarify_at=9.0, close_ratio=2.0, likely_at=0.0)
    monkeypatch.setattr(matcher.Parameters, "load", classmethod(lambda cls: forced))


def test_a_likely_article_is_shown_as_a_guess_with_a_way_out(published, monkeypatch):
    from miyun.knowledge import answers

    _likely(monkeypatch)
    question = "老板拖欠工资三个月了怎么办"
    dispatcher, events = run(ActionAnswerLegalQuestion(), tracker(question, "ask_legal_question"))
    [text] = texts(dispatcher)
    assert text.startswith(answers.LIKELY_LEAD) and "【" in text and "不构成法律意见" in text
    payloads = [b["payload"] for b in buttons(dispatcher)]
    assert "/ask_hotline" in payloads and any(p.startswith("/show_article") for p in payloads)
    assert events == [{"event": "slot", "timestamp": None, "name": "current_service", "value": None}]
    [row] = RuntimeStore(published.runtime_db).unanswered()       # staff see it: the wording may need adding
    assert row["question"] == question and row["best_id"]


def test_likely_among_three_asks_which_with_a_button_each_and_a_way_out(published, monkeypatch):
    from miyun.knowledge import answers

    params = matcher.Parameters.load()
    forced = matcher.Parameters(params.weights, params.bias, answer_at=1.01, clarify_at=9.0, close_ratio=2.0, suggest_at=0.0)
    monkeypatch.setattr(matcher.Parameters, "load", classmethod(lambda cls: forced))
    dispatcher, events = run(ActionAnswerLegalQuestion(), tracker(TWO_TOPICS, "ask_legal_question"))
    [text] = texts(dispatcher)
    assert events == []
    options = [b for b in buttons(dispatcher) if b["payload"].startswith("/show_article")]
    assert len(options) == matcher.SUGGEST_OPTIONS and len({b["title"] for b in options}) == matcher.SUGGEST_OPTIONS
    assert all(b["title"].rstrip("？?。") in text for b in options)  # the text lists them too (WeChat shows text first)
    assert buttons(dispatcher)[-1]["payload"] == "/ask_hotline" and "12348" in text
    assert "没有找到有把握的答案" not in text
    assert text == answers.suggestion_question([published_article(published, b) for b in options])
    [row] = RuntimeStore(published.runtime_db).unanswered()  # staff see it: no single article was sure
    assert row["question"] == TWO_TOPICS and row["best_id"] == json.loads(options[0]["payload"][len("/show_article"):])["article_id"]


def published_article(published, button: dict) -> dict:
    from miyun.knowledge.store import ContentStore

    return ContentStore(published.content_db).article(json.loads(button["payload"][len("/show_article"):])["article_id"])
