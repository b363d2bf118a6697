"""Fit and measure the statute tier's confidence.

    python -m scripts.calibrate_statutes            # fit on tests/statute_calibration.yml, report both sets
    python -m scripts.calibrate_statutes --eval     # only measure (the model in statutes_rank.MODEL)

The confidence is a logistic model over statutes_rank.features(); the label is "the best hit is
one of the case's expected articles". The threshold is the lowest one keeping wrong answers ≤ 3% of
the calibration cases and precision ≥ 0.8. The evaluation set is never used to fit anything.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CALIBRATION = ROOT / "tests" / "statute_calibration.yml"
EVALUATION = ROOT / "tests" / "statute_eval.yml"
# The same rule as the curated gate: wrong confident answers ≤ 3% of all cases; and at least
# 4 in 5 quoted articles right.
MAX_WRONG_SHARE = 0.03
MIN_PRECISION = 0.8


def content_inputs(content_dir: Path):
    """The synonyms and residents' phrasings exactly as the published content store holds them."""
    import json as _json

    from miyun.knowledge import build, content
    from miyun.knowledge.statutes_rank import Residents

    rows = build.rows(content.load(content_dir))
    synonyms = {r["variant"]: r["term"] for r in rows["synonyms"]}
    articles = [{**a, **{k: _json.loads(a[k]) for k in ("questions", "tags", "legal_basis")}} for a in rows["articles"]]
    return synonyms, Residents.from_articles(articles)


def cases(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]


def key(article) -> str:
    return f"{article.law.short_name} {article.number}"


def run(lib, items: list[dict], inputs) -> list[dict]:
    from miyun.knowledge import statutes_rank

    out = []
    for case in items:
        result = lib.search(case["q"], 2, *inputs)
        expect = set(case.get("expect") or [])
        best = key(result.best.article) if result.best else None
        out.append({
            "q": case["q"], "expect": sorted(expect), "best": best, "confidence": result.confidence,
            "correct": bool(best and best in expect), "positive": bool(expect),
            "features": statutes_rank.features(result) if result.best else None, "result": result,
        })
    return out


def fit(rows: list[dict], steps: int = 4000, rate: float = 0.1, l2: float = 0.1) -> dict[str, float]:
    """Plain logistic regression by gradient descent (a handful of features, ~70 rows)."""
    data = [(r["features"], 1.0 if r["correct"] else 0.0) for r in rows if r["features"]]
    names = sorted(data[0][0])
    means = {n: sum(f[n] for f, _ in data) / len(data) for n in names}
    spread = {n: (sum((f[n] - means[n]) ** 2 for f, _ in data) / len(data)) ** 0.5 or 1.0 for n in names}
    w = {n: 0.0 for n in names}
    b = 0.0
    for _ in range(steps):
        gw = {n: 0.0 for n in names}
        gb = 0.0
        for f, y in data:
            z = b + sum(w[n] * (f[n] - means[n]) / spread[n] for n in names)
            p = 1 / (1 + math.exp(-max(-30, min(30, z))))
            for n in names:
                gw[n] += (p - y) * (f[n] - means[n]) / spread[n]
            gb += p - y
        for n in names:
            w[n] -= rate * (gw[n] / len(data) + l2 * w[n])
        b -= rate * gb / len(data)
    # Back to raw feature units, the form statutes_rank.confidence_from takes.
    model = {n: w[n] / spread[n] for n in names}
    model["bias"] = b - sum(w[n] * means[n] / spread[n] for n in names)
    return {k: round(v, 4) for k, v in model.items()}


def measure(rows: list[dict], threshold: float) -> dict:
    served = [r for r in rows if r["confidence"] >= threshold]
    right = [r for r in served if r["correct"]]
    positives = [r for r in rows if r["positive"]]
    negatives = [r for r in rows if not r["positive"]]
    return {
        "cases": len(rows), "positives": len(positives), "negatives": len(negatives),
        "served": len(served), "right": len(right),
        "precision": len(right) / len(served) if served else 1.0,
        "recall": len(right) / len(positives) if positives else 0.0,
        "negatives_served": sum(1 for r in served if not r["positive"]),
        "top1_any_confidence": sum(1 for r in positives if r["correct"]) / len(positives) if positives else 0.0,
    }


def choose_threshold(rows: list[dict]) -> float:
    """The lowest confidence cut keeping wrong answers ≤ 3% of cases and precision ≥ 0.8."""
    for t in sorted({round(r["confidence"], 3) for r in rows}):
        m = measure(rows, t)
        wrong = m["served"] - m["right"]
        if m["served"] and wrong <= MAX_WRONG_SHARE * m["cases"] and m["precision"] >= MIN_PRECISION:
            return t
    return 1.0


def fallback_rows(rows: list[dict]) -> list[dict]:
    """The rows the article matcher (on a fresh build of content/) falls back on: the only ones the
    statute tier is asked about on the answer path (actions/legal.py)."""
    import tempfile

    from miyun import settings as settings_mod
    from miyun.knowledge import build, matcher
    from miyun.knowledge.store import ContentStore

    cfg = settings_mod.load()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "content.db"
        build.build(cfg.content_dir, db, cfg.dictionary_dir)
        store = ContentStore(db)
        return [r for r in rows if matcher.match(store, r["q"]).decision == matcher.FALLBACK]


def write_markdown(report: dict, calib: list[dict], evaluation: list[dict], threshold: float) -> Path:
    """bench/statutes.md: the tier's figures and every evaluation case, for the hand check."""
    out = ROOT / "bench" / "statutes.md"
    lines = ["# Statute tier: calibration and evaluation", "",
             "Written by `python -m scripts.calibrate_statutes --eval --write`. Calibrated on "
             "`tests/statute_calibration.yml`, measured on `tests/statute_eval.yml` (written before tuning, never fitted).", "",
             f"Model: `{json.dumps(report['model'], ensure_ascii=False)}`; threshold **{threshold}** (`MIYUN_STATUTE_THRESHOLD`).", "",
             "| set | cases | negatives | served | right | precision | recall | negatives served | top-1 right (any confidence) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in ("calibration", "evaluation"):
        m = report[name]
        lines.append(f"| {name} | {m['cases']} | {m['negatives']} | {m['served']} | {m['right']} | {m['precision']:.2f} | "
                     f"{m['recall']:.2f} | {m['negatives_served']} | {m['top1_any_confidence']:.2f} |")
    fallback = fallback_rows(evaluation)
    served = [r for r in fallback if r["confidence"] >= threshold]
    lines += ["", f"On the answer path the tier runs only when the article matcher falls back: that is "
              f"{len(fallback)} of the {len(evaluation)} evaluation cases, of which the tier served {len(served)} "
              f"({sum(1 for r in served if r['correct'])} right). Its residents' phrasings come from the curated "
              "articles, so where it is right the curated answer usually already was."]
    lines += ["", "## Evaluation cases", "", "✓ served and right · ✗ served and wrong · – not served (fallback)", ""]
    for r in evaluation:
        mark = ("✓" if r["correct"] else "✗") if r["confidence"] >= threshold else "–"
        lines.append(f"- {mark} {r['confidence']:.3f} {r['q']} → {r['best'] or '—'} (expected: {'、'.join(r['expect']) or 'none'})")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval", action="store_true", help="measure only, with the current model and threshold")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--write", action="store_true", help="with --eval: write the figures to bench/statutes.md")
    args = parser.parse_args(argv)
    from miyun import settings as settings_mod
    from miyun.knowledge import statutes, statutes_rank

    cfg = settings_mod.load()
    lib = statutes.library()
    synonyms = content_inputs(cfg.content_dir)
    calib = run(lib, cases(CALIBRATION), synonyms)
    if args.eval:
        threshold = cfg.statute_threshold
    else:
        statutes_rank.MODEL.clear()
        statutes_rank.MODEL.update(fit(calib))
        calib = run(lib, cases(CALIBRATION), synonyms)
        threshold = choose_threshold(calib)
    evaluation = run(lib, cases(EVALUATION), synonyms)
    report = {"model": statutes_rank.MODEL, "threshold": threshold, "calibration": measure(calib, threshold)}
    if args.eval:
        report["evaluation"] = measure(evaluation, threshold)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if args.write and args.eval:
        write_markdown(report, calib, evaluation, threshold)
    if args.verbose:
        # While tuning, only the calibration rows are looked at; the evaluation set's only with --eval.
        for name, rows in (("calibration", calib), *((("evaluation", evaluation),) if args.eval else ())):
            print(f"\n== {name}")
            for r in rows:
                mark = "✓" if r["correct"] else ("·" if r["confidence"] < threshold else "✗")
                print(f"{mark} {r['confidence']:.3f} {r['q'][:28]:<30} best={r['best']} expect={r['expect']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
