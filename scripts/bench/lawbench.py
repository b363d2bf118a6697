"""10. LawBench: figures from reports/evaluation.json and the manual-review sample (bench/manual_review.yml)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import yaml

from scripts.bench.common import EVALUATION, Http, LAWBENCH, REVIEW_FILE, ROOT, SEED
from scripts.bench.stack import Stack


def review_sample(n: int = 20, seed: int = SEED) -> list[str]:
    questions = json.loads(LAWBENCH.read_text(encoding="utf-8"))["questions"]
    return random.Random(seed).sample(questions, n)


def review_intents(stack: Stack, results: dict) -> None:
    """The intent Rasa gives each manual-review question (an ask_legal_question goes to search)."""
    client = Http(stack.url, token=stack.token)
    out = {}
    for q in review_sample():
        _, body = client.post("/model/parse", {"text": q})
        out[q] = {"intent": ((body or {}).get("intent") or {}).get("name"),
                  "confidence": round(((body or {}).get("intent") or {}).get("confidence") or 0, 2)}
    client.close()
    results["_review_intents"] = out


def qkey(q: str) -> str:
    return hashlib.sha1(q.encode("utf-8")).hexdigest()[:10]


def bench_lawbench(tmp: Path, results: dict) -> None:
    out: dict[str, Any] = {}
    if EVALUATION.exists():
        ev = json.loads(EVALUATION.read_text(encoding="utf-8"))
        out["evaluation"] = {
            "file": str(EVALUATION.relative_to(ROOT)),
            "written": dt.datetime.fromtimestamp(EVALUATION.stat().st_mtime).isoformat(timespec="seconds"),
            "lawbench_questions": ev.get("lawbench", {}).get("questions"),
            "lawbench_legal_share": ev.get("lawbench", {}).get("lawbench_legal_share"),
            "lawbench_intents": ev.get("lawbench", {}).get("intents"),
            "confident_article_share": ev.get("lawbench_search", {}).get("confident_article_share"),
            "honest_fallback_share": ev.get("lawbench_search", {}).get("honest_fallback_share"),
            "intent_accuracy_served": ev.get("nlu", {}).get("intent_accuracy_served"),
            "search_recall_at_1": ev.get("search", {}).get("search_recall_at_1"),
        }
    else:
        out["evaluation"] = None
    if LAWBENCH.exists():
        from miyun.knowledge import matcher
        from miyun.knowledge.store import ContentStore

        db = Path(results["_real_db"]) if results.get("_real_db") else None
        if db is None or not db.is_file():
            from miyun.knowledge import build

            db = tmp / "review-content.db"
            build.build(ROOT / "content", db, ROOT / "content" / "dictionary")
        store = ContentStore(db)
        threshold = matcher.Parameters.load().answer_at
        intents = results.get("_review_intents") or {}
        sample = []
        for q in review_sample():
            r = matcher.match(store, q)
            best = r.best.article if r.best else None
            confident = r.decision == matcher.ANSWER
            sample.append({
                "key": qkey(q), "question": q,
                "intent": (intents.get(q) or {}).get("intent"),
                "article": best["id"] if best and confident else None,
                "article_title": best["title"] if best and confident else None,
                "best_candidate": best["id"] if best else None,
                "confidence": round(r.confidence, 2), "confident": confident, "decision": r.decision,
            })
        out["review_sample"] = sample
        out["review_threshold"] = threshold
        out["judgement"] = judge(sample)
        print("\n--- LawBench manual-review sample (search over the real articles) ---")
        for i, s in enumerate(sample, 1):
            chosen = f"{s['article']} 《{s['article_title']}》" if s["article"] else f"fallback (best {s['best_candidate']})"
            print(f"{i:2d}. [{s['intent']}] {s['question'][:70]}\n     -> {chosen}  conf {s['confidence']}")
    results["lawbench"] = out


def judge(sample: list[dict]) -> dict[str, Any]:
    """Match the sample against the human judgements kept in bench/manual_review.yml."""
    if not REVIEW_FILE.exists():
        return {"file": None}
    data = yaml.safe_load(REVIEW_FILE.read_text(encoding="utf-8")) or {}
    verdicts = {v["key"]: v for v in data.get("verdicts") or []}
    judged, stale = [], []
    for s in sample:
        v = verdicts.get(s["key"])
        if v is None or v.get("article") != s["article"]:
            stale.append(s["key"])
            continue
        judged.append({**v, "confident": s["confident"]})
    confident = [v for v in judged if v["confident"]]
    counts: dict[str, int] = {}
    for v in confident:
        counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
    fallbacks = [v for v in judged if not v["confident"]]
    fb_counts: dict[str, int] = {}
    for v in fallbacks:
        fb_counts[v["verdict"]] = fb_counts.get(v["verdict"], 0) + 1
    return {
        "file": str(REVIEW_FILE.relative_to(ROOT)), "reviewer": data.get("reviewer"), "date": data.get("date"),
        "summary": data.get("summary"), "judged": len(judged), "stale": stale,
        "confident_answers": len(confident), "confident_verdicts": counts,
        "fallbacks": len(fallbacks), "fallback_verdicts": fb_counts, "verdicts": {v["key"]: v for v in judged},
    }
