"""Speed and memory benchmark of the whole assistant on this machine -> bench/results.{json,md}.

    make bench                       # = python -m scripts.bench
    python -m scripts.bench --sections search,stack --quick   # a shorter run while developing

Everything runs on 127.0.0.1 with bounded loops, on private copies (a temporary content copy
and var dir, a temporary model directory for the training run), so a concurrent `make run` or
`make test` is never disturbed. Every process started here is stopped in a `finally`.

Sections (in run order):
  train     `rasa train` of config.yml into a temp dir with a cold Rasa cache (target <= 180 s)
  search    miyun.knowledge.search.search() p50/p95 over the real articles and over 10,000 generated
            ones, plus the build time of each content database (target p95 <= 20 ms); then, with the
            statute library loaded, the answer search: curated search and the statute tier on its
            fallbacks (scripts/bench/statutes.py, target p95 <= 20 ms)
  stack     3 cold starts of action server + Rasa (target <= 15 s to /status 200), RSS after
            warm-up and after load, /model/parse latency, REST webhook round trip through a
            custom action (target p95 <= 60 ms), 20 concurrent senders for ~20 s, the gateway
            process (RSS, /api/chat), scripts.bench.gateway_load (gateway overhead and 100 WeChat users),
            publish-to-live latency (target <= 2 s), and the LawBench manual-review sample
  lawbench  figures from reports/evaluation.json and the manual-review sample
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from scripts import blind_review
from scripts import servers
from scripts.bench.common import (
    BENCH_DIR, ROOT, Http, _git, _interrupt, _other_rasa, _section, cpu_model, fmt, group_rss, loadavg, log,
    mem_total_gb, publish_into, summary,
)
from scripts.bench.gateway import bench_bot_bench, bench_gateway_process
from scripts.bench.latency import bench_parse, bench_throughput, bench_webhook
from scripts.bench.lawbench import bench_lawbench, review_intents
from scripts.bench.publish_live import bench_publish_live
from scripts.bench.report import markdown, verdicts
from scripts.bench.search import bench_search
from scripts.bench.stack import Stack, webhook_messages
from scripts.bench.statutes import bench_statutes
from scripts.bench.train import bench_train


def bench_stack(tmp: Path, results: dict, quick: bool) -> None:
    base_content = tmp / "stack-content"
    shutil.copytree(ROOT / "content", base_content)
    messages = webhook_messages()
    starts, stack = [], None
    n_starts = 3
    try:
        for i in range(n_starts):
            # Each start gets a fresh var dir with the content published, like tests/conftest.py.
            base = tmp / f"stack-{i + 1}"
            base.mkdir()
            shutil.copytree(base_content, base / "content")
            publish_into(base / "content", base / "var")
            stack = Stack(base, str(i + 1))
            log(f"cold start {i + 1}/{n_starts}…")
            ready = stack.start()
            client = Http(stack.url, token=stack.token)
            t0 = time.perf_counter()
            status, body = client.post("/webhooks/rest/webhook", {"sender": f"bench-first-{i}", "message": messages[0][0]})
            ready["first_webhook_reply_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            st, status_json = client.get("/status")
            client.close()
            ready["model_loaded"] = bool(status_json and status_json.get("model_id"))
            ready["rss_at_ready_mb"] = {"rasa": group_rss(stack.rasa.proc.pid)["rss_mb"],
                                        "actions": group_rss(stack.actions.proc.pid)["rss_mb"]}
            starts.append(ready)
            log(f"  ready: rasa {ready['rasa_status_200_s']} s, actions {ready['action_health_200_s']} s")
            if i < n_starts - 1:
                stack.stop()
                stack = None
        rs = [s["rasa_status_200_s"] for s in starts]
        results["cold_start"] = {"runs": starts, "rasa_status_200_s": summary(rs),
                                 "median_s": round(statistics.median(rs), 2),
                                 "model": str(servers.MODEL.relative_to(ROOT)),
                                 "model_mb": round(servers.MODEL.stat().st_size / 1e6, 2)}

        # Warm-up, then memory.
        client = Http(stack.url, token=stack.token)
        for i, (t, _) in enumerate(messages[:40]):
            client.post("/webhooks/rest/webhook", {"sender": f"bench-warmup-{i}", "message": t})
        client.close()
        rss: dict[str, Any] = {"after_warmup": {"rasa": group_rss(stack.rasa.proc.pid),
                                                "actions": group_rss(stack.actions.proc.pid)}}
        results["rss"] = rss

        bench_parse(stack, 100 if quick else 300, results)
        bench_webhook(stack, messages, 100 if quick else 300, results)
        bench_throughput(stack, messages, 20, 8 if quick else 20, results)
        rss["after_load"] = {"rasa": group_rss(stack.rasa.proc.pid), "actions": group_rss(stack.actions.proc.pid)}
        log(f"RSS after load: rasa {rss['after_load']['rasa']['rss_mb']} MB, actions {rss['after_load']['actions']['rss_mb']} MB")

        _section(results, "gateway_process", bench_gateway_process, stack, tmp, messages, 5 if quick else 10, results)
        _section(results, "gateway_bench", bench_bot_bench, stack, tmp, results)
        rss["after_gateway_bench"] = {"rasa": group_rss(stack.rasa.proc.pid), "actions": group_rss(stack.actions.proc.pid)}
        _section(results, "publish_live", bench_publish_live, stack, 2 if quick else 5, results)
        _section(results, "review_intents", review_intents, stack, results)
    finally:
        if stack is not None:
            stack.stop()


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", default="train,search,stack,lawbench", help="comma list (default: all)")
    ap.add_argument("--quick", action="store_true", help="fewer requests and a 1,000-article search set (development only)")
    ap.add_argument("--out-dir", type=Path, default=BENCH_DIR)
    args = ap.parse_args(argv)
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    if not servers.MODEL.exists() and "stack" in sections:
        print("no trained model: run `make train` first (make bench does)", file=sys.stderr)
        return 2

    # A SIGTERM (e.g. from a CI timeout) unwinds through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, _interrupt)
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    os.environ.setdefault("no_proxy", "127.0.0.1,localhost")
    import logging

    logging.disable(logging.WARNING)
    started = time.perf_counter()
    results: dict[str, Any] = {"meta": {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(), "cpu": cpu_model(), "ram_gb": mem_total_gb(),
        "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
        "loadavg_start": loadavg(), "other_rasa_processes": _other_rasa(), "git": _git(),
        "sections": sorted(sections), "quick": args.quick,
    }}
    tmp = Path(tempfile.mkdtemp(prefix="miyun-bench-"))
    log(f"temp dir {tmp}")
    try:
        if "train" in sections:
            _section(results, "train", bench_train, tmp, results)
        if "search" in sections:
            _section(results, "search", bench_search, tmp, results, 1000 if args.quick else 10_000, 300)
            _section(results, "statutes", bench_statutes, results)
        if "stack" in sections:
            _section(results, "stack", bench_stack, tmp, results, args.quick)
        if "lawbench" in sections:
            _section(results, "lawbench", bench_lawbench, tmp, results)
    finally:
        results["meta"]["wall_s"] = round(time.perf_counter() - started, 1)
        results["meta"]["loadavg_end"] = loadavg()
        compare = args.out_dir / "compare.json"
        if compare.exists():
            try:
                results["compare"] = json.loads(compare.read_text(encoding="utf-8"))
            except ValueError:
                pass
        results.pop("_real_db", None)
        results.pop("_review_intents", None)
        try:
            results["verdicts"] = verdicts(results)
            args.out_dir.mkdir(parents=True, exist_ok=True)
            (args.out_dir / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
            out = args.out_dir / "results.md"
            # The blind review's section is a human judgement, not a measurement: a bench run keeps it.
            kept = blind_review.kept_section(out.read_text(encoding="utf-8")) if out.exists() else ""
            out.write_text(markdown(results) + ("\n" + kept + "\n" if kept else ""), encoding="utf-8")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    for v in results["verdicts"]:
        mark = "  " if v["pass"] is None else ("✓ " if v["pass"] else "✗ ")
        print(f"{mark}{v['label']:<66} {fmt(v['value'], v['unit']):>12}  (target {v['target']})")
    print(f"\nwrote {args.out_dir / 'results.md'} and results.json in {results['meta']['wall_s']} s")
    return 0
