"""Ranking for the statute tier: BM25 over the allowed laws in force, then a calibrated confidence.

Statute language is far from a resident's words, so the tier is built for precision: only the
rarer query terms count, the law's weight scales the score, and the confidence is a logistic
model over a few features fitted on tests/statute_calibration.yml (scripts/calibrate_statutes.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional


@dataclass
class StatuteHit:
    article: Any             # statutes.Article
    score: float             # the ranking score (BM25 times the law's weight, plus the residents' words)
    coverage: float          # share of the query's weight the article's text matches
    residents: float = 0.0   # share matched by residents' phrasings of this article (curated content)
    bm25: float = 0.0


@dataclass
class StatuteResult:
    query: str
    terms: list[str]
    hits: list[StatuteHit] = field(default_factory=list)
    confidence: float = 0.0  # calibrated 0–1: how likely the best hit is a right article
    unknown: float = 0.0     # share of the question's words neither the statutes nor residents' phrasings know

    @property
    def best(self) -> Optional[StatuteHit]:
        return self.hits[0] if self.hits else None



def confidence_from(features: dict[str, float], model: dict[str, float]) -> float:
    """Logistic model over the ranking features (fitted by scripts/calibrate_statutes.py)."""
    z = model.get("bias", 0.0) + sum(model.get(k, 0.0) * v for k, v in features.items())
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


# BM25 column weights: the law's short name, chapter/section titles, the article text.
WEIGHTS = (3.0, 2.0, 1.0)
CANDIDATES = 40
# Terms in more than this share of all articles (本法, 规定, 人民政府 …) say nothing about the topic.
MAX_DOCUMENT_SHARE = 0.03
MAX_QUERY_TERMS = 16
# Words residents add that statutes use everywhere or never: they must not pick the article.
QUERY_STOPWORDS = frozenset(
    """法律 规定 法规 条例 法条 哪条 哪些 什么 哪个 情况 事情 时候 东西 办法 处理 有关 相关 这样 那样 咋样 知道 告诉 觉得
    现在 以前 之前 以后 后来 今年 去年 明年 一直 已经 还是 就是 怎么 怎么办 怎样 可以 能够 不能 不会 应该 是否 有没有
    帮忙 帮助 咨询 请问 谢谢 老人 家里 我家 我们 他们 对方 人家 个人 别人 大家 一个 两个 几个 多少 东西 自己 如何 办理
    违法 合法 权利 义务 责任 问题 受到 满足 条件 需要 要求 能不能 会不会 算不算 要不要 有没有 多长 多久 几天 几年 几倍 多少钱
    怎么样 什么样 一下 一直 突然 还能 不让 不给 不管 只能 必须 允许""".split()
)

# Fitted by scripts/calibrate_statutes.py on tests/statute_calibration.yml with the 530 curated articles
# of 2026-12-02, 16 questions each (their phrasings feed `residents`); figures in bench/statutes.md. Refit after big content changes.
MODEL = {"bias": -3.3153, "score": 0.0556, "coverage": -0.1673, "residents": 1.486, "margin": 3.312, "unknown": 1.9162}


def _terms_of(row) -> set[str]:
    return set(" ".join([row["law"] or "", row["chapter"] or "", row["body"] or ""]).split())


# How much matching the residents' own phrasings of an article counts, against the statute's text.
RESIDENT_WEIGHT = 8.0


@dataclass
class Residents:
    """Residents' words for statute articles: the questions, tags and titles of the curated
    articles that cite them. It bridges 冷静期 to 民法典第一千零七十七条, which never says 冷静期."""

    terms: dict[tuple[str, int], set[str]] = field(default_factory=dict)   # (law name, article) → terms
    df: dict[str, int] = field(default_factory=dict)
    postings: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # term → articles

    @classmethod
    def from_articles(cls, articles: Iterable[dict]) -> "Residents":
        from miyun.text import normalize
        from miyun.knowledge.search import search_terms

        out = cls()
        for a in articles:
            words = set(search_terms(normalize(" ".join([a.get("title") or "", *(a.get("questions") or []), *(a.get("tags") or [])]))))
            for item in a.get("legal_basis") or []:
                name = str(item.get("law") or "").strip().strip("《》")
                for n in item.get("articles") or []:
                    out.terms.setdefault((name, n), set()).update(words)
        for key, words in out.terms.items():
            for w in words:
                out.df[w] = out.df.get(w, 0) + 1
                out.postings.setdefault(w, []).append(key)
        return out


def rank(lib: Any, text: str, k: int, synonyms: dict[str, str], residents: Optional[Residents] = None) -> StatuteResult:
    from miyun.text import normalize
    from miyun.knowledge.search import expand, match_expression, search_terms

    import jieba

    query = normalize(text)
    state = lib._load()
    words = state["words"]
    expanded = expand(expand(query, synonyms), words)
    terms = [t for t in search_terms(expanded) if t not in QUERY_STOPWORDS and (len(t) > 1 or t in words)]
    result = StatuteResult(query=query, terms=terms)
    searchable: dict[str, float] = state["searchable"]
    if not terms or not searchable:
        return result
    residents = residents or Residents()
    n, df = lib._vocabulary()
    unique = list(dict.fromkeys(terms))
    kept = sorted((t for t in unique if df.get(t) and df[t] <= MAX_DOCUMENT_SHARE * n), key=lambda t: df[t])[:MAX_QUERY_TERMS]
    n_res = max(len(residents.terms), 1)
    res_kept = [t for t in unique if residents.df.get(t) and residents.df[t] <= 0.25 * n_res]
    result.terms = list(dict.fromkeys([*kept, *res_kept]))
    if not result.terms:
        return result
    idf = {t: math.log(n / df[t]) for t in kept}
    res_idf = {t: math.log(1 + n_res / residents.df[t]) for t in res_kept}
    total, res_total = sum(idf.values()) or 1.0, sum(res_idf.values()) or 1.0
    candidates: dict[int, dict] = {}
    if kept:
        ids = list(searchable)
        sql = (
            "select t.id as id, t.law_id as law_id, t.law as law, t.chapter as chapter, t.body as body, "
            "-bm25(article_terms_fts, ?, ?, ?) as score from article_terms_fts "
            "join article_terms t on t.rowid = article_terms_fts.rowid "
            f"where article_terms_fts match ? and t.law_id in ({','.join('?' * len(ids))}) "
            "order by score desc limit ?"
        )
        for row in lib._rows(sql, [*WEIGHTS, match_expression(kept), *ids, CANDIDATES]):
            have = _terms_of(row)
            candidates[row["id"]] = {"law_id": row["law_id"], "bm25": float(row["score"]) * searchable[row["law_id"]],
                                     "coverage": sum(idf[t] for t in kept if t in have) / total}
    if res_kept:
        current = state["current"]
        ids = lib.article_ids()
        hits: dict[tuple[str, int], float] = {}
        for t in res_kept:
            for key in residents.postings.get(t, ()):
                hits[key] = hits.get(key, 0.0) + res_idf[t]
        for (name, number), hit in hits.items():
            law = current.get(name)
            if law is None or law.law_id not in searchable:
                continue
            ident = ids.get((law.law_id, number))
            if ident is None:
                continue
            c = candidates.setdefault(ident, {"law_id": law.law_id, "bm25": 0.0, "coverage": 0.0})
            c["residents"] = hit / res_total
    # Words of the question neither the statutes nor the residents' phrasings know: the more, the
    # less the match can be about what was asked.
    spoken = [w for w in dict.fromkeys(jieba.lcut(query)) if len(w) > 1 and w not in QUERY_STOPWORDS and any("\u4e00" <= ch <= "\u9fff" for ch in w)]
    unknown = [w for w in spoken if not df.get(w) and not residents.df.get(w) and w not in words]
    result.unknown = len(unknown) / len(spoken) if spoken else 0.0
    norm = math.sqrt(max(len(kept), 1))
    for c in candidates.values():
        c.setdefault("residents", 0.0)
        c["rank"] = c["bm25"] / norm * (0.5 + c["coverage"]) + RESIDENT_WEIGHT * c["residents"]
    ranked = sorted(candidates.items(), key=lambda kv: kv[1]["rank"], reverse=True)
    for ident, c in ranked[:max(k, 2)]:
        article = lib.article_by_id(ident)
        if article is not None:
            result.hits.append(StatuteHit(article, c["rank"], c["coverage"], c["residents"], c["bm25"] / norm))
    if result.hits:
        result.confidence = confidence_from(features(result), MODEL)
        result.hits = result.hits[:k]
    return result


def features(result: StatuteResult) -> dict[str, float]:
    """What the confidence is computed from: the ranking score, both coverages and the lead over #2."""
    best = result.best
    second = result.hits[1].score if len(result.hits) > 1 else 0.0
    return {
        "score": best.score,
        "coverage": best.coverage,
        "residents": best.residents,
        "margin": (best.score - second) / best.score if best.score > 0 else 0.0,
        "unknown": result.unknown,
    }
