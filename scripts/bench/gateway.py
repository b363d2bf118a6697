"""9. Gateway: the gateway process (RSS, /api/chat) and `python -m scripts.bench.gateway_load` (overhead and 100 WeChat users)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from scripts import servers
from scripts.bench.common import Http, ROOT, group_rss, log, tail
from scripts.bench.latency import closed_loop
from scripts.bench.stack import Stack


def bench_gateway_process(stack: Stack, tmp: Path, messages: list[tuple[str, str]], seconds: float, results: dict) -> None:
    """The gateway as `make run` starts it (python -m bot): RSS after warm-up and after load via /api/chat."""
    port = servers.free_port()
    gw = servers.start_gateway(port, stack.url, log=tmp / "gateway.log", MIYUN_RATE_LIMIT_PER_MIN="100000",
                               MIYUN_WEB_PER_IP_PER_MIN="10000000", MIYUN_WEB_NEW_SESSIONS_PER_IP_PER_HOUR="10000000",
                               MIYUN_LOG_LEVEL="WARNING", **stack.env)
    out: dict[str, Any] = {}
    try:
        t0 = time.perf_counter()
        gw.wait_ready(60)
        out["ready_s"] = round(time.perf_counter() - t0, 2)
        client = Http(gw.url)
        for i in range(20):
            client.post("/api/chat", {"session": f"benchwarmsession{i:04d}", "message": messages[i % len(messages)][0]})
        client.close()
        out["rss_after_warmup"] = group_rss(gw.proc.pid)
        load = closed_loop(gw.url, "/api/chat",
                           lambda k, j: {"session": f"benchloadsession{k:04d}", "message": messages[(k * 11 + j) % len(messages)][0]},
                           10, seconds, lambda status, body: status == 200 and bool((body or {}).get("messages")))
        out["load_via_api_chat"] = load
        out["rss_after_load"] = group_rss(gw.proc.pid)
    finally:
        gw.stop()
    results["gateway_process"] = out
    log(f"gateway process: RSS {out['rss_after_warmup']['rss_mb']} -> {out['rss_after_load']['rss_mb']} MB; "
        f"/api/chat {out['load_via_api_chat']['messages_per_s']} msg/s")


def bench_bot_bench(stack: Stack, tmp: Path, results: dict) -> None:
    """`python -m scripts.bench.gateway_load` (its own in-process gateway + WeChat API stand-in) against our Rasa."""
    out_json, log_path = tmp / "gateway-bench.json", tmp / "gateway-bench.log"
    cmd = [servers.python(), "-m", "scripts.bench.gateway_load", "--rasa-url", stack.url, "--out", str(out_json)]
    log("scripts.bench.gateway_load: gateway overhead + 100 WeChat users x 5 messages…")
    started = time.perf_counter()
    peak = 0.0
    with open(log_path, "ab") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=servers.base_env(**stack.env), stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            while proc.poll() is None:
                peak = max(peak, group_rss(proc.pid)["rss_mb"])
                if time.perf_counter() - started > 420:
                    raise TimeoutError("scripts.bench.gateway_load ran over 420 s")
                time.sleep(0.5)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    if not out_json.exists():
        raise RuntimeError(f"scripts.bench.gateway_load wrote no results (exit {proc.returncode})\n{tail(log_path)}")
    data = json.loads(out_json.read_text(encoding="utf-8"))
    data["exit_code"] = proc.returncode
    data["wall_s"] = round(time.perf_counter() - started, 1)
    data["bench_process_peak_rss_mb"] = peak
    data["stdout"] = tail(log_path, 800)
    results["gateway_bench"] = data
    o, w = data["overhead"]["overhead_ms"], data["wechat_load"]
    log(f"scripts.bench.gateway_load: overhead p50 {o['p50']} / p95 {o['p95']} ms; wechat lost {w['lost']}, dup {w['duplicated']}, "
        f"over 5 s {w['answered_over_5s']}")
