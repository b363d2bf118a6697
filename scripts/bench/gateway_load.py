"""Gateway bench: overhead over direct Rasa REST calls, and 100 concurrent WeChat users with retries.

    python -m scripts.bench.gateway_load --rasa-url http://127.0.0.1:5005 --out var/bench/gateway.json

Runs the gateway in-process on a loopback port (rate limit raised so the bench measures the
path, not the limiter), with a local stand-in for WeChat's server API to receive late
(customer-service) replies. Works against any Rasa that speaks the REST channel.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.app import create_app
from bot.rasa_client import FALLBACK_TEXT, RasaClient, RasaReply
from bot.wechat_crypto import sha1_signature
from miyun.settings import GatewaySettings

QUESTIONS = ["古北口镇的法律服务站在哪", "怎么申请法律援助", "邻居纠纷可以调解吗", "12348热线是做什么的", "公司拖欠工资怎么办"]
WX_TOKEN = "bench_token"
DEADLINE_S = 5.0


# ------------------------------------------------------------------ helpers

class _Server:
    """uvicorn on a fresh loopback port in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, ws="none", log_level="warning", access_log=False,
                                                    timeout_graceful_shutdown=2, log_config=None,
                                                    backlog=2048, limit_concurrency=None))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "_Server":
        self.thread.start()
        for _ in range(1500):                     # up to 15 s
            if self.server.started:
                return self
            time.sleep(0.01)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


class _WeChatAPIStandIn:
    """Receives customer-service messages: records (openid, text, arrival time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self.app = Starlette(routes=[Route("/cgi-bin/token", self.token),
                                     Route("/cgi-bin/message/custom/send", self.send, methods=["POST"])])

    async def token(self, request: Request) -> JSONResponse:
        return JSONResponse({"access_token": "BENCH_TOKEN", "expires_in": 7200})

    async def send(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        with self.lock:
            self.received[body["touser"]].append((body["text"]["content"], time.monotonic()))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    def count(self, openid: str) -> int:
        with self.lock:
            return len(self.received[openid])

    def since(self, openid: str, start: int) -> list[tuple[str, float]]:
        with self.lock:
            return list(self.received[openid][start:])


class _CountingRasa(RasaClient):
    """Counts Rasa calls per (sender, message) to detect duplicate processing."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.per_message: dict[tuple[str, str], int] = defaultdict(int)

    async def send(self, sender: str, message: str, *, timeout_s: float | None = None) -> RasaReply:
        self.per_message[(sender, message)] += 1
        return await super().send(sender, message, timeout_s=timeout_s)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]


def _summary(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "p50": round(_pct(ms, 50), 2), "p95": round(_pct(ms, 95), 2),
            "max": round(max(ms), 2) if ms else float("nan"), "mean": round(statistics.fmean(ms), 2) if ms else 0}


def _signed(openid: str) -> dict[str, str]:
    ts, nonce = str(int(time.time())), str(random.randint(10**8, 10**9))
    return {"signature": sha1_signature(WX_TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": openid}


def _text_xml(openid: str, content: str, msg_id: int) -> bytes:
    return (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>").encode("utf-8")


def _content(xml: str) -> str:
    start = xml.find("<Content><![CDATA[")
    return xml[start + 18: xml.find("]]></Content>")] if start >= 0 else ""


# ------------------------------------------------------------------ part 1: overhead

async def bench_overhead(rasa_url: str, gateway_url: str, n: int) -> dict[str, Any]:
    direct, via, diffs = [], [], []
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        for i in range(n + 10):                    # 10 warm-up rounds, then n measured pairs
            q = QUESTIONS[i % len(QUESTIONS)]
            t0 = time.perf_counter()
            r1 = await client.post(f"{rasa_url}/webhooks/rest/webhook",
                                   json={"sender": f"bench-direct-{i % 20}", "message": q})
            t1 = time.perf_counter()
            r2 = await client.post(f"{gateway_url}/api/chat",
                                   json={"session": f"benchsession{i % 20:08d}", "message": q})
            t2 = time.perf_counter()
            r1.raise_for_status()
            r2.raise_for_status()
            if i >= 10:
                direct.append((t1 - t0) * 1000)
                via.append((t2 - t1) * 1000)
                diffs.append(via[-1] - direct[-1])
    return {"requests_each": n, "direct_rasa_ms": _summary(direct), "via_gateway_ms": _summary(via),
            "overhead_ms": {"p50": round(_pct(via, 50) - _pct(direct, 50), 2),
                            "p95": round(_pct(via, 95) - _pct(direct, 95), 2),
                            "paired_median": round(statistics.median(diffs), 2)}}


# ------------------------------------------------------------------ part 2: WeChat load

async def bench_wechat(gateway_url: str, api: _WeChatAPIStandIn, rasa: _CountingRasa, users: int, per_user: int,
                       retry_every: int) -> dict[str, Any]:
    records: list[dict[str, Any]] = []
    # One small client per user (like WeChat's separate connections); one shared client with hundreds
    # of connections would measure httpx's pool bookkeeping instead of the gateway.
    clients = [httpx.AsyncClient(trust_env=False, timeout=15, limits=httpx.Limits(max_connections=3))
               for _ in range(users)]
    try:
        async def post(u: int, openid: str, body: bytes) -> tuple[int, str]:
            r = await clients[u].post(f"{gateway_url}/wechat", params=_signed(openid), content=body)
            return r.status_code, r.text

        async def user(u: int) -> None:
            openid = f"oBenchUser{u:05d}"
            await asyncio.sleep(random.random() * 0.2)
            for m in range(per_user):
                msg_id = 8_000_000_000_000 + u * 1000 + m
                body = _text_xml(openid, QUESTIONS[m % len(QUESTIONS)], msg_id)
                cs_before = api.count(openid)
                retried = retry_every > 0 and (m % retry_every == retry_every - 1)
                start = time.monotonic()
                tasks = [asyncio.create_task(post(u, openid, body))]
                if retried:                         # WeChat-style retry of the same MsgId while in flight
                    await asyncio.sleep(random.uniform(0.0, 0.3))
                    tasks.append(asyncio.create_task(post(u, openid, body)))
                results = await asyncio.gather(*tasks, return_exceptions=True)
                first_done = time.monotonic()
                if retried:                         # and a late retry after the answer
                    results.append(await post(u, openid, body))
                passive = [_content(t) for ok in results if not isinstance(ok, BaseException)
                           for s, t in [ok] if s == 200 and t != "success"]
                errors = [ok for ok in results if isinstance(ok, BaseException) or ok[0] != 200]
                answered_at = first_done if passive else None
                for _ in range(300):                # wait (<= 15 s) for a late reply if there was no passive one
                    if passive or api.count(openid) > cs_before:
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.05)
                cs = api.since(openid, cs_before)
                if answered_at is None and cs:
                    answered_at = cs[0][1]
                records.append({"user": openid, "message": QUESTIONS[m % len(QUESTIONS)], "retried": retried,
                                "passive": passive, "cs": [c for c, _ in cs], "errors": len(errors),
                                "latency_s": (answered_at - start) if answered_at else None})

        t0 = time.monotonic()
        await asyncio.gather(*(user(u) for u in range(users)))
        wall = time.monotonic() - t0
    finally:
        for client in clients:
            await client.aclose()
    await asyncio.sleep(1.0)                        # let stray late replies arrive, then recount

    lost = duplicated = over = fallback = 0
    for rec in records:
        calls = rasa.per_message[("wx:" + rec["user"], rec["message"])]
        cs_late = api.since(rec["user"], 0)
        rec["rasa_calls"] = calls
        if rec["latency_s"] is None:
            lost += 1
        elif rec["latency_s"] >= DEADLINE_S:
            over += 1
        distinct_passive = set(rec["passive"])
        if (calls != 1 or len(distinct_passive) > 1 or any(p in rec["cs"] for p in distinct_passive)
                or len(rec["cs"]) != len(set(rec["cs"]))):
            duplicated += 1
        if any(FALLBACK_TEXT in p for p in rec["passive"] + rec["cs"]):
            fallback += 1
        del cs_late
    # any customer-service message that is not accounted to one message is a duplicate too
    total_cs = sum(len(v) for v in api.received.values())
    accounted = sum(len(r["cs"]) for r in records)
    latencies = [r["latency_s"] * 1000 for r in records if r["latency_s"] is not None]
    return {
        "users": users, "messages_per_user": per_user, "messages": len(records),
        "retried_messages": sum(r["retried"] for r in records),
        "requests_sent": len(records) + 2 * sum(r["retried"] for r in records),
        "answered": len(records) - lost, "lost": lost, "duplicated": duplicated + max(0, total_cs - accounted),
        "answered_over_5s": over, "http_errors": sum(r["errors"] for r in records),
        "passive_replies": sum(1 for r in records if r["passive"]),
        "late_replies_via_api": sum(1 for r in records if not r["passive"] and r["cs"]),
        "fallback_answers": fallback,
        "answer_latency_ms": _summary(latencies), "wall_s": round(wall, 2),
    }


# ------------------------------------------------------------------ main

async def run(args: argparse.Namespace) -> dict[str, Any]:
    rasa_url = args.rasa_url.rstrip("/")
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        try:
            (await client.get(rasa_url + "/")).raise_for_status()
        except httpx.HTTPError as exc:
            raise SystemExit(f"Rasa not reachable at {rasa_url}: {type(exc).__name__}")
    api = _WeChatAPIStandIn()
    with _Server(api.app) as api_server:
        settings = GatewaySettings(
            host="127.0.0.1", port=0, rasa_url=rasa_url, rasa_timeout_s=args.rasa_timeout,
            rate_limit_per_min=100_000, max_input_chars=500, rasa_max_concurrency=args.rasa_concurrency,
            # every bench client is 127.0.0.1: the per-IP web chat limits would throttle the load itself
            web_per_ip_per_min=10_000_000, web_new_sessions_per_ip_per_hour=10_000_000,
            wechat_token=WX_TOKEN, wechat_app_id="wxbench", wechat_app_secret="bench-secret", wechat_aes_key="",
            wechat_api_base=api_server.url, wechat_passive_deadline_s=args.passive_deadline,
            telegram_bot_token="", telegram_webhook_secret="", log_salt="bench")
        rasa = _CountingRasa(rasa_url, settings.rasa_timeout_s, max_concurrency=settings.rasa_max_concurrency)
        with _Server(create_app(settings, rasa=rasa)) as gateway:
            overhead = await bench_overhead(rasa_url, gateway.url, args.requests)
            wechat = await bench_wechat(gateway.url, api, rasa, args.users, args.messages, args.retry_every)
    ok = wechat["lost"] == 0 and wechat["duplicated"] == 0 and wechat["answered_over_5s"] == 0 \
        and wechat["http_errors"] == 0
    return {"rasa_url": rasa_url, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "settings": {"passive_deadline_s": args.passive_deadline, "rasa_timeout_s": args.rasa_timeout,
                         "rasa_max_concurrency": args.rasa_concurrency},
            "overhead": overhead, "wechat_load": wechat, "pass": ok}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Bench the channel gateway against a Rasa REST server.")
    parser.add_argument("--rasa-url", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per path (overhead)")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--messages", type=int, default=5, help="messages per WeChat user")
    parser.add_argument("--retry-every", type=int, default=2, help="every Nth message is retried (0: none)")
    parser.add_argument("--passive-deadline", type=float, default=4.5)
    parser.add_argument("--rasa-timeout", type=float, default=8.0)
    parser.add_argument("--rasa-concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=12348)
    args = parser.parse_args(argv)
    if not (1 <= args.requests <= 10_000 and 1 <= args.users <= 1000 and 1 <= args.messages <= 50):
        parser.error("--requests 1..10000, --users 1..1000, --messages 1..50")
    random.seed(args.seed)
    result = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    o, w = result["overhead"], result["wechat_load"]
    print(f"overhead p50 {o['overhead_ms']['p50']} ms, p95 {o['overhead_ms']['p95']} ms "
          f"(direct p50 {o['direct_rasa_ms']['p50']} ms, via gateway p50 {o['via_gateway_ms']['p50']} ms)")
    print(f"wechat: {w['messages']} messages from {w['users']} users ({w['retried_messages']} retried): "
          f"answered {w['answered']}, lost {w['lost']}, duplicated {w['duplicated']}, over 5 s "
          f"{w['answered_over_5s']}, p95 {w['answer_latency_ms']['p95']} ms -> {'PASS' if result['pass'] else 'FAIL'}")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
