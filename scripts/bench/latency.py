"""4-6. Latency and throughput of the running stack: /model/parse, the REST webhook through a custom action, concurrent senders."""
from __future__ import annotations

import os
import random
import threading
import time
from typing import Any, Callable

from scripts.bench.common import Http, RASA_ACTIONS, SEED, group_cpu_s, heldout_examples, log, reply_text, summary
from scripts.bench.stack import Stack, last_actions


def bench_parse(stack: Stack, n: int, results: dict) -> None:
    rng = random.Random(SEED)
    texts = [t for t, _ in heldout_examples()]
    picked = rng.sample(texts, min(n, len(texts)))
    while len(picked) < n:
        picked.append(rng.choice(texts))
    client = Http(stack.url, token=stack.token)
    for t in picked[:20]:
        client.post("/model/parse", {"text": t})
    times, errors = [], 0
    for t in picked:
        t0 = time.perf_counter()
        status, body = client.post("/model/parse", {"text": t})
        times.append((time.perf_counter() - t0) * 1000)
        errors += status != 200 or not isinstance(body, dict) or "intent" not in body
    client.close()
    results["parse"] = {"requests": len(picked), "errors": errors, "latency_ms": summary(times),
                        "texts": "random sample of tests/nlu_heldout.yml (timing only)"}
    log(f"/model/parse p50 {results['parse']['latency_ms']['p50']} ms, p95 {results['parse']['latency_ms']['p95']} ms")


def bench_webhook(stack: Stack, messages: list[tuple[str, str]], n: int, results: dict) -> None:
    client = Http(stack.url, token=stack.token)
    for i, (t, _) in enumerate(messages[:20]):
        client.post("/webhooks/rest/webhook", {"sender": f"bench-warm-{i}", "message": t})
    times, errors, empty = [], 0, 0
    senders = []
    for i in range(n):
        text, expected = messages[i % len(messages)]
        sender = f"bench-rt-{i:04d}"
        t0 = time.perf_counter()
        status, body = client.post("/webhooks/rest/webhook", {"sender": sender, "message": text})
        times.append((time.perf_counter() - t0) * 1000)
        errors += status != 200
        empty += status == 200 and not reply_text(body) and not body
        senders.append((sender, expected))
    # Baseline: messages answered by a plain response (utter_*), no action server call.
    chit = [t for t, i in heldout_examples() if i in ("greet", "thank", "goodbye", "bot_challenge")]
    base = []
    for i in range(min(100, n)):
        t0 = time.perf_counter()
        client.post("/webhooks/rest/webhook", {"sender": f"bench-chit-{i:04d}", "message": chit[i % len(chit)]})
        base.append((time.perf_counter() - t0) * 1000)
    # Which action actually answered (not timed): from each sender's tracker.
    ran: dict[str, int] = {}
    matched = custom = 0
    for sender, expected in senders:
        status, tracker = client.get(f"/conversations/{sender}/tracker")
        names = last_actions(tracker) if status == 200 else []
        for name in names:
            ran[name] = ran.get(name, 0) + 1
        custom += any(n.startswith("action_") and n not in RASA_ACTIONS for n in names)
        matched += expected in names
    client.close()
    results["webhook"] = {
        "requests": n, "distinct_senders": n, "errors": errors, "empty_replies": empty, "latency_ms": summary(times),
        "ran_a_custom_action_share": round(custom / n, 3), "ran_expected_action_share": round(matched / n, 3),
        "actions_run": dict(sorted(ran.items(), key=lambda kv: -kv[1])),
        "baseline_no_custom_action_ms": summary(base),
    }
    log(f"webhook p50 {results['webhook']['latency_ms']['p50']} ms, p95 {results['webhook']['latency_ms']['p95']} ms; "
        f"custom action in {custom}/{n}")


def closed_loop(url: str, path: str, body_for: Callable[[int, int], dict], senders: int, seconds: float,
                check: Callable[[int, Any], bool]) -> dict[str, Any]:
    """`senders` threads, each sending one request after another for `seconds` (a closed loop)."""
    lat: list[list[float]] = [[] for _ in range(senders)]
    errs = [0] * senders
    err_kinds: dict[str, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(senders + 1)
    stop_at = [0.0]

    def worker(k: int) -> None:
        client = Http(url, timeout=30)
        barrier.wait()
        j = 0
        while time.perf_counter() < stop_at[0]:
            t0 = time.perf_counter()
            try:
                status, body = client.post(path, body_for(k, j))
                ok = check(status, body)
                kind = None if ok else f"http {status}" if status != 200 else "empty or bad reply"
            except Exception as exc:  # noqa: BLE001 - counted, not fatal
                ok, kind = False, type(exc).__name__
            lat[k].append((time.perf_counter() - t0) * 1000)
            if not ok:
                errs[k] += 1
                with lock:
                    err_kinds[kind] = err_kinds.get(kind, 0) + 1
            j += 1
        client.close()

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(senders)]
    for th in threads:
        th.start()
    stop_at[0] = time.perf_counter() + seconds
    barrier.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join(seconds + 60)
    wall = time.perf_counter() - t0
    all_lat = [v for l in lat for v in l]
    total, errors = len(all_lat), sum(errs)
    return {
        "senders": senders, "seconds": round(wall, 2), "requests": total, "errors": errors, "error_kinds": err_kinds,
        "messages_per_s": round((total - errors) / wall, 2) if wall else None, "latency_ms": summary(all_lat),
    }


def bench_throughput(stack: Stack, messages: list[tuple[str, str]], senders: int, seconds: float, results: dict) -> None:
    pids = {"rasa": stack.rasa.proc.pid, "actions": stack.actions.proc.pid}
    cpu0 = {k: group_cpu_s(p) for k, p in pids.items()}
    own0 = os.times()
    res = closed_loop(
        stack.url, "/webhooks/rest/webhook",
        lambda k, j: {"sender": f"bench-tp-{k:02d}", "message": messages[(k * 37 + j) % len(messages)][0]},
        senders, seconds, lambda status, body: status == 200 and bool(body))
    own1 = os.times()
    wall = res["seconds"] or 1.0
    cpu = {k: round((group_cpu_s(p) - cpu0[k]) / wall, 2) for k, p in pids.items()}
    cpu["bench client"] = round(((own1.user - own0.user) + (own1.system - own0.system)) / wall, 2)
    res["cpu_cores_used"] = cpu
    res["cpu_ms_per_message"] = {k: round(v * wall * 1000 / max(res["requests"], 1), 2) for k, v in cpu.items()}
    results["throughput"] = res
    log(f"throughput: {res['messages_per_s']} msg/s with {senders} senders, p95 {res['latency_ms'].get('p95')} ms, "
        f"errors {res['errors']}")
