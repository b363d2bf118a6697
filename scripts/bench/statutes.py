"""Bench: answer search with the statute library loaded (target p95 <= 20 ms).

Times what the legal-question action does before it answers: the curated search, and — when that
is not confident — the statute tier's `Library.search` over the allow-listed laws. Queries: the
residents' questions of tests/search_eval.yml and both statute sets (no LawBench). Also reports the
one-off cost of loading the library and the process memory it adds.

    python -m scripts.bench.statutes          # only this measurement, as JSON
`make bench` runs it as the "statutes" section, over the content database the search section built.
"""
from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
LIMIT_MS = 20.0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def queries() -> list[str]:
    out = []
    data = yaml.safe_load((ROOT / "tests" / "search_eval.yml").read_text(encoding="utf-8"))
    out += [c["q"] for c in data.get("cases") or []] + [c["q"] for c in data.get("negatives") or []]
    for name in ("statute_calibration.yml", "statute_eval.yml"):
        out += [c["q"] for c in yaml.safe_load((ROOT / "tests" / name).read_text(encoding="utf-8"))["cases"]]
    return out


def bench_statutes(results: dict, content_db: Path | None = None, rounds: int = 3) -> dict[str, Any]:
    """Measure and store results["statutes"]; returns it. `content_db`: a built content store (default: the
    one the search section built, else var/content.db)."""
    if content_db is None and results.get("_real_db"):
        content_db = Path(results["_real_db"])
    import jieba

    from actions.statutes import _residents_for
    from miyun import settings
    from miyun.knowledge import search
    from miyun.knowledge import statutes
    from miyun.text import load_dictionary
    from miyun.knowledge.store import ContentStore

    cfg = settings.load()
    jieba.setLogLevel(60)
    load_dictionary(cfg.dictionary_dir)
    store = ContentStore(content_db or cfg.content_db)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    lib = statutes.Library(cfg.statutes_index, cfg.content_dir)
    lib._vocabulary()
    lib.article_ids()
    residents = _residents_for(store)
    load_s = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    qs = queries()
    for q in qs[:20]:                                       # warm caches the way a running server has them
        search.search(store, q, cfg.search_threshold)
        lib.search(q, 2, store.synonyms(), residents)
    total, tier, served = [], [], 0
    for _ in range(rounds):
        for q in qs:
            t = time.perf_counter()
            r = search.search(store, q, cfg.search_threshold)
            if not r.confident:
                t1 = time.perf_counter()
                s = lib.search(q, 2, store.synonyms(), residents)
                tier.append((time.perf_counter() - t1) * 1000)
                served += bool(statutes.quote(s, cfg.statute_threshold))
            total.append((time.perf_counter() - t) * 1000)
    out = {
        "queries": len(qs), "rounds": rounds, "library_load_s": round(load_s, 3),
        "library_rss_mb": round((rss1 - rss0) / 1024, 1),   # ru_maxrss is in KiB on Linux
        "answer_search_ms": {"p50": round(statistics.median(total), 2), "p95": round(_pct(total, 95), 2), "max": round(max(total), 2)},
        "statute_tier_ms": {"p50": round(statistics.median(tier), 2), "p95": round(_pct(tier, 95), 2), "calls": len(tier)} if tier else {},
        "statute_served_share_of_fallbacks": round(served / len(tier), 3) if tier else 0.0,
        "index_mb": round(cfg.statutes_index.stat().st_size / 1e6, 1),
    }
    results["statutes"] = out
    return out


def main() -> int:
    results: dict = {}
    print(json.dumps(bench_statutes(results), ensure_ascii=False, indent=2))
    p95 = results["statutes"]["answer_search_ms"]["p95"]
    ok = p95 <= LIMIT_MS
    print(f"{'✓' if ok else '✗'} statute_search_p95_ms {p95} (target <= {LIMIT_MS:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
