"""The matcher's figures on a labelled set, and the four-way split of LawBench questions.

Sets come in two shapes, both read here:
* `tests/search_eval.yml`, `tests/search_calibration.yml`: `{cases: [{q, id}], negatives: [{q}]}`;
* `tests/story_eval.yml`, `tests/story_calibration.yml` (the held-out stories, labelled after the
  articles landed): a list (or `{cases: [...]}`) of `{q, id: <article id> | null, also: [ids], topic}`;
  `topic: NONE` marks a negative (nothing should answer it); a legal case with `id: null` has no
  fitting article, so any confident answer to it is wrong.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Optional

import yaml


def story_cases(path: Path) -> list[dict]:
    """[{q, ids, negative}] from either file shape."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        raw = list(data.get("cases") or []) + [{**n, "negative": True} for n in data.get("negatives") or []]
    else:
        raw = list(data or [])
    out = []
    for c in raw:
        negative = bool(c.get("negative")) or str(c.get("topic", "")).strip().upper() == "NONE"
        ids = [] if negative else [i for i in [c.get("id"), *(c.get("also") or [])] if i]
        out.append({"q": str(c["q"]), "ids": ids, "negative": negative})
    return out


def evaluate_set(store: Any, path: Path, params: Any = None) -> dict:
    """recall@1/@3 (over cases with an article), decisions, wrong confident answers (over all legal
    cases: an answer that is not an acceptable id, or a clarifying question offering none), and
    negatives answered (anything but the fallback). "Which of these?" suggestions are counted apart:
    a question with a way out, not a confident answer."""
    from miyun.knowledge import matcher

    cases = story_cases(path)
    legal = [c for c in cases if not c["negative"]]
    with_id = [c for c in legal if c["ids"]]
    at1 = at3 = wrong = right_answers = clarified_right = likely_right = likely_wrong = suggested_right = 0
    decisions: Counter = Counter()
    misses, wrong_examples = [], []
    for c in legal:
        m = matcher.match(store, c["q"], params)
        ids = [x.id for x in m.candidates]
        decisions[m.decision] += 1
        if c["ids"]:
            at1 += bool(ids[:1]) and ids[0] in c["ids"]
            at3 += any(i in c["ids"] for i in ids[:3])
            if not (ids[:1] and ids[0] in c["ids"]):
                misses.append({"q": c["q"][:80], "expected": c["ids"], "got": ids[:3], "confidence": round(m.confidence, 3)})
        if m.decision == matcher.ANSWER:
            ok = bool(ids[:1]) and ids[0] in c["ids"]
            right_answers += ok
        elif m.decision == matcher.CLARIFY:
            ok = any(i in c["ids"] for i in ids[:2])
            clarified_right += ok
        elif m.decision == matcher.SUGGEST:
            suggested_right += any(i in c["ids"] for i in ids[:matcher.SUGGEST_OPTIONS])
            continue
        else:
            # A "您问的可能是……" guess is not a confident answer: counted apart, right or wrong.
            if m.decision == matcher.LIKELY:
                right = bool(ids[:1]) and ids[0] in c["ids"]
                likely_right += right
                likely_wrong += not right
            continue
        if not ok:
            wrong += 1
            wrong_examples.append({"q": c["q"][:80], "expected": c["ids"], "decision": m.decision, "got": ids[:2],
                                   "confidence": round(m.confidence, 3)})
    negatives = [c for c in cases if c["negative"]]
    answered = [c["q"][:80] for c in negatives if matcher.match(store, c["q"], params).decision != matcher.FALLBACK]
    n = max(len(with_id), 1)
    return {
        "file": str(path.name),
        "legal_cases": len(legal),
        "cases_with_article": len(with_id),
        "recall_at_1": round(at1 / n, 4),
        "recall_at_3": round(at3 / n, 4),
        "decisions": dict(decisions),
        "answered_right": right_answers,
        "clarified_with_right_option": clarified_right,
        "likely_right": likely_right,
        "likely_wrong": likely_wrong,
        "suggested_with_right_option": suggested_right,
        "wrong_confident": round(wrong / max(len(legal), 1), 4),
        "wrong_confident_examples": wrong_examples,
        "negatives": len(negatives),
        "negatives_answered": round(len(answered) / max(len(negatives), 1), 4),
        "negatives_answered_examples": answered,
        "misses": misses,
    }


def statute_decider() -> Optional[Any]:
    """`text -> bool` (the statute tier would quote something), or None when the tier is absent."""
    try:
        from miyun.knowledge import statutes  # the statute tier (issue 11, part 2), when it is there
    except ImportError:
        return None
    from miyun import settings

    cfg = settings.load()
    threshold = getattr(cfg, "statute_threshold", None)
    if threshold is None or not hasattr(statutes, "quote"):
        return None

    def decide(text: str) -> bool:
        try:
            return bool(statutes.quote(statutes.search(text), threshold))
        except Exception:  # noqa: BLE001 - a missing index means the tier serves nothing
            return False

    return decide


OUTCOMES = ("article", "likely", "statute", "clarify", "suggest", "fallback")


def lawbench_split(store: Any, questions: list[str]) -> dict:
    """Each question's outcome: curated article / guess / clarifying question / suggestion / statute / fallback."""
    from miyun.knowledge import matcher

    statute = statute_decider()
    counts: Counter = Counter()
    for q in questions:
        m = matcher.match(store, q)
        if m.decision == matcher.ANSWER:
            counts["article"] += 1
        elif m.decision == matcher.LIKELY:
            counts["likely"] += 1
        elif m.decision == matcher.CLARIFY:
            counts["clarify"] += 1
        elif m.decision == matcher.SUGGEST:
            counts["suggest"] += 1
        elif statute is not None and statute(q):
            counts["statute"] += 1
        else:
            counts["fallback"] += 1
    n = max(len(questions), 1)
    return {
        "questions": len(questions),
        "statute_tier": "miyun.knowledge.statutes" if statute is not None else "absent (counted as fallback)",
        **{k: counts.get(k, 0) for k in OUTCOMES},
        "shares": {k: round(counts.get(k, 0) / n, 4) for k in OUTCOMES},
    }
