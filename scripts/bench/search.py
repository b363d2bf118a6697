"""7. Search: the article matcher `miyun.knowledge.matcher.match()` (BM25 candidates, phrasing model, reranker) over the real articles and 10,000 generated ones, and the build time of each."""
from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from scripts.bench.common import LAWBENCH, ROOT, SEARCH_EVAL, SEED, log, pct, summary


def generate_articles(real: list[dict], n: int, seed: int = SEED) -> list[dict]:
    """`n` synthetic articles recombined from the real ones; each passes miyun.knowledge.content.load's checks."""
    from miyun.knowledge import content as content_mod

    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = real[i % len(real)], real[rng.randrange(len(real))]
        tags_b = [str(t) for t in b.get("tags") or []] or [b["title"]]
        twist = rng.choice(tags_b)
        qs = [str(q) for q in a.get("questions") or []] + [str(q) for q in b.get("questions") or []]
        rng.shuffle(qs)
        questions = qs[: rng.randint(3, 8)]
        answer = " ".join(str(a["answer"]).split())
        extra = str(b["answer"]).split("。")[0] + "。"
        if len("".join((answer + extra).split())) <= content_mod.ANSWER_MAX:
            answer = answer + extra
        tags = list(dict.fromkeys([str(t) for t in a.get("tags") or []][:6] + tags_b[:4]))
        out.append({
            "id": f"gen-{i + 1:05d}",
            "title": f"{a['title']}（{twist}）",
            "category": a["category"],
            "questions": questions,
            "answer": answer,
            "legal_basis": a["legal_basis"],
            "tags": tags,
            "source": a.get("source") or "bench",
            "verified": a.get("verified") if a.get("verified") not in (None,) else False,
            "updated": a.get("updated"),
        })
    return out


def search_queries(n: int, seed: int = SEED) -> list[str]:
    """Half residents' phrasings from the search eval set, half LawBench questions."""
    rng = random.Random(seed)
    cases = [c["q"] for c in yaml.safe_load(SEARCH_EVAL.read_text(encoding="utf-8"))["cases"]]
    cases += [c["q"] for c in yaml.safe_load(SEARCH_EVAL.read_text(encoding="utf-8")).get("negatives") or []]
    lawbench = json.loads(LAWBENCH.read_text(encoding="utf-8"))["questions"] if LAWBENCH.exists() else []
    half = n // 2 if lawbench else n
    picked = rng.sample(cases, min(half, len(cases)))
    picked += rng.sample(lawbench, min(n - len(picked), len(lawbench)))
    rng.shuffle(picked)
    return picked


def time_search(db: Path, queries: list[str], threshold: float, warmup: int = 20) -> dict[str, Any]:
    from collections import Counter

    from miyun.knowledge import matcher, search
    from miyun.knowledge.store import ContentStore

    store = ContentStore(db)
    t0 = time.perf_counter()
    matcher.match(store, queries[0])  # the first match of a version loads the phrasing model
    first_ms = (time.perf_counter() - t0) * 1000
    for q in queries[:warmup]:
        matcher.match(store, q)
    times, confident, decisions = [], 0, Counter()
    for q in queries:
        t0 = time.perf_counter()
        r = matcher.match(store, q)
        times.append((time.perf_counter() - t0) * 1000)
        confident += r.decision == matcher.ANSWER
        decisions[r.decision] += 1
    bm25_ms = []  # the old single-BM25 search, for comparison
    for q in queries:
        t0 = time.perf_counter()
        search.search(store, q, threshold)
        bm25_ms.append((time.perf_counter() - t0) * 1000)
    # Where the time goes (measured separately, after the timed loop): reading the synonym table,
    # the FTS5 query itself, and how many articles the OR-query matches (BM25 ranks all of them).
    conn = store._connection()
    total = conn.execute("select count(*) from article_index").fetchone()[0]
    syn_ms, fts_ms, matched = [], [], []
    synonyms = store.synonyms()
    for q in queries:
        t0 = time.perf_counter()
        store.synonyms()
        syn_ms.append((time.perf_counter() - t0) * 1000)
        expr = search.match_expression(search.index_terms(search.expand(search.normalize(q), synonyms)))
        if not expr:
            continue
        t0 = time.perf_counter()
        store.search(expr, search.WEIGHTS, search.CANDIDATES)
        fts_ms.append((time.perf_counter() - t0) * 1000)
        matched.append(conn.execute("select count(*) from article_index_fts where article_index_fts match ?", [expr]).fetchone()[0])
    return {
        "queries": len(queries), "latency_ms": summary(times, 3), "confident_share": round(confident / len(queries), 3),
        "decisions": dict(decisions), "first_match_ms": round(first_ms, 1), "bm25_only_latency_ms": summary(bm25_ms, 3),
        "parts": {"synonyms_table_read_ms": summary(syn_ms, 3), "fts_query_ms": summary(fts_ms, 3),
                  "articles_matched": summary([float(m) for m in matched], 0), "corpus": total,
                  "matched_share_p50": round((pct(matched, 50) or 0) / max(total, 1), 3),
                  "synonyms": len(synonyms)},
    }


def bench_search(tmp: Path, results: dict, n_generated: int, n_queries: int) -> None:
    import jieba

    from miyun import settings
    from miyun.knowledge import build
    from miyun.knowledge import content as content_mod
    from miyun.text import load_dictionary

    threshold = settings.load().search_threshold
    jieba.setLogLevel(60)
    t0 = time.perf_counter()
    jieba.initialize()
    load_dictionary(ROOT / "content" / "dictionary")
    jieba_init = time.perf_counter() - t0
    queries = search_queries(n_queries)
    out: dict[str, Any] = {"threshold": threshold, "jieba_init_s": round(jieba_init, 2),
                           "query_mix": "half tests/search_eval.yml (cases+negatives), half LawBench 3-8 questions"}

    real_dir = tmp / "search-real" / "content"
    shutil.copytree(ROOT / "content", real_dir)
    db_real = tmp / "search-real" / "content.db"
    t0 = time.perf_counter()
    meta = build.build(real_dir, db_real, real_dir / "dictionary")
    out["real"] = {"articles": meta["articles"], "build_s": round(time.perf_counter() - t0, 2),
                   "db_mb": round(db_real.stat().st_size / 1e6, 2)}
    out["real"].update(time_search(db_real, queries, threshold))
    log(f"search real: {meta['articles']} articles, p95 {out['real']['latency_ms']['p95']} ms")
    results["search"] = out
    results["_real_db"] = str(db_real)

    gen_dir = tmp / "search-gen" / "content"
    shutil.copytree(ROOT / "content", gen_dir)
    real_articles = content_mod.load(real_dir).articles
    t0 = time.perf_counter()
    generated = generate_articles([content_mod.strip_private(a) for a in real_articles], n_generated)
    (gen_dir / "articles" / "generated.yml").write_text(
        yaml.safe_dump({"articles": generated}, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8")
    gen_s = time.perf_counter() - t0
    db_gen = tmp / "search-gen" / "content.db"
    t0 = time.perf_counter()
    loaded = content_mod.load(gen_dir)
    validate_s = time.perf_counter() - t0
    if loaded.problems:
        raise RuntimeError(f"generated content fails validation: {[str(p) for p in loaded.problems[:5]]}")
    t0 = time.perf_counter()
    meta = build.build(gen_dir, db_gen, gen_dir / "dictionary")
    out["generated"] = {
        "articles": meta["articles"], "generated": n_generated, "generate_s": round(gen_s, 2),
        "validate_only_s": round(validate_s, 2), "build_s": round(time.perf_counter() - t0, 2),
        "db_mb": round(db_gen.stat().st_size / 1e6, 2),
        "yaml_mb": round((gen_dir / "articles" / "generated.yml").stat().st_size / 1e6, 2),
    }
    out["generated"].update(time_search(db_gen, queries, threshold))
    log(f"search 10k: {meta['articles']} articles built in {out['generated']['build_s']} s, "
        f"p95 {out['generated']['latency_ms']['p95']} ms")
