"""The article matcher: which curated article answers a resident's message, how sure we are,
and what to do about it (answer / clarify / fallback).

1. Focus: drop the story around a narrative (greetings, thanks, where the resident lives, how
   worried they are), keep the legal core. The text is normalised and dialect expanded first.
2. Candidates: BM25 over FTS5 (miyun.knowledge.search), plus on a small corpus the articles whose own
   phrasings are closest (catches typos and rewordings BM25 misses), plus the linear article
   classifier's best (miyun.knowledge.classifier: weighs the words that tell articles apart).
3. Rerank: a small logistic model over length-independent features of each candidate
   (BM25 relative to the best, similarity to the article's phrasings, share of the query's rare
   terms the article covers, title and tag overlap, topic agreement, the classifier's probability). Its output for the top
   candidate is the calibrated confidence: fitted and calibrated on held-out data so that 0.7
   means about 7 in 10 right, whether the message has 10 characters or 150.
4. Decide: confident and clear → answer; two different articles close together and together
   likely → one clarifying question; likely → the article, introduced as "您问的可能是……" with a
   way out; the top three together likely → "您想问的是下面哪一个？" with the three as buttons
   and the honest way out; otherwise → honest fallback (the statute tier may take it).

Coefficients and thresholds live in `reranker.json` beside this file (`scripts/fit_reranker.py`
refits them); MIYUN_MATCH_ANSWER_AT / _CLARIFY_AT / _LIKELY_AT / _SUGGEST_AT override the thresholds.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from miyun.knowledge import legal_cues
from miyun.knowledge import search as bm25
from miyun.knowledge.classifier import ArticleClassifier
from miyun.knowledge.phrasings import PhrasingModel
from miyun.text import normalize

MODEL_PREFIX = "phrasings/"
CLASSIFIER_PREFIX = "classifier/"
PARAMETERS = Path(__file__).with_name("reranker.json")
# How many BM25 candidates are reranked, and how many phrasing-nearest articles are added.
RERANK = 10
EXTRA_BY_PHRASING = 4
EXTRA_BY_CLASSIFIER = 3
# Above this many articles the phrasing similarity is computed for BM25's candidates only (speed).
FULL_SIMILARITY_MAX_ARTICLES = 3000

ANSWER, CLARIFY, FALLBACK = "answer", "clarify", "fallback"
# Likely but not sure: the article is shown as "您问的可能是……", with a way out. Residents' right
# article was often the best candidate under the answer threshold (issue 11's blind review).
LIKELY = "likely"
# Not sure of one, but the right article is most likely among the top few: ask which, with the
# way out ("都不是") beside them. On the calibration sets the right article was among the top three
# for most messages that fell back; a question a resident can answer with one tap beats the fallback.
SUGGEST = "suggest"
SUGGEST_OPTIONS = 3

# A message (nearly) word for word one of an article's own questions is that article's: on the
# live content, 4,225 of 4,232 own questions at this similarity were the article's, while no
# resident phrasing in the calibration or evaluation sets came within reach of it. The gap keeps
# out a question two articles share. The reranker, fitted on residents' rewordings, is not asked.
VERBATIM_SIM = 0.9
VERBATIM_GAP = 0.1
VERBATIM_CONFIDENCE = 0.99

FEATURES = (
    "bm25_rel", "bm25_conf", "sim_max", "sim_mean", "sim_rel", "coverage", "title_cov", "tag_hits",
    "cat_share", "bm25_top", "sim_top", "length", "bm25_gap", "sim_gap",
    "sim_soft", "bm25_soft", "bm25_rank", "clf_soft", "clf_rank",
)
# Temperatures of the softmax "classifier probabilities" over all articles' phrasing similarity
# and over the candidates' relative BM25.
SIM_TEMPERATURE = 0.05
BM25_TEMPERATURE = 0.1
CLF_TEMPERATURE = 0.1


# --------------------------------------------------------------------------- query focusing

# Story padding residents wrap around a question. Written from how people talk to a hotline,
# never from any evaluation set. Each pattern is removed; the legal core stays.
_PADDING = [
    r"(您好|你好|同志你好|老师好|大夫好|领导好)[,，!！。 ]*",
    r"(麻烦|劳驾|打扰)(您|你)?(一下|了)?(问|咨询|请教)?(一下|个事儿?|件事)?",
    r"(请问|想问问?|问一下|问问|咨询一下|咨询个事儿?|请教一下|请教个事儿?)",
    r"(谢谢|多谢|感谢)(您|你|大家)?(了|啦)?",
    r"(急|着急|挺急的|很急|特别急|急死了?|愁死了?|烦死了?)[!！。]*",
    r"(不知道|不晓得|不清楚)(该)?(怎么办|咋办|咋整|怎么弄|怎么处理)(才好)?",
    r"(帮帮我|帮帮忙|求求你|求助|救救我)",
    r"(我|俺|咱)(是|们是|家是|家在|们家在|住在|在)[\u4e00-\u9fff]{1,6}?(镇|乡|村|街道|地区|社区|小区)(这边|那边|的)?(人|村民|居民)?",
    r"(我|俺)(今年)?[0-9一二三四五六七八九十]{1,3}(多)?岁了?",
    r"(我|俺)(年纪大了|岁数大了|文化不高|不识字|不会打字|眼睛不好)",
    r"(说来话长|是这样的|事情是这样的|我想说一下|长话短说)",
]
_PADDING_RE = re.compile("|".join(f"(?:{p})" for p in _PADDING))


@functools.lru_cache(maxsize=1)
def _places() -> tuple[str, ...]:
    """Town names from the project dictionary (tagged `ns`): where someone lives is not the topic."""
    from miyun.settings import load

    path = load().dictionary_dir / "miyun.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ()
    names = [l.split()[0] for l in lines if l.strip() and l.split()[-1] == "ns"]
    return tuple(sorted(set(names), key=len, reverse=True))


def focus(text: str) -> str:
    """The legal core of a normalised message: padding and place names removed (never to nothing)."""
    out = _PADDING_RE.sub(" ", text)
    for name in _places():
        out = out.replace(name, " ")
    out = re.sub(r"\s*([,，。!！?？;；、])(\s*[,，。!！?？;；、])+", r"\1", out)
    out = re.sub(r"\s+", " ", out).strip(" ,，。!！;；、")
    return out if len(out) >= max(4, len(text) // 4) else text


# --------------------------------------------------------------------------- synonyms

class Expander:
    """`miyun.knowledge.search.expand` with the variants indexed by first character: the same output,
    without testing every one of ~1,000 variants against every text."""

    def __init__(self, synonyms: dict[str, str]) -> None:
        self.synonyms = synonyms
        self.order = {v: i for i, v in enumerate(synonyms)}
        self.by_first: dict[str, list[str]] = {}
        for variant in synonyms:
            if variant:
                self.by_first.setdefault(variant[0], []).append(variant)

    def __call__(self, text: str) -> str:
        found = {v for i, ch in enumerate(text) for v in self.by_first.get(ch, ()) if text.startswith(v, i)}
        extra = [self.synonyms[v] for v in sorted(found, key=self.order.__getitem__)]
        return " ".join([text, *extra]) if extra else text


def _expander(store) -> Expander:
    return store.cached("matcher.expander", lambda: Expander(store.synonyms()))


# --------------------------------------------------------------------------- model

def build_model(articles: list[dict], synonyms: dict[str, str], previous: Optional[dict[str, bytes]] = None) -> dict[str, bytes]:
    """Fit the phrasing model and the classifier on article rows (as built: JSON lists) and return
    their blobs. `previous`: a published version's classifier blobs, reused when fitted on the same
    phrasings (an edit to a service or an answer text does not refit it: previews stay quick; the
    last build of the process is offered the same way, see miyun.knowledge.build)."""
    phrasings: list[tuple[str, str]] = []
    expand = Expander(synonyms)
    for a in articles:
        questions = json.loads(a["questions"]) if isinstance(a["questions"], str) else a["questions"]
        tags = json.loads(a["tags"]) if isinstance(a["tags"], str) else a["tags"]
        texts = [a["title"], *questions, " ".join(tags)]
        phrasings += [(a["id"], expand(focus(normalize(t)))) for t in texts if str(t).strip()]
    model = PhrasingModel.fit(phrasings)
    model_blobs = model.to_blobs()
    blobs = {MODEL_PREFIX + k: v for k, v in model_blobs.items()}
    key = hashlib.sha256(b"".join(model_blobs[k] for k in sorted(model_blobs))).hexdigest().encode()
    if previous and previous.get("key") == key:
        fitted = previous
    else:
        classifier = ArticleClassifier.fit(model)
        fitted = {**classifier.to_blobs(), "key": key} if classifier is not None else {}
    blobs.update({CLASSIFIER_PREFIX + k: v for k, v in fitted.items()})
    return blobs


def _model(store) -> Optional[PhrasingModel]:
    def load() -> Optional[PhrasingModel]:
        blobs = store.blobs(MODEL_PREFIX)
        return PhrasingModel.from_blobs(blobs) if blobs else None

    return store.cached("matcher.phrasings", load)


def _classifier(store) -> Optional[ArticleClassifier]:
    return store.cached("matcher.classifier", lambda: ArticleClassifier.from_blobs(store.blobs(CLASSIFIER_PREFIX)))


def _tags(store) -> dict[str, tuple[str, list[str], str]]:
    """Per article: (category, normalised tags, title) — read once per version."""
    def load():
        rows = store._all("select id, category, tags, title from articles")
        return {r["id"]: (r["category"], [normalize(t) for t in r["tags"] or [] if len(str(t)) >= 2], r["title"]) for r in rows}

    return store.cached("matcher.tags", load)


@dataclass(frozen=True)
class Parameters:
    """The reranker's weights and bias, and the decision thresholds."""

    weights: dict[str, float]
    bias: float
    answer_at: float
    clarify_at: float
    close_ratio: float
    likely_at: float = 1.01   # off unless reranker.json sets it
    suggest_at: float = 9.0   # summed over SUGGEST_OPTIONS probabilities; off unless reranker.json sets it
    suggest_cue_at: float = 9.0  # the same, for a message with a word of legal need (legal_cues)

    @classmethod
    def load(cls) -> "Parameters":
        from miyun import settings

        cfg = settings.load()
        data = _parameters_file()
        answer_at = cfg.match_answer_at or data["answer_at"]
        likely_at = cfg.match_likely_at or data.get("likely_at", 1.01)
        suggest_at = cfg.match_suggest_at or data.get("suggest_at", 9.0)
        suggest_cue_at = cfg.match_suggest_cue_at or data.get("suggest_cue_at", suggest_at)
        return cls(data["weights"], data["bias"], answer_at, cfg.match_clarify_at or data["clarify_at"],
                   data["close_ratio"], min(likely_at, answer_at), suggest_at, suggest_cue_at)


@functools.lru_cache(maxsize=1)
def _parameters_file() -> dict:
    return json.loads(PARAMETERS.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- result

@dataclass
class Candidate:
    article: dict
    bm25: float
    features: dict[str, float]
    probability: float = 0.0

    @property
    def id(self) -> str:
        return self.article["id"]


@dataclass
class Match:
    """What the matcher found: best candidates first, a calibrated confidence and a decision."""

    query: str
    focused: str
    terms: list[str]
    candidates: list[Candidate] = field(default_factory=list)
    confidence: float = 0.0
    decision: str = FALLBACK
    answer_at: float = 0.0

    @property
    def best(self) -> Optional[Candidate]:
        return self.candidates[0] if self.candidates else None

    @property
    def options(self) -> list[Candidate]:
        """The articles a question offers: the top two to clarify, the top three to suggest, else none."""
        if self.decision == CLARIFY:
            return self.candidates[:2]
        return self.candidates[:SUGGEST_OPTIONS] if self.decision == SUGGEST else []

    def related(self, limit: int = 2, include_best: bool = False, floor: float = 0.15) -> list[Candidate]:
        """Other articles likely enough to offer as buttons (never as the answer)."""
        pool = self.candidates if include_best else self.candidates[1:]
        return [c for c in pool if c.probability >= floor][:limit]


# --------------------------------------------------------------------------- features

def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 30.0), -30.0)))


def candidate_features(store, text: str) -> tuple[str, str, list[str], list[tuple[str, float, dict[str, float]]]]:
    """(normalised, focused, query terms, [(article id, bm25, features)]) before scoring."""
    query = normalize(text)
    focused = focus(query)
    expanded = _expander(store)(focused)
    terms = bm25.index_terms(expanded)
    if not terms:
        return query, focused, terms, []
    n_docs, df = store.document_frequencies()
    selected = bm25.selective(terms, n_docs, df)
    rows = store.search(bm25.match_expression(selected), bm25.WEIGHTS, bm25.CANDIDATES)
    scores = {r["id"]: float(r["score"]) for r in rows[:RERANK]}
    model = _model(store)
    sim_best: dict[str, float] = {}
    sim_mean: dict[str, float] = {}
    sim_soft: dict[str, float] = {}
    clf_soft: dict[str, float] = {}
    clf_rank: dict[str, float] = {}
    classifier = _classifier(store) if model is not None else None
    if model is not None:
        q = model.vector(expanded)
        pos = {a: i for i, a in enumerate(model.article_ids)}
        if classifier is not None and q.nnz:
            decision = classifier.scores(q)
            soft = np.exp((decision - decision.max()) / CLF_TEMPERATURE)
            soft /= soft.sum()
            order = np.argsort(-decision)
            for i in order[:EXTRA_BY_CLASSIFIER]:
                scores.setdefault(model.article_ids[i], 0.0)
            clf_rank = {model.article_ids[i]: 1.0 / (1 + r) for r, i in enumerate(order[:RERANK * 2])}
            clf_soft = {model.article_ids[i]: float(soft[i]) for i in order[:RERANK * 2]}
        if len(model.article_ids) <= FULL_SIMILARITY_MAX_ARTICLES:
            best, mean = model.similarities(q)
            soft = np.exp((best - best.max()) / SIM_TEMPERATURE)
            soft /= soft.sum()
            for i in np.argsort(-best)[:EXTRA_BY_PHRASING]:
                if best[i] > 0:
                    scores.setdefault(model.article_ids[i], 0.0)
            for a in scores:
                if a in pos:
                    sim_best[a], sim_mean[a], sim_soft[a] = float(best[pos[a]]), float(mean[pos[a]]), float(soft[pos[a]])
        else:
            ids = [a for a in scores if a in pos]
            best, mean = model.similarities(q, np.array([pos[a] for a in ids], dtype=np.int64))
            soft = np.exp((best - best.max()) / SIM_TEMPERATURE) if len(best) else best
            soft = soft / soft.sum() if len(best) else soft
            sim_best, sim_mean = dict(zip(ids, best.tolist())), dict(zip(ids, mean.tolist()))
            sim_soft = dict(zip(ids, soft.tolist()))
    if not scores:
        return query, focused, terms, []
    ids = list(scores)
    entries = store.index_entries(ids)
    info = _tags(store)
    # The rare terms carry the topic: weight coverage by inverse document frequency.
    idf = {t: math.log(1 + n_docs / (1 + df.get(t, 0))) for t in selected}
    idf_total = sum(idf.values()) or 1.0
    term_set = set(terms)
    top_bm25 = max(scores.values()) or 1.0
    top_sim = max(sim_best.values(), default=0.0) or 1.0
    by_cat: dict[str, float] = {}
    for a, s in scores.items():
        by_cat[info.get(a, ("",))[0]] = by_cat.get(info.get(a, ("",))[0], 0.0) + s
    cat_total = sum(by_cat.values()) or 1.0
    bm25_exp = {a: math.exp((s - top_bm25) / top_bm25 / BM25_TEMPERATURE) for a, s in scores.items()}
    bm25_exp_total = sum(bm25_exp.values()) or 1.0
    length = len("".join(query.split()))
    out = []
    for a in ids:
        e = entries.get(a) or {"title": "", "questions": ""}
        own = set(e["title"].split()) | set(e["questions"].split())
        title_terms = set(e["title"].split())
        category, tags, _ = info.get(a, ("", [], ""))
        s = scores[a]
        f = {
            "bm25_rel": s / top_bm25,
            "bm25_conf": bm25.confidence(s, len(term_set)) / 10.0,
            "sim_max": sim_best.get(a, 0.0),
            "sim_mean": sim_mean.get(a, 0.0),
            "sim_rel": sim_best.get(a, 0.0) / top_sim,
            "coverage": sum(w for t, w in idf.items() if t in own) / idf_total,
            "title_cov": len(title_terms & term_set) / max(len(title_terms), 1),
            "tag_hits": min(sum(1 for t in tags if t in focused), 3) / 3.0,
            "cat_share": by_cat.get(category, 0.0) / cat_total,
            "bm25_top": float(s == top_bm25 and s > 0),
            "sim_top": float(sim_best.get(a, 0.0) == top_sim and top_sim > 0),
            "length": min(math.log1p(length) / 5.0, 1.2),
            "sim_soft": sim_soft.get(a, 0.0),
            "bm25_soft": bm25_exp[a] / bm25_exp_total,
            "clf_soft": clf_soft.get(a, 0.0),
            "clf_rank": clf_rank.get(a, 0.0),
        }
        out.append((a, s, f))
    # How far each candidate is ahead of the best other one: a clear winner is more often right.
    order = {a: i for i, a in enumerate(sorted(scores, key=lambda x: -scores[x]))}
    for i, (a, s, f) in enumerate(out):
        f["bm25_rank"] = 1.0 / (1 + order[a]) if s > 0 else 0.0
        others_bm25 = max((x[1] for j, x in enumerate(out) if j != i), default=0.0)
        others_sim = max((x[2]["sim_max"] for j, x in enumerate(out) if j != i), default=0.0)
        f["bm25_gap"] = (s - others_bm25) / top_bm25
        f["sim_gap"] = f["sim_max"] - others_sim
    return query, focused, terms, out


def probability(features: dict[str, float], params: Parameters) -> float:
    """Calibrated probability that this candidate is the right article."""
    return _sigmoid(params.bias + sum(params.weights.get(k, 0.0) * v for k, v in features.items()))


def decide(probabilities: list[float], categories: list[str], params: Parameters, cue: bool = False) -> str:
    """answer / clarify / likely / suggest / fallback from the reranked probabilities (best first);
    `cue`: the message carries a word of legal need, so "which of these?" comes sooner."""
    if not probabilities:
        return FALLBACK
    p1 = probabilities[0]
    p2 = probabilities[1] if len(probabilities) > 1 else 0.0
    close = p2 >= params.close_ratio * p1
    if close and p1 + p2 >= params.clarify_at:
        return CLARIFY
    if p1 >= params.answer_at:
        return ANSWER
    if p1 >= params.likely_at:
        return LIKELY
    # Never above the plain threshold, however the parameters were built.
    suggest_at = min(params.suggest_cue_at, params.suggest_at) if cue else params.suggest_at
    if len(probabilities) >= 2 and sum(probabilities[:SUGGEST_OPTIONS]) >= suggest_at:
        return SUGGEST
    return FALLBACK


def match(store, text: str, params: Optional[Parameters] = None) -> Match:
    """Match a resident's message against the published articles."""
    params = params or Parameters.load()
    query, focused, terms, scored = candidate_features(store, text)
    result = Match(query=query, focused=focused, terms=terms, answer_at=params.answer_at)
    if not scored:
        return result
    ranked = sorted(((probability(f, params), a, s, f) for a, s, f in scored), key=lambda x: -x[0])
    verbatim = next((r for r in ranked if r[3]["sim_max"] >= VERBATIM_SIM and r[3]["sim_gap"] >= VERBATIM_GAP), None)
    if verbatim is not None:
        ranked.remove(verbatim)
        ranked.insert(0, (max(verbatim[0], VERBATIM_CONFIDENCE), *verbatim[1:]))
    articles = store.articles_by_id([a for _, a, _, _ in ranked[:5]])
    for p, a, s, f in ranked[:5]:
        if a in articles:
            result.candidates.append(Candidate(articles[a], s, f, p))
    if not result.candidates:
        return result
    result.confidence = result.candidates[0].probability
    if verbatim is not None:
        result.decision = ANSWER
        return result
    result.decision = decide([c.probability for c in result.candidates], [c.article["category"] for c in result.candidates],
                             params, legal_cues.present(query))
    return result
