"""Fit the matcher's reranker weights, then calibrate its thresholds.

Weights: cross-validation over the articles' own phrasings. In each of 4 folds a quarter of
every article's questions is held out and a tenth of the articles is removed entirely; the
content is rebuilt without them and each held-out question is asked short and wrapped in a
resident's story (padding written here, never taken from an evaluation set). Questions of
removed articles are negatives: the matcher must learn what "no article fits" looks like.

Thresholds: chosen on the calibration sets only (tests/search_calibration.yml and, when they
exist, tests/story_calibration.yml and story_calibration_2.yml), never on search_eval, story_eval or LawBench.

    python -m scripts.fit_reranker            # refit weights and thresholds, write reranker.json
"""
from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
FOLDS = 4
SEED = 11

# Story padding written for this script from how residents talk; not from any evaluation set.
OPENINGS = ["", "", "您好，", "想咨询个事，", "俺是农村的，不太懂法，", "家里老人让我帮着问问，", "我在外地打工，", "我今年六十多了，",
            "这个事困扰我好几个月了，", "我们是普通老百姓，", "我闺女帮我打的字，", "我是石城镇的，", "我住在河南寨，",
            "打扰一下，", "有个事想请教，", "我老伴儿走得早，"]
CONTEXT = ["", "", "家里就靠种地过日子。", "孩子还小，老人身体也不好。", "找过村委会，没解决。", "我不太会用手机。", "去年冬天的事了。",
           "对方态度特别横。", "我心里一直不踏实。", "亲戚说让我认了算了。", "这事拖了快一年了。", "我们两家以前关系挺好的。",
           "我一个人在家，也没个商量的人。", "当时也没多想。"]
ENDINGS = ["", "", "我该怎么办？", "这种情况法律上怎么说？", "能不能给个主意？", "要准备什么材料？", "谢谢！", "在线等。", "这合法吗？",
           "去哪儿说理？"]


def story(question: str, rng: random.Random) -> str:
    parts = [rng.choice(OPENINGS), rng.choice(CONTEXT), question.rstrip("？?。") + "，", rng.choice(CONTEXT), rng.choice(ENDINGS)]
    if rng.random() < 0.5:
        parts[1], parts[2] = parts[2], parts[1]
    return "".join(parts)


def build_db(loaded, target: Path) -> None:
    from miyun.knowledge import build, store

    rows = build.rows(loaded)
    store.write_content_db(target, rows["services"], rows["stations"], rows["articles"], build.index_rows(rows["articles"]),
                           rows["synonyms"], loaded.settings, {"checksum": "fit"}, build.matcher_blobs(rows["articles"], rows["synonyms"]))


def cv_examples(rng: random.Random) -> list[dict]:
    """Per query: the gold id (or None) and the candidates' features."""
    from miyun import settings
    from miyun.knowledge import content as content_mod
    from miyun.knowledge import matcher
    from miyun.text import load_dictionary
    from miyun.knowledge.store import ContentStore

    cfg = settings.load()
    load_dictionary(cfg.dictionary_dir)
    loaded = content_mod.load(cfg.content_dir)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for fold in range(FOLDS):
            fold_content = copy.deepcopy(loaded)
            held, removed = [], []
            kept_articles = []
            for i, a in enumerate(fold_content.articles):
                qs = [str(q) for q in a.get("questions") or []]
                if i % (FOLDS * 3) == fold * 3:  # ~1 in 12 articles removed: its questions are negatives
                    removed += qs[:3]
                    continue
                out_q = [q for j, q in enumerate(qs) if j % FOLDS == fold]
                a["questions"] = [q for j, q in enumerate(qs) if j % FOLDS != fold]
                # Tags were written from the questions: a tag taken from a held-out question would leak it.
                a["tags"] = [t for t in a.get("tags") or [] if not any(str(t) in q for q in out_q)]
                held += [(q, a["id"]) for q in out_q]
                kept_articles.append(a)
            fold_content.articles = kept_articles
            db = Path(tmp) / f"fold{fold}.db"
            build_db(fold_content, db)
            store = ContentStore(db)
            for q, gold in held + [(q, None) for q in removed]:
                for text in (q, story(q, rng)):
                    _, _, _, cands = matcher.candidate_features(store, text)
                    out.append({"q": text, "gold": gold, "cands": cands})
            store._conn and store._conn.close()
    return out


def calibration_examples(cases: list[dict]) -> list[dict]:
    """The calibration cases' candidates on the live content (residents' own phrasings)."""
    from miyun import settings
    from miyun.knowledge import matcher
    from miyun.text import load_dictionary
    from miyun.knowledge.store import ContentStore

    cfg = settings.load()
    load_dictionary(cfg.dictionary_dir)
    store = ContentStore(cfg.content_db)
    return [{"q": c["q"], "golds": c["ids"], "cands": matcher.candidate_features(store, c["q"])[3]} for c in cases]


def own_question_examples(rng: random.Random) -> list[dict]:
    """Each article's own questions on the live content, as typed and wrapped in a story: a resident
    who types (nearly) the article's question must get it. The calibration sets alone never show the
    model a phrasing it indexed, so it learned to distrust a perfect match."""
    from miyun import settings
    from miyun.knowledge import matcher
    from miyun.knowledge.store import ContentStore
    from miyun.text import load_dictionary

    cfg = settings.load()
    load_dictionary(cfg.dictionary_dir)
    store = ContentStore(cfg.content_db)
    out = []
    for a in store.articles():
        for q in [str(x) for x in a.get("questions") or []]:
            for text in (q, story(q, rng)):
                out.append({"q": text, "golds": [a["id"]], "cands": matcher.candidate_features(store, text)[3]})
    return out


def cached_cv_examples() -> list[dict]:
    """The cross-validation examples, kept per content checksum (building the folds takes minutes)."""
    from miyun import settings
    from miyun.knowledge.store import ContentStore

    checksum = ContentStore(settings.load().content_db).meta().get("checksum", "none")
    path = ROOT / ".cache" / f"fit-cv-{checksum[:16]}.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    examples = cv_examples(random.Random(SEED))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(examples, ensure_ascii=False), encoding="utf-8")
    return examples


# Residents' real phrasings count more than the articles' own held-out questions. Since the corpus
# grew to 530 articles, many held-out questions are answered just as well by a sibling article, so
# the cross-validation labels are noisy: on a 2-fold split of the calibration sets, recall@1 was
# 0.58/0.59 (search/story) with them at weight 1, 0.73/0.72 without. So they are off by default.
CALIBRATION_WEIGHT = 6.0
CV_WEIGHT = 0.0
OWN_WEIGHT = 0.0  # own questions are matched word for word instead (matcher.VERBATIM_SIM)


def fit_weights(examples: list[dict], calibration: list[dict] = (), own: list[dict] = ()) -> tuple[dict[str, float], float]:
    """Pointwise logistic regression: is this candidate the right article?"""
    from sklearn.linear_model import LogisticRegression
    from miyun.knowledge.matcher import FEATURES

    X, y, w = [], [], []
    for ex, weight, golds in [(e, CV_WEIGHT, {e["gold"]}) for e in examples if CV_WEIGHT] + [(e, CALIBRATION_WEIGHT, set(e["golds"])) for e in calibration] \
            + [(e, OWN_WEIGHT, set(e["golds"])) for e in own]:
        for a, _, f in ex["cands"]:
            X.append([f[k] for k in FEATURES])
            y.append(int(a in golds))
            w.append(weight)
    model = LogisticRegression(C=3.0, max_iter=3000).fit(np.array(X), np.array(y), sample_weight=np.array(w))
    return {k: round(float(v), 4) for k, v in zip(FEATURES, model.coef_[0])}, round(float(model.intercept_[0]), 4)


# Residents' stories for calibration, each file written by someone who never read the articles and
# labelled afterwards. The limits below hold on the short questions and on the stories separately;
# the story files are pooled, since more cases make a threshold less a matter of one or two.
STORY_CALIBRATION = (ROOT / "tests" / "story_calibration.yml", ROOT / "tests" / "story_calibration_2.yml")


def calibration_cases() -> list[dict]:
    """{q, ids (acceptable article ids: id and also; empty for negatives), negative, set} from the
    calibration sets only."""
    from scripts.evaluate_matcher import story_cases

    cases = [{**c, "set": "search"} for c in story_cases(ROOT / "tests" / "search_calibration.yml")]
    for path in STORY_CALIBRATION:
        if path.exists():
            cases += [{**c, "set": "story"} for c in story_cases(path)]
    return cases


# A margin under the gates (3% wrong confident answers, 5% negatives answered).
MAX_WRONG = 0.025
MAX_NEGATIVES = 0.04
# And of the confident answers themselves (negatives answered included), at most this share wrong:
# issue 12's blind target. Without it, thresholds that answered more with the same share of all
# cases wrong passed, and on blind round 5 (real questions) 5 of 18 confident replies were wrong.
MAX_WRONG_SHARE = 0.03
# What a served resident is worth in the choice: a right answer 1, a clarifying question offering the
# right article 0.8, a "which of these" holding it 0.5 (one more tap, among three). A "which of these"
# question is asked only if, out of fold, it holds the right article at least 4 times in 5; it is a
# question, not an answer: a miss costs one tap on "都不是", the same way out as the fallback.
CLARIFY_VALUE = 0.8
SUGGEST_VALUE = 0.5
SUGGEST_PRECISION = 0.8
SUGGEST_GRID = (0.6, 0.7, 0.8, 0.9, 1.0, 9.0)  # 9.0: never


def out_of_fold(cases: list[dict], calibration: list[dict], examples: list[dict], own: list[dict] = (),
                folds: int = 3) -> list[tuple[dict, list[float], list[str]]]:
    """Each calibration case scored by weights fitted without it: thresholds chosen on these are
    honest (chosen on in-sample scores they came out too low, and a held-out set paid for it)."""
    from miyun.knowledge import matcher

    out: list = [None] * len(cases)
    for k in range(folds):
        train = [e for i, e in enumerate(calibration) if i % folds != k]
        weights, bias = fit_weights(examples, train, own)
        params = matcher.Parameters(weights, bias, 0.5, 0.7, 0.8)
        for i, (c, e) in enumerate(zip(cases, calibration)):
            if i % folds == k:
                ranked = sorted(((matcher.probability(f, params), a) for a, _, f in e["cands"]), reverse=True)[:5]
                out[i] = (c, [p for p, _ in ranked], [a for _, a in ranked])
    return out


def choose_thresholds(runs: list[tuple[dict, list[float], list[str]]]) -> dict:
    """The answer, clarify and suggest thresholds that serve the most residents right, with wrong
    confident answers and negatives shown anything under the limits (per set), confident answers
    wrong at most MAX_WRONG_SHARE of the time (pooled), and "which of these" questions holding the
    right article at least SUGGEST_PRECISION of the time (pooled)."""
    from miyun.knowledge import matcher

    k = matcher.SUGGEST_OPTIONS
    best = None
    for answer_at in np.arange(0.30, 0.99, 0.025):
        for clarify_at in np.arange(0.40, 1.41, 0.05):
            for close_ratio in (0.5, 0.6, 0.7, 0.8, 2.0):
                for suggest_at in SUGGEST_GRID:
                    p = matcher.Parameters({}, 0.0, float(answer_at), float(clarify_at), close_ratio, suggest_at=float(suggest_at))
                    ok, good = True, 0.0
                    answers = answers_wrong = suggested = suggested_right = 0
                    for name in {c["set"] for c, _, _ in runs}:
                        legal = wrong = neg = neg_shown = 0
                        for c, probs, ids in runs:
                            if c["set"] != name:
                                continue
                            d = matcher.decide(probs, [], p)
                            if c.get("negative"):
                                neg += 1
                                neg_shown += d != matcher.FALLBACK
                                answers += d == matcher.ANSWER
                                answers_wrong += d == matcher.ANSWER
                                continue
                            legal += 1
                            if d == matcher.ANSWER:
                                right = bool(ids[:1]) and ids[0] in c["ids"]
                                good += right
                                wrong += not right
                                answers += 1
                                answers_wrong += not right
                            elif d == matcher.CLARIFY:
                                right = any(i in c["ids"] for i in ids[:2])
                                good += CLARIFY_VALUE * right
                                wrong += not right
                            elif d == matcher.SUGGEST:
                                right = any(i in c["ids"] for i in ids[:k])
                                good += SUGGEST_VALUE * right
                                suggested += 1
                                suggested_right += right
                        if wrong > MAX_WRONG * max(legal, 1) or neg_shown > MAX_NEGATIVES * max(neg, 1):
                            ok = False
                    ok &= answers_wrong <= MAX_WRONG_SHARE * answers and suggested_right >= SUGGEST_PRECISION * suggested
                    if ok and (best is None or good > best[0]):
                        best = (good, float(answer_at), float(clarify_at), close_ratio, float(suggest_at))
    if best is None:
        raise SystemExit("no thresholds meet the targets on the calibration sets")
    return {"answer_at": round(best[1], 3), "clarify_at": round(best[2], 3), "close_ratio": best[3],
            "suggest_at": round(best[4], 3), "calibration_score": round(best[0], 1)}


# "您问的可能是……" is shown from the lowest confidence at which, out of fold, the best article
# under the answer threshold is right at least 3 times in 4 (it is worded as a guess, with a way out).
LIKELY_PRECISION = 0.75
# Off: on blind round 2 (real LawBench questions, bench/blind_review_2.yml) 5 of 7 guesses picked a
# different problem, although out of fold on the calibration sets 3 in 4 were right. The
# mechanism stays for when ranking improves (MIYUN_MATCH_LIKELY_AT tries it without a refit).
GUESS = False


def choose_likely(runs: list[tuple[dict, list[float], list[str]]], chosen: dict) -> float:
    """The likely threshold: the lowest at which the cases between it and answer_at are right often
    enough, and negatives shown anything (answer, question or guess) stay under the limit, per set."""
    from miyun.knowledge import matcher

    answer_at = chosen["answer_at"]
    for likely_at in np.arange(0.30, answer_at, 0.05):
        p = matcher.Parameters({}, 0.0, answer_at, chosen["clarify_at"], chosen["close_ratio"], float(likely_at))
        band = [(c, ids) for c, probs, ids in runs if probs and likely_at <= probs[0] < answer_at and not c.get("negative")]
        right = sum(bool(ids) and ids[0] in c["ids"] for c, ids in band)
        negatives_ok = True
        for name in {c["set"] for c, _, _ in runs}:
            negs = [probs for c, probs, _ in runs if c["set"] == name and c.get("negative")]
            shown = sum(matcher.decide(probs, [], p) != matcher.FALLBACK for probs in negs)
            negatives_ok &= shown <= MAX_NEGATIVES * max(len(negs), 1)
        if band and right >= LIKELY_PRECISION * len(band) and negatives_ok:
            return round(float(likely_at), 3)
    return 1.01


# "Which of these?" for a message with a word of legal need (miyun/knowledge/legal_cues.py): from the
# lowest summed probability at which, out of fold, the suggestions it adds hold the right article
# more often than not, and each set's negatives shown anything rise by at most this share.
CUE_GRID = (0.8, 0.7, 0.6, 0.5, 0.4, 0.3)
CUE_ADDED_PRECISION = 0.6
CUE_NEGATIVES_RISE = 0.04


def choose_suggest_cue(runs: list[tuple[dict, list[float], list[str]]], chosen: dict) -> float:
    """The suggest threshold for messages with a legal cue (never above the plain one)."""
    from miyun.knowledge import legal_cues, matcher
    from miyun.text import normalize

    k = matcher.SUGGEST_OPTIONS
    base = matcher.Parameters({}, 0.0, chosen["answer_at"], chosen["clarify_at"], chosen["close_ratio"],
                              suggest_at=chosen["suggest_at"])
    cues = [legal_cues.present(normalize(c["q"])) for c, _, _ in runs]
    before = [matcher.decide(probs, [], base) for _, probs, _ in runs]
    best = chosen["suggest_at"]
    for at in CUE_GRID:
        if at >= best:
            continue
        p = matcher.Parameters({}, 0.0, base.answer_at, base.clarify_at, base.close_ratio,
                               suggest_at=base.suggest_at, suggest_cue_at=at)
        after = [matcher.decide(probs, [], p, cue) for (_, probs, _), cue in zip(runs, cues)]
        added = [(c, ids) for (c, _, ids), b, a in zip(runs, before, after) if a != b and not c.get("negative")]
        right = sum(any(i in c["ids"] for i in ids[:k]) for c, ids in added)
        rise_ok = True
        for name in {c["set"] for c, _, _ in runs}:
            idx = [i for i, (c, _, _) in enumerate(runs) if c["set"] == name and c.get("negative")]
            rise = sum(after[i] != matcher.FALLBACK for i in idx) - sum(before[i] != matcher.FALLBACK for i in idx)
            rise_ok &= rise <= CUE_NEGATIVES_RISE * max(len(idx), 1)
        if rise_ok and right >= CUE_ADDED_PRECISION * len(added):
            best = at
        else:
            break
    return round(float(best), 3)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.parse_args(argv)
    from miyun.knowledge import matcher

    params = json.loads(matcher.PARAMETERS.read_text(encoding="utf-8"))
    examples = cached_cv_examples() if CV_WEIGHT else []
    cases = calibration_cases()
    calibration = calibration_examples(cases)
    own = own_question_examples(random.Random(SEED)) if OWN_WEIGHT else []
    runs = out_of_fold(cases, calibration, examples, own)
    chosen = choose_thresholds(runs)
    chosen["likely_at"] = choose_likely(runs, chosen) if GUESS else 1.01
    chosen["suggest_cue_at"] = choose_suggest_cue(runs, chosen)
    params["weights"], params["bias"] = fit_weights(examples, calibration, own)
    print(f"fitted on {len(calibration)} calibration, {len(own)} own-question and {len(examples)} cross-validation queries: "
          f"{params['weights']} bias {params['bias']}")
    print("thresholds (out of fold):", chosen)
    params.update({k: chosen[k] for k in ("answer_at", "clarify_at", "close_ratio", "likely_at", "suggest_at", "suggest_cue_at")})
    matcher.PARAMETERS.write_text(json.dumps(params, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
