"""More facts of the service answers (services.yml › more_facts): validation (the aspects' rules plus
questions and a required basis), the citation check, recognition, and the action that leads with the
fact. The residents' questions here are this file's own phrasings, not the content's and not the
evaluation sets'."""
from __future__ import annotations

import pytest

from actions.legal import ActionAnswerLegalQuestion
from actions.services import ActionAnswerService, ActionFallback
from miyun import settings
from miyun.knowledge import more_facts, statutes, statutes_check
from miyun.knowledge.aspects import Table
from miyun.knowledge.content import load
from miyun.knowledge.store import ContentStore
from miyun.text import normalize
from tests.helpers import buttons, run, texts, tracker

SLOT = "current_service"
# The first more fact of the mediation entry, as written in content/services.yml.
EFFECT = "调解协议书自各方当事人签名、盖章或者按指印"
EFFECT_TEXT_LINE = "        text: 调解协议书自各方当事人签名、盖章或者按指印，人民调解员签名并加盖人民调解委员会印章之日起生效；口头调解协议自各方达成协议之日起生效。"
EFFECT_BASIS = "          - law: 中华人民共和国人民调解法\n            articles: [29, 30]\n        source: 中华人民共和国人民调解法第二十九条、第三十条"


def _problems(content_dir) -> list[str]:
    return [str(p) for p in load(content_dir).problems]


def _edit(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _ask(text: str, intent: str, slots: dict | None = None, action=None):
    dispatcher, events = run(action or ActionAnswerService(), tracker(text, intent, slots=slots))
    return texts(dispatcher)[0], buttons(dispatcher), events


def _slot(events: list[dict]) -> object:
    return next((e["value"] for e in events if e.get("name") == SLOT), "unset")


def _length(text: str) -> int:
    return len("".join(text.split()))


# ---------------------------------------------------------------- validation


def test_the_real_more_facts_are_valid_and_loaded():
    from tests.conftest import ROOT

    loaded = load(ROOT / "content")
    assert loaded.problems == []
    by_id = {s["id"]: s for s in loaded.services}
    for ident in ("hotline", "legal_aid", "mediation", "admin_reconsideration", "info_disclosure", "petition"):
        assert len(by_id[ident]["more_facts"]) >= 3, ident
    first = by_id["mediation"]["more_facts"][0]
    assert first["text"].startswith(EFFECT) and first["legal_basis"] == [{"law": "中华人民共和国人民调解法", "articles": [29, 30]}]
    assert first["verified"] == "2026-12-01" and more_facts.QUESTIONS_MIN <= len(first["questions"]) <= more_facts.QUESTIONS_MAX


def test_no_phrasing_asked_alone_leads_to_another_fact(published):
    """Each phrasing, taken out of its fact, is asked as a resident would: it may lead with its own fact
    or with none, never with a sibling."""
    from actions import context

    store = context.content()
    table = Table.from_setting(store.aspect_table())
    wrong = []
    for service in store.services():
        for i, fact in enumerate(service.get("more_facts") or []):
            for q in fact["questions"]:
                others = [dict(f, questions=[p for p in f["questions"] if p != q]) if j == i else f
                          for j, f in enumerate(service["more_facts"])]
                found = more_facts.best(dict(service, more_facts=others), normalize(q), table)
                if found.fact is not None and found.fact["text"] != fact["text"]:
                    wrong.append((service["id"], q, found.fact["text"][:20]))
    assert wrong == [], "\n".join(map(str, wrong))


def test_a_fact_over_120_characters_is_reported(content_copy):
    _edit(content_copy / "services.yml", EFFECT_TEXT_LINE, EFFECT_TEXT_LINE.replace("生效。", "生效" + "。" * 0 + "很长" * 30 + "。"))
    [problem] = [p for p in _problems(content_copy) if "more_facts[1].text" in p]
    assert problem.startswith("services.yml › mediation › more_facts[1].text: 最多 120 字")


def test_a_fact_without_legal_basis_is_reported(content_copy):
    _edit(content_copy / "services.yml", EFFECT_BASIS, "        source: 中华人民共和国人民调解法第二十九条、第三十条")
    _edit(content_copy / "services.yml", EFFECT_TEXT_LINE + "\n        legal_basis:\n", EFFECT_TEXT_LINE + "\n        legal_basis: []\n")
    assert "services.yml › mediation › more_facts[1].legal_basis: 缺少法律依据 / missing legal basis" in _problems(content_copy)


@pytest.mark.parametrize(
    "old, new, where",
    [
        (EFFECT_BASIS, EFFECT_BASIS.replace("[29, 30]", "[第二十九条]"), "more_facts[1].legal_basis[1].articles"),
        (EFFECT_BASIS + "\n        verified: 2026-12-01", EFFECT_BASIS + "\n        verified: 去年", "more_facts[1].verified"),
        (EFFECT_BASIS + "\n        verified: 2026-12-01", EFFECT_BASIS + "\n        verified: 2026-12-01\n        keywords: [生效]",
         "more_facts[1].keywords"),
        (EFFECT_BASIS, "          - law: 中华人民共和国人民调解法\n            articles: [29, 30]\n        source: null", "more_facts[1].source"),
        (EFFECT_TEXT_LINE, "        text: null", "more_facts[1].text"),
    ],
)
def test_bad_fact_fields_are_located(content_copy, old, new, where):
    _edit(content_copy / "services.yml", old, new)
    assert any(p.startswith(f"services.yml › mediation › {where}:") for p in _problems(content_copy)), _problems(content_copy)


def test_a_fact_needs_two_to_twelve_phrasings(content_copy):
    services = content_copy / "services.yml"
    text = services.read_text(encoding="utf-8")
    start = text.index("    more_facts:\n", text.index("  - id: mediation"))
    end = text.index("        text: " + EFFECT, start)
    services.write_text(text[:start] + "    more_facts:\n      - questions:\n          - 只有一种问法\n" + text[end:], encoding="utf-8")
    assert any(p.startswith("services.yml › mediation › more_facts[1].questions: 问法应为 2–12 条，现在 1 条") for p in _problems(content_copy))


def test_a_repeated_phrasing_is_reported(content_copy):
    services = content_copy / "services.yml"
    text = services.read_text(encoding="utf-8")
    start = text.index("    more_facts:\n", text.index("  - id: mediation"))
    end = text.index("        text: " + EFFECT, start)
    services.write_text(text[:start] + "    more_facts:\n      - questions:\n          - 协议算数吗\n          - 协议算数吗\n"
                        + text[end:], encoding="utf-8")
    assert any(p.startswith("services.yml › mediation › more_facts[1].questions: 问法重复：协议算数吗") for p in _problems(content_copy))


def test_more_facts_must_be_a_list(content_copy):
    _edit(content_copy / "services.yml", "    more_facts:\n      - questions:\n          - 打12348能问怎么申请法律援助吗",
          "    more_facts: 打12348能问法援\n    more_facts_old:\n      - questions:\n          - 打12348能问怎么申请法律援助吗")
    assert any(p.startswith("services.yml › hotline › more_facts: 应为列表") for p in _problems(content_copy))


@pytest.fixture(scope="module")
def real_library() -> statutes.Library:
    cfg = settings.load()
    if not cfg.statutes_index.exists():
        pytest.fail(f"{cfg.statutes_index} missing: run `make setup`")
    return statutes.Library(cfg.statutes_index, cfg.content_dir)


@pytest.mark.parametrize("new, why", [("[29, 300]", "条文不存在 / no such article"), ("[29, 30]", None)])
def test_cite_check_covers_more_facts_articles(content_copy, real_library, new, why):
    _edit(content_copy / "services.yml", EFFECT_BASIS, EFFECT_BASIS.replace("[29, 30]", new))
    report = statutes_check.check(content_copy, real_library)
    mine = [w for c, w in report.failures if c.entry == "mediation › more_facts[1]"]
    if why is None:
        assert mine == [] and any(c.entry == "mediation › more_facts[1]" for c, _ in report.checked)
    else:
        assert len(mine) == 1 and mine[0].startswith(why) and "第300条" in "\n".join(statutes_check.format_report(report))


def test_cite_check_reports_an_unknown_law_in_a_fact(content_copy, real_library):
    _edit(content_copy / "services.yml", EFFECT_BASIS, EFFECT_BASIS.replace("中华人民共和国人民调解法\n", "中华人民共和国民间调解法\n"))
    report = statutes_check.check(content_copy, real_library)
    assert [w for c, w in report.failures if c.entry == "mediation › more_facts[1]"][0].startswith("法条库中没有这部法律")


# ---------------------------------------------------------------- recognition


def _service(facts: list[dict]) -> dict:
    return {"id": "svc", "title": "测试服务", "aspects": {"what": {"text": "x"}}, "more_facts": facts}


def _fact(*questions: str, text: str = "事实。") -> dict:
    return {"questions": list(questions), "text": text, "legal_basis": [{"law": "某法", "articles": [1]}], "source": "s", "verified": "2026-12-01"}


TABLE = Table(aspects=[{"key": "fee", "title": "收费", "label": "收费", "keywords": ["钱", "收费"]},
                       {"key": "time", "title": "多久", "label": "多久", "keywords": ["多久", "什么时候"]}],
              priority=["fee", "time"], topics={"svc": ["测试服务"]})


def test_the_closest_fact_leads_when_clear():
    service = _service([_fact("协议签了字就生效吗", "协议哪天开始有效"), _fact("调解员会保密吗", "内容会不会传出去")])
    found = more_facts.best(service, normalize("測試服務的協議簽完字生效嗎"), TABLE)   # traditional, normalised first
    assert found.fact is service["more_facts"][0] and found.score >= more_facts.THRESHOLD and found.reason == "fact"


def test_an_unrelated_message_gets_no_fact():
    service = _service([_fact("协议签了字就生效吗"), _fact("调解员会保密吗")])
    found = more_facts.best(service, normalize("测试服务在哪里办"), TABLE)
    assert found.fact is None and found.reason.startswith("below threshold")


def test_two_facts_equally_close_lead_with_neither():
    service = _service([_fact("材料交上去以后会怎样"), _fact("材料交上去以后能撤回吗")])
    found = more_facts.best(service, normalize("材料交上去以后"), TABLE)
    assert found.fact is None and found.reason.startswith("margin")


def test_an_aspect_named_by_another_phrasing_of_the_fact_lets_it_lead():
    service = _service([_fact("协议签了字就生效吗", "生效要交钱吗"), _fact("调解员会保密吗")])
    found = more_facts.best(service, normalize("协议签了字生效要钱吗"), TABLE)
    assert found.fact is service["more_facts"][0] and found.reason == "fact"


def test_an_aspect_the_fact_does_not_ask_keeps_priority():
    service = _service([_fact("协议签了字就生效吗"), _fact("调解员会保密吗")])
    assert more_facts.best(service, normalize("协议签了字生效要钱吗"), TABLE).reason == "aspect asked: fee"
    # … but a fact whose own question names that aspect still leads
    service = _service([_fact("协议什么时候生效"), _fact("调解员会保密吗")])
    assert more_facts.best(service, normalize("协议啥时候生效"), TABLE).reason == "fact"


def test_a_near_fact_under_the_threshold_is_only_offered_as_closest():
    service = _service([_fact("协议签了字就生效吗"), _fact("调解员会保密吗")])
    found = more_facts.best(service, normalize("签了字的算不算"), TABLE)
    assert found.fact is None and more_facts.CLOSEST_AT <= found.score < more_facts.THRESHOLD
    assert found.closest is service["more_facts"][0]
    # too far, or two facts as near as each other: nothing is offered
    assert more_facts.best(service, normalize("测试服务在哪里办"), TABLE).closest is None
    twins = _service([_fact("材料交上去以后会怎样"), _fact("材料交上去以后能撤回吗")])
    assert more_facts.best(twins, normalize("材料交上去以后"), TABLE).closest is None


def test_the_closest_fact_joins_a_summary_only_when_it_fits(published):
    from miyun.knowledge import answers

    service = ContentStore(published.content_db).service("mediation")
    fact = service["more_facts"][0]
    text = answers.summary_text(service, "", fact)
    assert answers.CLOSEST_LEAD in text and fact["text"] in text and _length(text) <= 400
    assert text.index(answers.summary(service)) < text.index(answers.CLOSEST_LEAD)   # the summary stays first
    too_long = dict(fact, text="很长的事实。" * 60)
    assert answers.summary_text(service, "", too_long) == answers.summary_text(service)


def test_a_near_fact_follows_the_summary_in_the_reply_and_the_console_preview(published):
    """Near but not sure (under the threshold): the summary, then the nearer fact."""
    from console.preview import answer_for
    from miyun.knowledge import answers

    question = "调解能不能叫上亲戚一起"
    text, _, _ = _ask(question, "ask_mediation")
    assert text.startswith("【人民调解与“说法评理”】\n人民调解是") and answers.CLOSEST_LEAD in text and _length(text) <= 400
    shown = text.split(answers.CLOSEST_LEAD, 1)[1]
    store = ContentStore(published.content_db)
    assert any(f["text"] in shown for f in store.service("mediation")["more_facts"])
    preview = answer_for(store, "services", "mediation", question, 0.0)
    assert preview.text == text and "相似度" in preview.note                      # staff see what residents get


def test_the_services_own_name_does_not_make_facts_alike():
    service = _service([_fact("测试服务的协议生效吗"), _fact("会保密吗")])
    found = more_facts.best(service, normalize("测试服务怎么样"), TABLE)
    assert found.fact is None and found.score == 0


# ---------------------------------------------------------------- the action (rasa-sdk style)


def test_a_fact_question_gets_that_fact_first_with_basis_and_buttons(published):
    text, found, events = _ask("调解协议书按了手印就马上生效吗", "ask_mediation")
    assert text.startswith("【人民调解与“说法评理”】\n" + EFFECT)
    assert "法律依据：《中华人民共和国人民调解法》第二十九条、第三十条" in text and "待工作人员核实" not in text
    assert _length(text) <= 400 and text.rstrip().endswith("需要帮助请拨打12348公共法律服务热线。")
    titles = [b["title"] for b in found]
    assert {"收费", "材料", "多久", "不服怎么办", "完整说明"} <= set(titles)
    assert _slot(events) == "mediation"


def test_an_unverified_fact_says_to_confirm_with_12348(isolated, content_copy):
    from miyun.knowledge import publish

    source = "        source: 信访工作条例（2022年）第十八条第四款、第四十六条第六项（LawRefBook/Laws 行政法规/信访工作条例.md）\n"
    _edit(content_copy / "services.yml", source + "        verified: 2026-12-01", source + "        verified: false")
    publish.publish(isolated, "pytest", "one fact not yet checked")
    text, _, events = _ask("信访的人会不会被人打击报复", "ask_petition")
    assert text.startswith("【信访】\n任何组织和个人不得打击报复信访人")
    assert "（此项待工作人员核实，请拨打12348确认）" in text and _length(text) <= 400 and _slot(events) == "petition"


@pytest.mark.parametrize("action, intent", [(ActionFallback(), "nlu_fallback"), (ActionAnswerLegalQuestion(), "ask_legal_question"),
                                            (ActionAnswerService(), "out_of_scope")])
def test_a_fact_asked_as_a_follow_up_resolves_to_the_remembered_service(published, action, intent):
    text, _, events = _ask("会罚得比原来更重吗", intent, slots={SLOT: "admin_reconsideration"}, action=action)
    assert text.startswith("【行政复议】\n不会更重：行政复议机关不得作出对申请人更为不利的变更决定") and _slot(events) == "admin_reconsideration"


def test_a_named_service_wins_over_the_remembered_one_for_facts_too(published):
    text, _, events = _ask("法律援助的律师会把我的隐私说出去吗", "ask_legal_aid", slots={SLOT: "mediation"})
    assert text.startswith("【法律援助】\n会保密") and _slot(events) == "legal_aid"


def test_an_aspect_question_still_gets_the_aspect(published):
    text, _, _ = _ask("调解收钱吗", "ask_mediation")
    assert text.startswith("【人民调解与“说法评理” · 收费】\n免费")


def test_a_general_question_still_gets_the_summary(published):
    text, _, _ = _ask("想了解一下人民调解", "ask_mediation")
    assert text.startswith("【人民调解与“说法评理”】\n人民调解是")


def test_a_fact_and_the_aspect_it_also_asks_fit_in_one_reply(published):
    text, _, _ = _ask("调解协议从哪天起生效，调解要多长时间", "ask_mediation")
    assert text.startswith("【人民调解与“说法评理”】\n" + EFFECT)
    assert "【人民调解与“说法评理” · 多久】" in text and "30日内" in text and _length(text) <= 400


def test_every_fact_reply_is_short(published):
    store = ContentStore(published.content_db)
    for service in store.services():
        for fact in service.get("more_facts") or []:
            for question in fact["questions"]:
                text, _, _ = _ask(question, service["intent"])
                assert _length(text) <= 400, (service["id"], question, _length(text))


@pytest.mark.parametrize("text, negated", [("哪些材料政府不给公开", True), ("政府信息不能公开的有哪些", True),
                                           ("老板欠俺工钱不给，能找法援吗", False), ("给不给公开", False)])
def test_refusing_to_disclose_is_negated_but_unpaid_wages_are_not(text, negated):
    """不给 + what the office does (公开, 办, 受理 …) negates; money not given (工钱不给) is the dispute."""
    cleaned = more_facts.clean(normalize(text))
    assert bool(more_facts._NEGATED.search(cleaned)) is negated
