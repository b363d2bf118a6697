"""Gate: one-fact service questions from an independent writer (tests/service_facts_eval.yml, never
used to write keywords, training data or content), through the real Rasa (NLU, policies) and the
real action server. ≥ 95% must get a reply of at most 400 characters containing an expected fact.
The per-question results go to reports/service_facts.json."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "service_facts_eval.yml"
TARGET = 0.95
LIMIT = 400


def _reply_text(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def test_one_fact_service_questions(stack):
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    assert len(cases) >= 60
    results = []
    for i, case in enumerate(cases):
        text = _reply_text(stack.say(f"facts-{i}", case["q"]))
        length = len("".join(text.split()))
        hit = any(str(e) in text for e in case["expect_any"])
        results.append({"q": case["q"], "service": case["service"], "aspect": case["aspect"], "ok": hit and length <= LIMIT,
                        "length": length, "found": hit, "reply": text})
    share = sum(r["ok"] for r in results) / len(results)
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "service_facts.json").write_text(
        json.dumps({"share": round(share, 4), "target": TARGET, "cases": results}, ensure_ascii=False, indent=2), encoding="utf-8")
    misses = [(r["q"], r["length"], r["reply"][:80]) for r in results if not r["ok"]]
    assert share >= TARGET, f"{share:.3f} < {TARGET}: {misses}"
