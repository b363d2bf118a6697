"""查看法条原文 and the statute tier as the action server runs them (real content, real library)."""
from __future__ import annotations

import json

from actions.legal import ActionAnswerLegalQuestion, ActionShowArticle
from actions.services import ActionAnswerService
from actions.statutes import BUTTON_TITLE, NOTHING_TO_SHOW, NOT_IN_LIBRARY, TEXT_LEAD, ActionShowStatutes
from tests.helpers import buttons, run, texts, tracker


def statute_payloads(dispatcher) -> list[str]:
    return [b["payload"] for b in buttons(dispatcher) if b["title"] == BUTTON_TITLE]


def show(content_id: str):
    return run(ActionShowStatutes(), tracker("/show_statutes", "show_statutes", [{"entity": "content_id", "value": content_id}]))


def test_a_confident_answer_offers_the_statute_text(published):
    dispatcher, _ = run(ActionAnswerLegalQuestion(), tracker("老板拖欠工资不给怎么办", "ask_legal_question"))
    [payload] = statute_payloads(dispatcher)
    assert payload.startswith("/show_statutes{") and json.loads(payload[len("/show_statutes"):])["content_id"]


def test_the_full_article_and_service_answers_offer_it_too(published):
    from miyun.knowledge.store import ContentStore

    article = ContentStore(published.content_db).article("labour-dismissal-compensation")
    dispatcher, _ = run(ActionShowArticle(), tracker("/show_article", "show_article", [{"entity": "article_id", "value": article["id"]}]))
    assert statute_payloads(dispatcher) == ['/show_statutes{"content_id": "labour-dismissal-compensation"}']
    dispatcher, _ = run(ActionAnswerService(), tracker("法律援助怎么申请", "ask_legal_aid"))
    assert len(statute_payloads(dispatcher)) == 1


def test_statute_text_is_verbatim_headed_and_labelled(published):
    from miyun.knowledge import statutes

    dispatcher, events = show("labour-dismissal-compensation")
    out = texts(dispatcher)
    assert events == [] and out[0] == TEXT_LEAD
    lib = statutes.library()
    law = lib.law("中华人民共和国劳动合同法")
    expected = lib.article(law, 47)
    block = next(t for t in out if t.startswith("《中华人民共和国劳动合同法》（2012年12月28日版）第四十七条"))
    assert block.split("\n", 1)[1] == expected.text                    # verbatim, nothing added or cut
    assert "经济补偿按劳动者在本单位工作的年限" in block
    assert NOT_IN_LIBRARY in out[-1] and "《中华人民共和国劳动合同法实施条例》第二十七条" in out[-1]


def test_a_service_citation_shows_too(published):
    dispatcher, _ = show("legal_aid")
    assert any(t.startswith("《中华人民共和国法律援助法》") for t in texts(dispatcher))


def test_typed_request_uses_the_last_button(published):
    events = [{"event": "bot", "text": "…", "data": {"buttons": [
        {"title": BUTTON_TITLE, "payload": '/show_statutes{"content_id": "labour-dismissal-compensation"}'}]}}]
    dispatcher, _ = run(ActionShowStatutes(), tracker("法条原文", "show_statutes", events=events))
    assert any("第四十七条" in t for t in texts(dispatcher))


def test_unknown_or_uncited_content_says_so(published):
    dispatcher, _ = show("no-such-article")
    assert texts(dispatcher) == [NOTHING_TO_SHOW]
    dispatcher, _ = run(ActionShowStatutes(), tracker("法条原文", "show_statutes"))
    assert texts(dispatcher) == [NOTHING_TO_SHOW]


def test_without_the_library_answers_still_work(published, monkeypatch, tmp_path):
    monkeypatch.setenv("MIYUN_STATUTES_DIR", str(tmp_path / "none"))
    dispatcher, _ = run(ActionAnswerLegalQuestion(), tracker("老板拖欠工资不给怎么办", "ask_legal_question"))
    assert texts(dispatcher) and statute_payloads(dispatcher) == []
    dispatcher, _ = show("labour-dismissal-compensation")
    assert texts(dispatcher) == [NOTHING_TO_SHOW]


# ------------------------------------------------------------------ the statute tier

def _no_curated_answer(monkeypatch):
    """Make the curated matcher never confident, so the fallback branch (and the tier) runs."""
    from actions import context

    monkeypatch.setenv("MIYUN_MATCH_ANSWER_AT", "9999")
    monkeypatch.setenv("MIYUN_MATCH_CLARIFY_AT", "9999")
    monkeypatch.setenv("MIYUN_MATCH_LIKELY_AT", "9999")
    monkeypatch.setenv("MIYUN_MATCH_SUGGEST_AT", "9999")
    monkeypatch.setenv("MIYUN_MATCH_SUGGEST_CUE_AT", "9999")
    context.reset()


def test_statute_tier_quotes_labelled_verbatim_articles(published, monkeypatch):
    from miyun.knowledge import statutes
    from miyun.referrals.sqlite import RuntimeStore

    _no_curated_answer(monkeypatch)
    question = "调解协议怎么向法院申请司法确认"
    dispatcher, events = run(ActionAnswerLegalQuestion(), tracker(question, "ask_legal_question"))
    out = texts(dispatcher)
    assert events == [] and out[0] == statutes.LABEL + "："
    assert out[0] == "相关法律规定（法条原文，不是针对您情况的解答）："
    quoted = out[1:-1]
    assert 1 <= len(quoted) <= 2
    lib = statutes.library()
    article = lib.article(lib.law("中华人民共和国人民调解法"), 33)
    assert quoted[0] == f"{article.heading}\n{article.text}"
    assert "12348" in out[-1] and "法律援助" in out[-1] and "不是针对您具体情况的解答" in out[-1]
    [row] = RuntimeStore(published.runtime_db).unanswered()
    assert row["question"] == question and row["best_id"].startswith("statute:《中华人民共和国人民调解法》")


def test_statute_tier_stays_silent_when_unsure_or_not_clearly_legal(published, monkeypatch):
    _no_curated_answer(monkeypatch)
    dispatcher, _ = run(ActionAnswerLegalQuestion(), tracker("密云区法院在什么地方", "ask_legal_question"))
    assert "没有找到有把握的答案" in texts(dispatcher)[0]
    t = tracker("调解协议怎么向法院申请司法确认", "ask_legal_question")
    t.latest_message["intent"]["confidence"] = 0.3                     # the NLU is not sure it is legal
    dispatcher, _ = run(ActionAnswerLegalQuestion(), t)
    assert "没有找到有把握的答案" in texts(dispatcher)[0]


def test_search_function_threshold_and_quote_limit():
    from miyun import settings
    from miyun.knowledge import statutes

    threshold = settings.load().statute_threshold
    result = statutes.search("调解协议怎么向法院申请司法确认", 3)
    assert len(result.hits) <= 3 and 0.0 <= result.confidence <= 1.0
    assert len(statutes.quote(result, 0.0, k=5)) <= 2                    # never more than two articles
    assert statutes.quote(result, 1.01) == []
    weak = statutes.search("明天密云会下雨吗")
    assert weak.confidence < threshold and statutes.quote(weak, threshold) == []
    for hit in statutes.search("农村一户人家能有几处宅基地", 5).hits:    # only allow-listed laws in force
        assert hit.article.law.in_force and hit.article.law.name in statutes.allowed_laws(settings.load().content_dir)


def test_an_amended_article_says_its_text_predates_the_amendment():
    from actions.statutes import AMENDED_NOTE, article_block
    from miyun.knowledge import statutes

    lib = statutes.library()
    criminal = lib.law("中华人民共和国刑法")
    assert AMENDED_NOTE in article_block(lib.article(criminal, 390))
    assert AMENDED_NOTE not in article_block(lib.article(criminal, 20))
