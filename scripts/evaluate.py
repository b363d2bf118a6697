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
    "search_recall_at_1": 0.85,
    "search_recall_at_3": 0.95,
}
# Negatives answered with an article are wrong answers; keep them rare.
MAX_NEGATIVES_ANSWERED = 0.10


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


def evaluate_search(cases_file: Path, threshold: float) -> dict:
    from miyun import settings
    from miyun.knowledge import search
    from miyun.knowledge.store import ContentStore
    from miyun.text import load_dictionary

    cfg = settings.load()
    load_dictionary(cfg.dictionary_dir)
    store = ContentStore(cfg.content_db)
    data = yaml.safe_load(cases_file.read_text(encoding="utf-8"))
    at1 = at3 = answered_right = 0
    misses = []
    for case in data["cases"]:
        result = search.search(store, case["q"], threshold, limit=3)
        ids = [h.article["id"] for h in result.hits]
        at1 += ids[:1] == [case["id"]]
        at3 += case["id"] in ids
        answered_right += result.confident and ids[:1] == [case["id"]]
        if ids[:1] != [case["id"]]:
            misses.append({"q": case["q"], "expected": case["id"], "got": ids, "confidence": round(result.confidence, 2)})
    negatives = data.get("negatives") or []
    wrongly_answered = [n["q"] for n in negatives if search.search(store, n["q"], threshold).confident]
    n = len(data["cases"])
    return {
        "cases": n,
        "threshold": threshold,
        "search_recall_at_1": round(at1 / n, 4),
        "search_recall_at_3": round(at3 / n, 4),
        "answered_correctly_and_confidently": round(answered_right / n, 4),
        "negatives": len(negatives),
        "negatives_answered": round(len(wrongly_answered) / max(len(negatives), 1), 4),
        "negatives_answered_examples": wrongly_answered,
        "misses": misses,
    }


def lawbench_search_share(threshold: float) -> dict:
    from miyun import settings
    from miyun.knowledge import search
    from miyun.knowledge.store import ContentStore

    store = ContentStore(settings.load().content_db)
    questions = json.loads(LAWBENCH.read_text(encoding="utf-8"))["questions"]
    results = [search.search(store, q, threshold) for q in questions]
    confident = [r for r in results if r.confident]
    sample = [{"q": r.query[:80], "article": r.best.article["id"], "confidence": round(r.confidence, 2)} for r in confident[:25]]
    return {
        "questions": len(questions),
        "confident_article_share": round(len(confident) / len(questions), 4),
        "honest_fallback_share": round(1 - len(confident) / len(questions), 4),
        "sample_confident": sample,
    }


def markdown(nlu: dict, lawbench: dict, search_eval: dict) -> str:
    lines = ["# NLU and search evaluation", "", "Written by `make evaluate` / `make test`.", ""]
    lines += [
        f"- held-out examples: {nlu['examples']}",
        f"- intent accuracy as served (fallback counts as wrong): **{nlu['intent_accuracy_served']:.3f}** (target ≥ {TARGETS['intent_accuracy_served']})",
        f"- intent accuracy ignoring fallback (what `rasa test nlu` reports): {nlu['intent_accuracy_ignoring_fallback']:.3f}",
        f"- `town` entity F1 (canonical values): **{nlu['town_f1']:.3f}** (target ≥ {TARGETS['town_f1']})",
        f"- LawBench 3-8 questions landing on a legal intent: **{lawbench['lawbench_legal_share']:.3f}** of {lawbench['questions']} (target ≥ {TARGETS['lawbench_legal_share']})",
        f"- search recall@1 **{search_eval['search_recall_at_1']:.3f}**, recall@3 **{search_eval['search_recall_at_3']:.3f}** on {search_eval['cases']} cases; "
        f"negatives answered {search_eval['negatives_answered']:.3f} (threshold {search_eval['threshold']})",
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
    threshold = settings.load().search_threshold
    search_eval = evaluate_search(ROOT / "tests" / "search_eval.yml", threshold)
    lb_search = lawbench_search_share(threshold)
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "evaluation.json").write_text(
        json.dumps({"nlu": nlu, "lawbench": lawbench, "search": search_eval, "lawbench_search": lb_search}, ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    (REPORTS / "evaluation.md").write_text(markdown(nlu, lawbench, search_eval), encoding="utf-8")
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
    print(f"  intent accuracy ignoring fallback {nlu['intent_accuracy_ignoring_fallback']:.3f}; "
          f"LawBench confident article {lb_search['confident_article_share']:.3f}, honest fallback {lb_search['honest_fallback_share']:.3f}")
    print("  per-intent report: reports/evaluation.md, details: reports/evaluation.json")
    if args.gate and failed:
        print(f"gate failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
