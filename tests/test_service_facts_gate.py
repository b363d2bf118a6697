"""Gate: one-fact service questions from independent writers, through the real Rasa (NLU, policies)
and the real action server. A case passes when its reply is at most 400 characters and contains an
expected fact. The per-question results go to reports/service_facts[_2].json.

- Set 1 (tests/service_facts_eval.yml): its misses were read and the content gaps behind them filled
  (2026-12-01: 司法确认 30日, 复议 5日审查 and 上一级, 调解协议效力, 信访 15日 and 不予受理), so it is a
  tuned-on figure and a regression guard.
- Set 2 (tests/service_facts_eval_2.yml): written afterwards by a writer who read neither the content
  nor set 1. Measured 0.571 on first run; then used as the development set (its misses led to the
  spoken-word reading, more keywords, the named-service rule and facts added to aspects), so it is
  tuned-on too.
- Set 3 (tests/service_facts_eval_3.yml): written at the same time by a third writer who read neither
  the content nor sets 1–2; run after all the changes (0.803), and never used to change anything. Its
  figure is the result. (It was run once more with an extra rule tried on set 2, a best-overlap
  aspect guess; set 3 went to 0.789 without reading its misses, and the rule was dropped.)
- 2026-12-01, more facts (services.yml › more_facts, one-fact answers beyond the nine aspects, written
  from the law texts, recognised by miyun/knowledge/more_facts.py; threshold chosen on sets 1–2):
  set 1 0.988 → 0.988, set 2 0.779 → 0.870, set 3 0.803 → 0.829 (its misses not read). Floors of sets 1
  and 2 raised to the new figures.
- 2026-12-01, later: set 3's misses were read (it became a development set), and 81 more facts were
  written from the law texts by a helper who read no set; the petition entry was rewritten on the
  official 信访工作条例; flows' first messages that ask a fact are answered. Sets 1–3: 0.988 / 0.961 /
  0.974.
- Set 4 (tests/service_facts_eval_4.yml): written by a fourth writer from the law texts only, run once
  after those changes: 0.819. Its misses were then read and led to a few keywords, one fact and one
  phrasing (0.875), so it is tuned-on too.
- Set 5 (tests/service_facts_eval_5.yml): written by a fifth writer at the same time, from the law
  texts only, run once after everything, misses never read: 0.788.
- 2026-12-02: set 5's misses were read (it became a development set): misspelt or colloquial service
  names (免费打官司, 说和, 資訊), remedy words (没谈拢, 维权, 复议输了), three facts (调委会 3–9 委员, oral
  复议 application, 复议前置 worded 应当先), and a drafting word that is negated (不写申请书) or asked of
  the hotline no longer opens a draft. Set 5: 0.788 → 0.924.
- Set 6 (tests/service_facts_eval_6.yml): written by a sixth writer from the law texts only, run once
  after those changes: 0.824. Its misses were then read (it became a development set): phrasings, a
  fact on 主动公开 within 20 working days, remedy words (偏向, 向着对方), 工钱不给 as a dispute, and a
  service fact asked without naming the service (actions.aspects.unnamed_fact).
- Set 7 (tests/service_facts_eval_7.yml): written by a seventh writer from the law texts only, run after
  those changes: 0.806.
  (Sets 5 and 6 after their misses were read: 0.939 and 0.926.)
- 2026-12-02, later: set 7's misses were read (it became a development set): common typos corrected
  before everything (miyun.text.TYPOS: 申清, 条解, 多常时间 …), keywords (换个人, 交给谁, 时间限制), names
  of legal aid (不要钱的律师), phrasings. Set 7: 0.806 → 0.931.
- Set 8 (tests/service_facts_eval_8.yml): written by an eighth writer from the law texts only, run once
  after those changes: 0.792. Its misses are not read. Then a near fact under the threshold was shown
  beside the summary (more_facts.CLOSEST_AT, chosen on sets 1–7): sets 6 / 7 / 8 went to 0.941 / 0.958 /
  0.819 (set 8's second run, its misses still unread).
- 2026-12-02, later still: four helpers who read only the facts (no set) wrote 293 more phrasings, up to 8
  a fact; 2 that led another fact's phrasing astray were dropped (leave-one-out). Sets 1–7: 1.0 / 0.974 /
  0.974 / 0.875 / 0.939 / 0.941 / 0.958; set 8 (fourth run, misses never read): 0.861. A second round
  from the same kind of helpers (up to 12 a fact: more_facts.QUESTIONS_MAX; 456 written, 3 dropped by
  leave-one-out), kept on sets 1–7 (set 2 0.974 → 0.987, set 7 0.958 → 0.972, none lower): set 8 0.861.
- Set 9 (tests/service_facts_eval_9.yml): written by a ninth writer from the law texts only, while the
  phrasings were written, run once after everything, misses never read: 0.833. That and set 8's 0.861
  are the results; the issue's 0.95 is not met.
- 2026-12-02 (next session): set 8's misses were read (it became a development set). A custody place
  (看守所, 监狱) after 被关在 is no danger (nlu/safety.yml); an aspect keyword named by any of the fact's
  phrasings, not only the matched one, lets the fact lead; "还能申请复议不" no longer reads as 不服 the
  复议; money a dispute is about (养老钱, 赡养费) is no fee question; 写上啥 asks the materials; a short
  question one service's fact clearly answers gets it when the articles are unsure (clarify or
  suggest), not only when they fall back; three phrasings reworded. Sets 4 / 5 / 6 / 8: 0.889 / 0.970 /
  0.971 / 0.986; set 9 (misses never read): 0.833 → 0.861.
- Set 10 (tests/service_facts_eval_10.yml): written by a tenth writer from the law texts only, run once
  after those changes: 0.736. That and set 9's 0.861 are the results.
- 2026-12-02 (third session): set 9's misses were read (it became a development set): 不给 + what the
  office does (不给公开, 不给办) is negated; 上班 alone no longer asks opening hours; 不上心 / 敷衍 ask the
  remedy; the 第12条 fact says 不属于行政复议范围 as the law does; a few phrasings. Set 9: 0.861 → 0.931.
- Set 11 (tests/service_facts_eval_11.yml): written by an eleventh writer from the law texts only, run
  once after those changes (offline check, service given: 0.667; set 10 in the same check 0.806 →
  0.833). Its misses were then read (it became a development set): five phrasings added, two reworded.
  Gate after that: set 11 0.667, set 10 (misses never read) 0.750 → 0.778.
  Six of its eight hotline questions expect facts no verified source here gives (免费, 24小时, 010-12348,
  the website): the entry keeps them unverified and sends the resident to 12348, so they stay misses.
  Set 10 is the one set whose misses were never read.
- Set 12 (tests/service_facts_eval_12.yml): written by a twelfth writer from the law texts (and, for
  the hotline, the district report) only, run once (offline check, service given): 0.806; set 10 in
  the same check 0.833. Its misses were then read (it is a development set now). Four facts written
  from them (直接起诉 6个月, 劳动争议调解 15日, where 主动公开 information is published, hearings at
  信访复核) were taken out again: the leave-one-out test showed them drawing other facts' phrasings.
  Floor provisional (0.72) until a gate run on this content. Set 10 is still the one set whose misses
  were never read.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.95   # the figure
LIMIT = 400
# (cases, report, floor): the floor is what each set measured when it was added, so nothing gets worse.
SETS = {
    "set1": ("service_facts_eval.yml", "service_facts.json", 0.98),
    "set2": ("service_facts_eval_2.yml", "service_facts_2.json", 0.97),
    "set3": ("service_facts_eval_3.yml", "service_facts_3.json", 0.97),
    "set4": ("service_facts_eval_4.yml", "service_facts_4.json", 0.86),
    "set5": ("service_facts_eval_5.yml", "service_facts_5.json", 0.95),
    "set6": ("service_facts_eval_6.yml", "service_facts_6.json", 0.95),
    "set7": ("service_facts_eval_7.yml", "service_facts_7.json", 0.97),
    "set8": ("service_facts_eval_8.yml", "service_facts_8.json", 0.97),
    "set9": ("service_facts_eval_9.yml", "service_facts_9.json", 0.92),
    "set10": ("service_facts_eval_10.yml", "service_facts_10.json", 0.77),
    "set11": ("service_facts_eval_11.yml", "service_facts_11.json", 0.65),
    "set12": ("service_facts_eval_12.yml", "service_facts_12.json", 0.72),
}


def _reply_text(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


@pytest.mark.parametrize("name", sorted(SETS))
def test_one_fact_service_questions(stack, name):
    cases_file, report, floor = SETS[name]
    cases = yaml.safe_load((ROOT / "tests" / cases_file).read_text(encoding="utf-8"))
    assert len(cases) >= 60, cases_file
    results = []
    for i, case in enumerate(cases):
        text = _reply_text(stack.say(f"facts-{name}-{i}", case["q"]))
        length = len("".join(text.split()))
        hit = any(str(e) in text for e in case["expect_any"])
        results.append({"q": case["q"], "service": case["service"], "aspect": case["aspect"], "ok": hit and length <= LIMIT,
                        "length": length, "found": hit, "reply": text})
    share = sum(r["ok"] for r in results) / len(results)
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / report).write_text(
        json.dumps({"share": round(share, 4), "target": TARGET, "floor": floor, "cases": results},
                   ensure_ascii=False, indent=2), encoding="utf-8")
    misses = [(r["q"], r["length"], r["reply"][:80]) for r in results if not r["ok"]]
    print(f"service facts {name}: {share:.3f} (issue target {TARGET}, floor {floor})")
    assert share >= floor, f"{share:.3f} < {floor}: {misses}"
