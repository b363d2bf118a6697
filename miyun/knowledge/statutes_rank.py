"""Ranking for the statute tier: BM25 over the allowed laws in force, then a calibrated confidence.

Statute language is far from a resident's words, so the tier is built for precision: only the
rarer query terms count, the law's weight scales the score, and the confidence is a logistic
model over a few features fitted on tests/statute_calibration.yml (scripts/calibrate_statutes.py).
"""
from __future__ import annotations

import math

from miyun.knowledge.statutes import Library, StatuteHit, StatuteResult, confidence_from

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
    违法 合法 权利 义务 责任 问题 法院 起诉""".split()
)

# Fitted by scripts/calibrate_statutes.py on tests/statute_calibration.yml (see bench/results.md).
MODEL = {"bias": -4.0, "score": 0.35, "coverage": 3.0, "margin": 1.5}


def _terms_of(row) -> set[str]:
    return set(" ".join([row["law"] or "", row["chapter"] or "", row["body"] or ""]).split())


def rank(lib: Library, text: str, k: int, synonyms: dict[str, str]) -> StatuteResult:
    from miyun.normalize import normalize
    from miyun.search import expand, match_expression, search_terms

    query = normalize(text)
    terms = [t for t in search_terms(expand(query, synonyms)) if t not in QUERY_STOPWORDS and len(t) > 1]
    result = StatuteResult(query=query, terms=terms)
    state = lib._load()
    searchable: dict[str, float] = state["searchable"]
    if not terms or not searchable:
        return result
    n, df = lib._vocabulary()
    indexed = [t for t in dict.fromkeys(terms) if df.get(t)]
    kept = sorted((t for t in indexed if df[t] <= MAX_DOCUMENT_SHARE * n), key=lambda t: df[t])[:MAX_QUERY_TERMS]
    result.terms = kept
    if not kept:
        return result
    idf = {t: math.log(n / df[t]) for t in kept}
    total = sum(idf.values())
    ids = list(searchable)
    sql = (
        "select t.id as id, t.law_id as law_id, t.law as law, t.chapter as chapter, t.body as body, "
        "-bm25(article_terms_fts, ?, ?, ?) as score from article_terms_fts "
        "join article_terms t on t.rowid = article_terms_fts.rowid "
        f"where article_terms_fts match ? and t.law_id in ({','.join('?' * len(ids))}) "
        "order by score desc limit ?"
    )
    rows = lib._rows(sql, [*WEIGHTS, match_expression(kept), *ids, CANDIDATES])
    scored = []
    for row in rows:
        have = _terms_of(row)
        coverage = sum(idf[t] for t in kept if t in have) / total
        scored.append((float(row["score"]) * searchable[row["law_id"]], coverage, row["id"]))
    # BM25 rewards one rare word said twice; coverage rewards matching what the question is about.
    scored.sort(key=lambda x: x[0] * (0.5 + x[1]), reverse=True)
    for score, coverage, ident in scored[:max(k, 2)]:
        article = lib.article_by_id(ident)
        if article is not None:
            result.hits.append(StatuteHit(article, score, coverage))
    if result.hits:
        result.confidence = confidence_from(features(result), MODEL)
        result.hits = result.hits[:k]
    return result


def features(result: StatuteResult) -> dict[str, float]:
    """What the confidence is computed from: length-normalised score, coverage and the lead over #2."""
    best = result.best
    n = max(len(result.terms), 1)
    second = result.hits[1].score * (0.5 + result.hits[1].coverage) if len(result.hits) > 1 else 0.0
    first = best.score * (0.5 + best.coverage)
    return {
        "score": best.score / math.sqrt(n),
        "coverage": best.coverage,
        "margin": (first - second) / first if first > 0 else 0.0,
    }
