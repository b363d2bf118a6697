"""The report: verdicts against the targets and bench/results.md."""
from __future__ import annotations

import json
import math
from typing import Optional

from scripts.bench.common import SEED, TARGETS, _get, fmt, pcts


def figures(results: dict) -> dict[str, Optional[float]]:
    g = lambda *keys: _get(results, *keys)  # noqa: E731
    runs = g("publish_live", "runs") or []
    after = [r["live_after_publish_s"] for r in runs]
    return {
        "train_s": g("train", "seconds"),
        "cold_start_median_s": g("cold_start", "median_s"),
        "rasa_rss_mb": max([v for v in (g("rss", "after_load", "rasa", "rss_mb"), g("rss", "after_gateway_bench", "rasa", "rss_mb")) if v is not None], default=None),
        "webhook_p95_ms": g("webhook", "latency_ms", "p95"),
        "search_p95_ms_real": g("search", "real", "latency_ms", "p95"),
        "search_p95_ms_10k": g("search", "generated", "latency_ms", "p95"),
        "statute_search_p95_ms": g("statutes", "answer_search_ms", "p95"),
        "publish_live_max_s": (None if not after else (math.inf if None in after else max(after))),
        "gateway_overhead_p95_ms": g("gateway_bench", "overhead", "overhead_ms", "p95"),
        "wechat_lost": g("gateway_bench", "wechat_load", "lost"),
        "wechat_duplicated": g("gateway_bench", "wechat_load", "duplicated"),
        "wechat_over_5s": g("gateway_bench", "wechat_load", "answered_over_5s"),
        "wechat_max_ms": g("gateway_bench", "wechat_load", "answer_latency_ms", "max"),
        "lawbench_legal_share": g("lawbench", "evaluation", "lawbench_legal_share"),
    }


def verdicts(results: dict) -> list[dict]:
    out = []
    for key, value in figures(results).items():
        label, unit, op, limit = TARGETS[key]
        ops = {"<=": lambda a, b: a <= b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b}
        ok = None if value is None else ops[op](value, limit)
        ratio = None
        if value is not None and limit and math.isfinite(value):
            ratio = round(value / limit, 2)
        out.append({"key": key, "label": label, "value": value, "unit": unit, "target": f"{op} {limit:g}{(' ' + unit) if unit else ''}",
                    "ratio_to_target": ratio, "pass": ok})
    return out


def _breakdown(results: dict) -> str:
    """Where a round trip's median goes: NLU (/model/parse), the rest of Rasa, the action server call."""
    parse = _get(results, "parse", "latency_ms", "p50")
    plain = _get(results, "webhook", "baseline_no_custom_action_ms", "p50")
    full = _get(results, "webhook", "latency_ms", "p50")
    if not (parse and plain and full):
        return ""
    return (f" Split of the median round trip ({full:.1f} ms): NLU (/model/parse p50) {parse / full:.0%}, the rest of Rasa's "
            f"message handling (plain-response p50 minus parse) {max(plain - parse, 0) / full:.0%}, the custom action "
            f"(difference to the plain response) {max(full - plain, 0) / full:.0%}.")


def markdown(results: dict) -> str:
    m = results["meta"]
    L = [
        "# Benchmark: 密云法治服务助手", "",
        f"Written by `make bench` (`python -m scripts.bench`) on {m['date']}; the whole run took {fmt(m.get('wall_s'))} s.", "",
        f"- machine: {m['nproc']} CPU cores ({m['cpu']}), {m['ram_gb']} GB RAM, {m['os']}, Python {m['python']}",
        f"- load average at start {m['loadavg_start']}, at end {m.get('loadavg_end')}; other `rasa` processes running at start: "
        f"{m['other_rasa_processes']} (other engineers' runs share these 2 cores: every figure is noisy, compare percentiles and ratios, not single values)",
        f"- git: {m.get('git')}",
        "", "## Targets", "",
        "| figure | measured | target | measured ÷ target | pass |", "|---|---|---|---|---|",
    ]
    for v in results["verdicts"]:
        mark = "—" if v["pass"] is None else ("✅ pass" if v["pass"] else "❌ **miss**")
        ratio = "—" if v["ratio_to_target"] is None else f"{v['ratio_to_target']:.2f}"
        L.append(f"| {v['label']} | {fmt(v['value'], v['unit'])} | {v['target']} | {ratio} | {mark} |")
    misses = [v["label"] for v in results["verdicts"] if v["pass"] is False]
    not_run = [v["label"] for v in results["verdicts"] if v["pass"] is None]
    L += ["", f"**Missed:** {', '.join(misses) if misses else 'none'}." + (f" Not measured: {', '.join(not_run)}." if not_run else "")]
    if results.get("errors"):
        L += ["", "**Sections that failed** (see bench/results.json → errors):", ""]
        L += [f"- `{k}`: {v.splitlines()[0][:200] if v else ''}" for k, v in results["errors"].items()]

    L += ["", "## Details", ""]
    t = results.get("train")
    if t:
        L += [f"**1. Train.** `rasa train` of config.yml ({t['training_examples']} training examples) into a temp dir with a cold "
              f"Rasa cache: **{fmt(t['seconds'])} s**, model {t['model_mb']} MB. `models/miyun.tar.gz` is not touched.", ""]
    cs = results.get("cold_start")
    if cs:
        runs = ", ".join(f"{r['rasa_status_200_s']} s" for r in cs["runs"])
        L += [f"**2. Cold start** (action server + Rasa started together on {cs['model']}, {cs['model_mb']} MB, each over a fresh "
              f"var dir with the content published): Rasa `/status` 200 after {runs} → median **{cs['median_s']} s**; action "
              f"server `/health` after {', '.join(str(r['action_health_200_s']) + ' s' for r in cs['runs'])}. First REST reply after "
              f"ready: {', '.join(str(r['first_webhook_reply_ms']) + ' ms' for r in cs['runs'])}.", ""]
    rss = results.get("rss")
    if rss:
        L += ["**3. Memory** (VmRSS summed over each process group, from /proc; peak = sum of VmHWM):", "",
              "| process | at ready | after warm-up | after load (20 senders) | after gateway bench | peak |", "|---|---|---|---|---|---|"]
        ready = (cs or {}).get("runs", [{}])[-1].get("rss_at_ready_mb", {})
        for name in ("rasa", "actions"):
            row = [fmt(ready.get(name), "MB")]
            for phase in ("after_warmup", "after_load", "after_gateway_bench"):
                row.append(fmt(_get(rss, phase, name, "rss_mb"), "MB"))
            peak = max([_get(rss, p, name, "peak_mb") or 0 for p in ("after_warmup", "after_load", "after_gateway_bench")])
            L.append(f"| {'Rasa server' if name == 'rasa' else 'action server'} | " + " | ".join(row) + f" | {fmt(peak, 'MB')} |")
        gp = results.get("gateway_process")
        if gp:
            L.append(f"| gateway (`python -m bot`) | — | {fmt(_get(gp, 'rss_after_warmup', 'rss_mb'), 'MB')} | "
                     f"{fmt(_get(gp, 'rss_after_load', 'rss_mb'), 'MB')} (after its own /api/chat load) | — | {fmt(_get(gp, 'rss_after_load', 'peak_mb'), 'MB')} |")
        gb = results.get("gateway_bench")
        if gb:
            L.append(f"| scripts.bench.gateway_load process (in-process gateway + WeChat stand-in + 100 clients) | — | — | — | "
                     f"{fmt(gb.get('bench_process_peak_rss_mb'), 'MB')} (sampled max) | — |")
        L.append("")
    p = results.get("parse")
    if p:
        L += [f"**4. `/model/parse`**, {p['requests']} held-out messages one after another: {pcts(p['latency_ms'])}; errors {p['errors']}.", ""]
    w = results.get("webhook")
    if w:
        L += [f"**5. REST webhook round trip** (`POST /webhooks/rest/webhook`, {w['requests']} requests, a new sender each, "
              f"phrasings whose rules run action_answer_service / action_find_station / action_answer_legal_question): "
              f"{pcts(w['latency_ms'])}; errors {w['errors']}. Trackers show a custom action ran for "
              f"{w['ran_a_custom_action_share']:.0%} of them and the expected one for {w['ran_expected_action_share']:.0%} "
              f"(the rest were classified differently); actions run: "
              + ", ".join(f"{k} {v}" for k, v in list(w["actions_run"].items())[:6]) + ". "
              f"For comparison, greetings and thanks answered by a plain response (no action server call), new sender each: "
              f"{pcts(w['baseline_no_custom_action_ms'])}." + _breakdown(results), ""]
    tp = results.get("throughput")
    if tp:
        L += [f"**6. Throughput**, {tp['senders']} concurrent senders in a closed loop for {tp['seconds']} s through the REST webhook: "
              f"**{tp['messages_per_s']} messages/s**, {pcts(tp['latency_ms'])}; errors {tp['errors']} of {tp['requests']}"
              f"{(' ' + json.dumps(tp['error_kinds'], ensure_ascii=False)) if tp['error_kinds'] else ''}. "
              f"Little's law check: {tp['senders']} senders ÷ {tp['messages_per_s']} msg/s = "
              f"{tp['senders'] / max(tp['messages_per_s'] or 1e-9, 1e-9) * 1000:.0f} ms expected mean latency, measured mean "
              f"{fmt(tp['latency_ms'].get('mean'))} ms: at this load requests queue in Rasa, so latency is set by throughput. CPU cores used: " + ", ".join(f"{k} {v}" for k, v in tp["cpu_cores_used"].items())
              + "; CPU ms per message: " + ", ".join(f"{k} {v}" for k, v in tp["cpu_ms_per_message"].items())
              + ". The load generator shares the 2 cores.", ""]
    s = results.get("search")
    if s:
        L += ["**7. Search** (the article matcher `miyun.knowledge.matcher.match()` in-process: BM25 candidates, phrasing model, reranker; " + s["query_mix"] + f", threshold {s['threshold']}):", "",
              "| content | articles | build | DB | search latency | confident share |", "|---|---|---|---|---|---|"]
        for key, name in (("real", "real content/"), ("generated", f"content/ + {(s.get('generated') or {}).get('generated', 0):,} generated")):
            x = s.get(key)
            if x:
                L.append(f"| {name} | {x['articles']} | {x['build_s']} s | {x['db_mb']} MB | {pcts(x['latency_ms'])} | {x['confident_share']:.0%} |")
        if all("bm25_only_latency_ms" in (s.get(k) or {}) for k in ("real", "generated")):
            L += ["", f"Decisions on the real content: {s['real'].get('decisions')}. For comparison, the old single-BM25 search on the same queries: "
                  f"p95 {s['real']['bm25_only_latency_ms']['p95']} ms (real), {s['generated']['bm25_only_latency_ms']['p95']} ms (10k). The first match "
                  f"after a publish loads that version's phrasing model: {s['real']['first_match_ms']} ms (real), {s['generated']['first_match_ms']} ms (10k)."]
        if s.get("real") and s.get("generated"):
            r1, r2 = s["real"], s["generated"]
            L += ["", f"Ratios 10k ÷ real: articles ×{r2['articles'] / r1['articles']:.0f}, build ×{r2['build_s'] / max(r1['build_s'], 1e-9):.0f}, "
                  f"search p50 ×{r2['latency_ms']['p50'] / r1['latency_ms']['p50']:.1f}, p95 ×{r2['latency_ms']['p95'] / r1['latency_ms']['p95']:.1f}. "
                  f"The 10k build includes YAML loading and validation ({r2['validate_only_s']} s of it for validation alone, "
                  f"{r2['yaml_mb']} MB of YAML); generated articles recombine real titles, questions, tags and answers "
                  f"(ids gen-00001…) and pass `miyun.knowledge.content.load`."]
            p1, p2 = r1.get("parts") or {}, r2.get("parts") or {}
            if p1 and p2:
                L += ["", f"Where the time goes (measured separately, on a raw FTS5 OR-query of ALL query words and character "
                      f"bigrams, i.e. without the filter search() applies to terms found in over 20% of articles): it matches a median "
                      f"{p1['matched_share_p50']:.0%} of the real articles and {p2['matched_share_p50']:.0%} "
                      f"of the 10k set ({fmt(p2['articles_matched']['p50'])} articles), and BM25 scores and sorts every match, so "
                      f"that raw query grows with the corpus: p50 {fmt(p1['fts_query_ms']['p50'])} → {fmt(p2['fts_query_ms']['p50'])} ms, "
                      f"p95 {fmt(p1['fts_query_ms']['p95'])} → {fmt(p2['fts_query_ms']['p95'])} ms. Reading the {p1['synonyms']}-row "
                      f"synonym table (cached per published version in search()) takes p50 {fmt(p1['synonyms_table_read_ms']['p50'])} ms: "
                      f"{p1['synonyms_table_read_ms']['p50'] / max(r1['latency_ms']['p50'], 1e-9):.0%} of a search on the real content."]
        L.append("")
    pl = results.get("publish_live")
    if pl:
        runs = pl["runs"]
        L += [f"**8. Publish to live** (edit the petition answer in a private content copy, `miyun.knowledge.publish.publish`, poll the REST "
              f"webhook every {pl['poll_interval_s']} s; the original is published back between runs): seen after publish() returned "
              f"in {', '.join(fmt(r['live_after_publish_s'], 's') for r in runs)}; publish() itself took "
              f"{', '.join(fmt(r['publish_s'], 's') for r in runs)}; edit-to-live total worst "
              f"{fmt(_get(pl, 'publish_plus_live_s', 'max'), 's')}. Missed (not live within 10 s): {pl['missed']}.", ""]
    gb = results.get("gateway_bench")
    if gb:
        o, wl = gb["overhead"], gb["wechat_load"]
        L += [f"**9. Gateway** (`python -m scripts.bench.gateway_load --rasa-url <our Rasa>`: it runs its own gateway in-process with a local "
              f"WeChat API stand-in; exit {gb['exit_code']}, {gb['wall_s']} s): overhead over direct Rasa p50 "
              f"**{o['overhead_ms']['p50']} ms**, p95 **{o['overhead_ms']['p95']} ms** (paired median {o['overhead_ms']['paired_median']} ms; "
              f"direct {pcts(o['direct_rasa_ms'])}; via gateway {pcts(o['via_gateway_ms'])}; scripts.bench.gateway_load reports the overhead as "
              f"the difference of the two paths' percentiles over interleaved requests, so at a few ms it is within the noise "
              f"and can come out negative). "
              f"WeChat: {wl['messages']} messages from {wl['users']} users, {wl['retried_messages']} retried "
              f"({wl['requests_sent']} requests): answered {wl['answered']}, lost **{wl['lost']}**, duplicated **{wl['duplicated']}**, "
              f"answered in ≥ 5 s **{wl['answered_over_5s']}**, HTTP errors {wl['http_errors']}, passive replies {wl['passive_replies']}, "
              f"late replies via the customer-service API {wl['late_replies_via_api']}, fallback answers {wl['fallback_answers']}; "
              f"answer latency {pcts(wl['answer_latency_ms'])}; wall {wl['wall_s']} s.", ""]
    gp = results.get("gateway_process")
    if gp:
        ld = gp["load_via_api_chat"]
        L += [f"The gateway process as `make run` starts it (`python -m bot`, rate limit raised): ready in {gp['ready_s']} s; "
              f"web chat `/api/chat` with {ld['senders']} sessions for {ld['seconds']} s: {ld['messages_per_s']} messages/s, "
              f"{pcts(ld['latency_ms'])}, errors {ld['errors']}.", ""]

    lb = results.get("lawbench")
    if lb:
        L += ["## LawBench (evaluation only)", ""]
        ev = lb.get("evaluation")
        if ev:
            L += [f"From `{ev['file']}` (written {ev['written']} by `make evaluate`): {ev['lawbench_questions']} LawBench 3-8 questions; "
                  f"**{ev['lawbench_legal_share']:.1%}** land on a legal intent; the article search answers "
                  f"**{ev['confident_article_share']:.1%}** with a confident article and gives the honest fallback "
                  f"(12348 / service station) to **{ev['honest_fallback_share']:.1%}**. Held-out served intent accuracy "
                  f"{ev['intent_accuracy_served']}, search recall@1 {ev['search_recall_at_1']}.", ""]
        else:
            L += ["reports/evaluation.json not found: run `make evaluate` for the LawBench routing figures.", ""]
        sample = lb.get("review_sample") or []
        if sample:
            j = lb.get("judgement") or {}
            jv = j.get("verdicts") or {}
            L += ["### Manual review sample", "",
                  f"20 LawBench questions drawn with a fixed seed ({SEED}); the article `miyun.knowledge.matcher.match()` chose over the real "
                  f"content at threshold {lb['review_threshold']} (or the fallback), and the intent Rasa gave the question. "
                  "The verdict column is a human judgement kept in `bench/manual_review.yml`; a row whose chosen article changed "
                  "since then shows “re-judge”.", "",
                  "| # | question | intent | answer given | conf | verdict |", "|---|---|---|---|---|---|"]
            for i, x in enumerate(sample, 1):
                q = x["question"].replace("|", "｜")
                q = q if len(q) <= 90 else q[:88] + "…"
                given = f"`{x['article']}` {x['article_title']}" if x["article"] else f"fallback (best `{x['best_candidate']}`)"
                v = jv.get(x["key"])
                verdict = (v["verdict"] + (f": {v['note']}" if v.get("note") else "")) if v else "re-judge"
                L.append(f"| {i} | {q} | {x['intent'] or '—'} | {given} | {x['confidence']} | {verdict} |")
            L.append("")
            if j.get("file"):
                cv = j.get("confident_verdicts") or {}
                L += [f"**Judgement** ({j.get('reviewer')}, {j.get('date')}; {j['judged']} of {len(sample)} rows still match the "
                      f"judged sample): of the {j['confident_answers']} confident answers, "
                      + ", ".join(f"{n} {k}" for k, n in sorted(cv.items(), key=lambda kv: -kv[1]))
                      + f"; of the {j['fallbacks']} fallbacks, "
                      + ", ".join(f"{n} {k}" for k, n in sorted((j.get('fallback_verdicts') or {}).items(), key=lambda kv: -kv[1]))
                      + ".", ""]
                if j.get("summary"):
                    L += [str(j["summary"]).strip(), ""]
                if j.get("stale"):
                    L += [f"{len(j['stale'])} row(s) changed since the judgement: re-judge them in bench/manual_review.yml.", ""]

    L += ["## Method", "",
          "- Everything on 127.0.0.1, over private copies: a temp content copy and var dir published like tests/conftest.py, "
          "servers from scripts/servers.py (own process groups, stopped in `finally`), the trained `models/miyun.tar.gz` "
          "(read only); the training run writes to a temp dir with a fresh `RASA_CACHE_DIRECTORY`.",
          "- Latencies are wall-clock per request from this process over one kept-alive HTTP connection (TCP_NODELAY), after "
          "a warm-up that is not counted; percentiles interpolate linearly. Loops are bounded by count or by time.",
          "- Cold start: from spawning both servers to the first 200 from Rasa `/status` (Rasa loads the model before it "
          "listens), polled every 50 ms, 3 times over fresh var dirs; the third stack is the one measured afterwards.",
          "- RSS: /proc/<pid>/status VmRSS summed over the server's process group and descendants (shared pages are counted "
          "in each process); peak is the sum of VmHWM.",
          "- Throughput: 20 threads, each one sender posting its next message as soon as the last reply arrives, for ~20 s. "
          "An error is a non-200, an exception or an empty reply.",
          "- The machine is shared and has 2 cores; the load generator, the servers and other engineers' jobs compete "
          "for them. Treat single figures as ±20 %, and compare the ratios.",
          "- `make bench-compare` (rarely; about half an hour) trains the alternative configurations in config_variants/: "
          "see [bench/compare.md](compare.md)" + (f" (last run {results['compare']['date']})." if results.get("compare") else "."),
          ""]
    cmp = results.get("compare")
    if cmp:
        L += ["## Alternative configurations (from bench/compare.md)", "",
              "| variant | train | cold start | Rasa RSS | parse p50 | held-out served accuracy |", "|---|---|---|---|---|---|"]
        for v in cmp.get("variants") or []:
            L.append(f"| {v['name']} | {fmt(v.get('train_s'), 's')} | {fmt(v.get('cold_start_median_s'), 's')} | "
                     f"{fmt(v.get('rasa_rss_mb'), 'MB')} | {fmt(_get(v, 'parse_ms', 'p50'), 'ms')} | {fmt(v.get('accuracy_served'))} |")
        L.append("")
    return "\n".join(L)
