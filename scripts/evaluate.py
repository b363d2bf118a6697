"""Quality gates: held-out NLU, town entities, LawBench routing, and article search.

`python -m scripts.evaluate` prints the figures and writes reports/; with `--gate` it
exits non-zero when any figure is below its target.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
LAWBENCH = ROOT.parent / "shared" / "eval" / "lawbench_3-8_questions.json"

# Intents that are a sensible place for a resident's legal question to land.
LEGAL_INTENTS = {
    "ask_legal_question", "ask_legal_aid", "ask_mediation", "request_mediation", "ask_admin_reconsideration",
    "ask_info_disclosure", "ask_petition", "ask_hotline", "find_service_station", "check_referral_status", "emergency",
    "request_document",
}
TARGETS = {
    "intent_accuracy_served": 0.92,
    "town_f1": 0.90,
    "lawbench_legal_share": 0.90,
    # Floors under what the matcher measures on the 530-article corpus (search_eval counts `also`):
    # a change that makes retrieval worse fails. Raised on 2026-12-01 after every article got residents'
    # story phrasings: 0.787 → 0.840 and 0.912 → 0.954 (after the original 117 alone: 0.890 and 0.970;
    # the other 413 then took some short questions to sibling articles that `also` does not list, while
    # story_eval rose 0.692 → 0.710). Raised again on 2026-12-02 after four more phrasings per article
    # (consultation-style and stories, 12 → 16): 0.871 → 0.882 and 0.966 → 0.973. Issue 11's targets: ISSUE_TARGETS.
    "search_recall_at_1": 0.86,
    "search_recall_at_3": 0.96,
}
# Negatives answered with an article (or a clarifying question) are wrong answers; keep them rare.
MAX_NEGATIVES_ANSWERED = 0.05
# The held-out resident stories (issue 11): written by someone who never saw the articles,
# labelled with article ids afterwards. Gated only when the labelled files are there; only
# story_eval is gated (the thresholds were calibrated on story_calibration, which is reported).
STORY_SETS = {"story_eval": ROOT / "tests" / "story_eval.yml", "story_calibration": ROOT / "tests" / "story_calibration.yml",
              "story_calibration_2": ROOT / "tests" / "story_calibration_2.yml"}
STORY_TARGETS = {"recall_at_1": 0.75}   # 0.742 → 0.778 on 2026-12-02 (16 phrasings per article)
STORY_MAX = {"wrong_confident": 0.03, "negatives_answered": 0.05}   # issue 11's limits
# What issue 11 asks for; reported as met / not met, not yet gated (see reports/evaluation.md).
ISSUE_TARGETS = {"search_recall_at_1": (">=", 0.882), "search_recall_at_3": (">=", 0.95), "story_eval.recall_at_1": (">=", 0.85),
                 "story_eval.wrong_confident": ("<=", 0.03), "story_eval.negatives_answered": ("<=", 0.05)}


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": tp + fn}


def evaluate_nlu(parser, heldout: Path) -> dict:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(heldout))
    synonyms = load_data(str(ROOT / "nlu" / "towns.yml")).entity_synonyms
    served = raw = 0
    counts = defaultdict(lambda: Counter())
    ent = Counter()
    errors = []
    examples = data.intent_examples
    for ex in examples:
        result = parser.parse(ex.get("text"))
        gold = ex.get("intent")
        top = result["intent"]["name"]
        ranked = next(r["name"] for r in result["intent_ranking"] if r["name"] != "nlu_fallback")
        served += top == gold
        raw += ranked == gold
        if top != gold:
            errors.append({"text": ex.get("text"), "expected": gold, "served": top, "confidence": round(result["intent"]["confidence"], 3)})
        counts[gold]["tp" if top == gold else "fn"] += 1
        if top != gold:
            counts[top]["fp"] += 1
        gold_towns = Counter(synonyms.get(e["value"], e["value"]) for e in ex.get("entities") or [] if e["entity"] == "town")
        got_towns = Counter(e["value"] for e in result.get("entities") or [] if e["entity"] == "town")
        ent["tp"] += sum((gold_towns & got_towns).values())
        ent["fp"] += sum((got_towns - gold_towns).values())
        ent["fn"] += sum((gold_towns - got_towns).values())
    n = len(examples)
    per_intent = {i: _prf(c["tp"], c["fp"], c["fn"]) for i, c in sorted(counts.items())}
    return {
        "examples": n,
        "intent_accuracy_served": round(served / n, 4),
        "intent_accuracy_ignoring_fallback": round(raw / n, 4),
        "town_f1": _prf(ent["tp"], ent["fp"], ent["fn"])["f1"],
        "town_entities": dict(ent),
        "per_intent": per_intent,
        "errors": errors,
    }


def evaluate_lawbench(parser) -> dict:
    questions = json.loads(LAWBENCH.read_text(encoding="utf-8"))["questions"]
    landed = Counter(parser.parse(q)["intent"]["name"] for q in questions)
    legal = sum(c for i, c in landed.items() if i in LEGAL_INTENTS)
    return {"questions": len(questions), "lawbench_legal_share": round(legal / len(questions), 4), "intents": dict(landed.most_common())}


def evaluate_search(cases_file: Path) -> dict:
    """The article matcher on a labelled set (recall counts `id` or any `also`)."""
    from miyun import settings
    from miyun.knowledge import matcher
    from miyun.knowledge.store import ContentStore
    from miyun.text import load_dictionary
    from scripts.evaluate_matcher import evaluate_set

    cfg = settings.load()
    load_dictionary(cfg.dictionary_dir)
    r = evaluate_set(ContentStore(cfg.content_db), cases_file)
    params = matcher.Parameters.load()
    return {
        "cases": r["cases_with_article"],
        "threshold": f"answer at {params.answer_at}, clarify at {params.clarify_at}, likely at {params.likely_at}, suggest at {params.suggest_at}",
        "search_recall_at_1": r["recall_at_1"],
        "search_recall_at_3": r["recall_at_3"],
        "answered_correctly_and_confidently": round(r["answered_right"] / max(r["cases_with_article"], 1), 4),
        **{k: r[k] for k in ("decisions", "clarified_with_right_option", "suggested_with_right_option", "wrong_confident", "wrong_confident_examples",
                             "negatives", "negatives_answered", "negatives_answered_examples", "misses")},
    }


def evaluate_stories() -> dict:
    """The story-set figures for each labelled story file that exists."""
    from miyun import settings
    from miyun.knowledge.store import ContentStore
    from miyun.text import load_dictionary
    from scripts.evaluate_matcher import evaluate_set

    cfg = settings.load()
    load_dictionary(cfg.dictionary_dir)
    store = ContentStore(cfg.content_db)
    return {name: evaluate_set(store, path) for name, path in STORY_SETS.items() if path.exists()}


def lawbench_search_share() -> dict:
    """LawBench (evaluation only, never tuned on): curated article / statute / clarifying question / fallback."""
    from miyun import settings
    from miyun.knowledge.store import ContentStore
    from miyun.text import load_dictionary
    from scripts.evaluate_matcher import lawbench_split

    cfg = settings.load()
    load_dictionary(cfg.dictionary_dir)
    questions = json.loads(LAWBENCH.read_text(encoding="utf-8"))["questions"]
    split = lawbench_split(ContentStore(cfg.content_db), questions)
    return {
        **split,
        "confident_article_share": split["shares"]["article"],
        "honest_fallback_share": split["shares"]["fallback"],
    }


def markdown(nlu: dict, lawbench: dict, search_eval: dict, stories: dict | None = None, split: dict | None = None) -> str:
    lines = ["# NLU and search evaluation", "", "Written by `make evaluate` / `make test`.", ""]
    lines += [
        f"- held-out examples: {nlu['examples']}",
        f"- intent accuracy as served (fallback counts as wrong): **{nlu['intent_accuracy_served']:.3f}** (target ≥ {TARGETS['intent_accuracy_served']})",
        f"- intent accuracy ignoring fallback (what `rasa test nlu` reports): {nlu['intent_accuracy_ignoring_fallback']:.3f}",
        f"- `town` entity F1 (canonical values): **{nlu['town_f1']:.3f}** (target ≥ {TARGETS['town_f1']})",
        f"- LawBench 3-8 questions landing on a legal intent: **{lawbench['lawbench_legal_share']:.3f}** of {lawbench['questions']} (target ≥ {TARGETS['lawbench_legal_share']})",
        f"- search recall@1 **{search_eval['search_recall_at_1']:.3f}**, recall@3 **{search_eval['search_recall_at_3']:.3f}** on {search_eval['cases']} cases; "
        f"wrong confident answers {search_eval['wrong_confident']:.3f}; negatives answered {search_eval['negatives_answered']:.3f} ({search_eval['threshold']})",
    ]
    for name, st in (stories or {}).items():
        lines.append(f"- {name}: recall@1 **{st['recall_at_1']:.3f}**, recall@3 {st['recall_at_3']:.3f} on {st['cases_with_article']} stories with an article "
                     f"({st['legal_cases']} legal); decisions {st['decisions']}; “可能是” guesses right {st['likely_right']}, wrong {st['likely_wrong']}; "
                     f"“哪一个” suggestions with the right article among the options {st['suggested_with_right_option']}; "
                     f"wrong confident answers **{st['wrong_confident']:.3f}**; "
                     f"negatives answered **{st['negatives_answered']:.3f}** of {st['negatives']}")
    if split:
        lines.append(f"- LawBench, all {split['questions']} questions (reporting only): curated article {split['article']}, “可能是” {split['likely']}, statute {split['statute']}, "
                     f"clarifying question {split['clarify']}, “哪一个” suggestion {split['suggest']}, fallback {split['fallback']} (statute tier: {split['statute_tier']})")
    lines += [
        "", "## Per intent (held-out)", "", "| intent | precision | recall | F1 | support |", "|---|---|---|---|---|",
    ]
    for intent, m in nlu["per_intent"].items():
        lines.append(f"| {intent} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    lines += ["", "## LawBench landing intents", "", "| intent | count |", "|---|---|"]
    lines += [f"| {i} | {c} |" for i, c in lawbench["intents"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gate", action="store_true", help="exit 1 when a figure misses its target")
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)
    os.environ.setdefault("MIYUN_VAR_DIR", str(ROOT / "var"))
    from miyun import settings
    from scripts.nlu_model import Parser

    parser = Parser()
    nlu = evaluate_nlu(parser, ROOT / "tests" / "nlu_heldout.yml")
    lawbench = evaluate_lawbench(parser)
    search_eval = evaluate_search(ROOT / "tests" / "search_eval.yml")
    stories = evaluate_stories()
    lb_search = lawbench_search_share()
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "evaluation.json").write_text(
        json.dumps({"nlu": nlu, "lawbench": lawbench, "search": search_eval, "stories": stories, "lawbench_search": lb_search},
                   ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    (REPORTS / "evaluation.md").write_text(markdown(nlu, lawbench, search_eval, stories, lb_search), encoding="utf-8")
    figures = {**{k: nlu[k] for k in ("intent_accuracy_served", "town_f1")}, "lawbench_legal_share": lawbench["lawbench_legal_share"],
               "search_recall_at_1": search_eval["search_recall_at_1"], "search_recall_at_3": search_eval["search_recall_at_3"]}
    failed = []
    for name, target in TARGETS.items():
        ok = figures[name] >= target
        failed += [] if ok else [name]
        print(f"{'✓' if ok else '✗'} {name:<28} {figures[name]:.3f}  (target ≥ {target})")
    neg_ok = search_eval["negatives_answered"] <= MAX_NEGATIVES_ANSWERED
    failed += [] if neg_ok else ["negatives_answered"]
    print(f"{'✓' if neg_ok else '✗'} {'search_negatives_answered':<28} {search_eval['negatives_answered']:.3f}  (target ≤ {MAX_NEGATIVES_ANSWERED})")
    if not stories:
        print("  story sets: tests/story_eval.yml and tests/story_calibration.yml not there yet (labelled copies of /work/heldout)")
    for name, st in stories.items():
        checks = [(k, st[k], t, st[k] >= t) for k, t in STORY_TARGETS.items()] + [(k, st[k], t, st[k] <= t) for k, t in STORY_MAX.items()]
        for key, value, target, ok in checks:
            # Only story_eval is a gate; the calibration set is reported (thresholds were chosen on it).
            if name == "story_eval" and not ok:
                failed.append(f"{name}.{key}")
            sign = "≥" if key in STORY_TARGETS else "≤"
            print(f"{'✓' if ok else '✗'} {name + ' ' + key:<28} {value:.3f}  (target {sign} {target}){'' if name == 'story_eval' else '  [reported]'}")
    measured = {"search_recall_at_1": search_eval["search_recall_at_1"], "search_recall_at_3": search_eval["search_recall_at_3"],
                **{f"story_eval.{k}": stories["story_eval"][k] for k in ("recall_at_1", "wrong_confident", "negatives_answered") if "story_eval" in stories}}
    for key, (sign, target) in ISSUE_TARGETS.items():
        if key in measured:
            met = measured[key] >= target if sign == ">=" else measured[key] <= target
            print(f"  issue 11 target {key} {sign} {target}: {measured[key]:.3f} {'met' if met else 'NOT MET yet'}")
    print(f"  intent accuracy ignoring fallback {nlu['intent_accuracy_ignoring_fallback']:.3f}; LawBench (all {lb_search['questions']}): "
          f"article {lb_search['article']}, likely {lb_search['likely']}, statute {lb_search['statute']}, clarify {lb_search['clarify']}, fallback {lb_search['fallback']} "
          f"(statute tier: {lb_search['statute_tier']})")
    print("  per-intent report: reports/evaluation.md, details: reports/evaluation.json")
    if args.gate and failed:
        print(f"gate failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
