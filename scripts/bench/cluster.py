"""`make bench-cluster`: prove the cluster profile under load and faults → bench/cluster.md, bench/cluster.json.

Starts the local cluster (scripts/cluster.py: PostgreSQL, Redis, nginx, Rasa × 3, actions × 2,
gateway), plus an in-process stand-in for WeChat's server API so slow answers can arrive late
through the customer-service API, exactly as on a real Official Account. Then:

1. content: publish a changed answer; every action-server replica must serve it within 2 s;
2. load: N simulated residents (default 500), each a 10-message WeChat conversation with a full
   mediation referral, through the gateway's /wechat (plaintext mode, valid signatures), a few at a
   time; one Rasa replica is killed with SIGKILL in the middle; the cluster's supervisor (not this
   bench) restarts it, and nginx's log shows it back in the pool while the others kept serving;
3. checks: no lost message, every reply the one expected for its step (order), every
   conversation's history in PostgreSQL exactly the messages sent, every referral saved once;
4. fault: Redis stopped for 5 s while residents keep writing: static 12348 answers, not hangs,
   then recovery without intervention;
5. capacity: CPU seconds per message of each part, messages/s per Rasa replica, and the replicas
   Beijing-wide traffic would need.

Everything binds to 127.0.0.1; the run is bounded by --residents and --concurrency.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import shutil
import signal
import string
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional

import httpx

from bot.rasa_client import EMPTY_ANSWER_TEXT, FALLBACK_TEXT
from bot.wechat_crypto import sha1_signature
from scripts.bench.cluster_report import write_report
from scripts.bench.gateway_load import _Server, _WeChatAPIStandIn
from scripts.cluster import Cluster, ROOT

TOKEN = "bench_cluster_token"
STATIC = (FALLBACK_TEXT, EMPTY_ANSWER_TEXT)
CLK = os.sysconf("SC_CLK_TCK")


def conversation(i: int) -> list[tuple[str, str]]:
    """(message, a regex the right reply matches) × 10: a mediation referral, then a status question.

    The dialogue is the one tests/test_live_flows.py proves; each resident has a unique phone number.
    """
    phone = f"139{i:08d}"
    masked = f"139\\*\\*\\*\\*{phone[-4:]}"
    return [
        ("我和邻居在古北口因为宅基地吵架了，想找人调解", "同意"),
        ("同意", "村"),
        ("河西村", "报警"),
        ("都没有", "称呼"),
        ("姓王", "电话"),
        ("123", "13912345678"),                    # a bad phone number is asked again, with an example
        (phone, "时间"),
        ("工作日下午", f"古北口镇(.|\\n)*{masked}|{masked}(.|\\n)*古北口镇"),
        ("确认提交", r"MY-\d{4}-\d{6}"),
        ("查询调解进度", "编号"),
    ]


def stored_history(i: int) -> list[str]:
    """The user messages the tracker store should hold: the finished referral (all but the last message)
    blanked by miyun.privacy.tracker_store, the status question that follows as sent."""
    from miyun.privacy.redact import REDACTED

    sent = [m for m, _ in conversation(i)]
    return [REDACTED] * (len(sent) - 1) + sent[-1:]


def sender_hash(sender: str, var_dir: Path) -> str:
    """The action servers' salted hash (actions/context.py) of a sender id; `var_dir` is theirs."""
    from miyun.settings import log_salt

    return hashlib.sha256(f"{log_salt(var_dir)}:{sender}".encode()).hexdigest()[:16]


def pct(values: list[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1)))))
    return round(ordered[k], 1)


def _signed() -> dict[str, str]:
    ts, nonce = str(int(time.time())), str(random.randint(10**8, 10**9))
    return {"signature": sha1_signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}


def _xml(openid: str, content: str, msg_id: int) -> bytes:
    return (f"<xml><ToUserName><![CDATA[gh_miyun]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>").encode("utf-8")


def _content(xml: str) -> str:
    start = xml.find("<Content><![CDATA[")
    return xml[start + 18: xml.find("]]></Content>")] if start >= 0 else ""


# ------------------------------------------------------------------ CPU and memory of the cluster's processes

def _group_pids(root: int) -> list[int]:
    """The process, its process group and all its descendants (postgres backends leave runuser's group)."""
    parent, group = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                parent[int(entry)], group[int(entry)] = int(fields[1]), int(fields[2])
            except (OSError, IndexError, ValueError):
                pass
    out = {pid for pid, g in group.items() if g == root} | {root}
    changed = True
    while changed:
        new = {pid for pid, pp in parent.items() if pp in out and pid not in out}
        out |= new
        changed = bool(new)
    return sorted(pid for pid in out if pid in parent)


def usage(cluster: Cluster) -> dict[str, dict[str, float]]:
    """CPU seconds (user+system) and RSS per cluster component, summed over its process group."""
    out = {}
    for name, server in cluster.started:
        cpu = rss = 0.0
        for pid in _group_pids(server.proc.pid):
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                cpu += (int(fields[11]) + int(fields[12])) / CLK
                with open(f"/proc/{pid}/statm") as fh:
                    rss += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                pass
        out[name] = {"cpu_s": round(cpu, 2), "rss_mb": round(rss / 2**20)}
    return out


# ------------------------------------------------------------------ one WeChat message

class Resident:
    """One simulated resident on WeChat: sends a message, waits for the passive or the late reply."""

    def __init__(self, i: int, run: str, client: httpx.AsyncClient, gateway: str, api: _WeChatAPIStandIn) -> None:
        self.i, self.client, self.gateway, self.api = i, client, gateway, api
        self.openid = f"o{run}{i:05d}"
        self.sender = "wx:" + self.openid
        self.msg_seq = 0

    async def send(self, text: str, timeout: float = 30.0) -> tuple[Optional[str], float, str]:
        """(reply text or None, seconds, how: passive|late|none|http_error)."""
        self.msg_seq += 1
        msg_id = 7_000_000_000_000 + self.i * 1000 + self.msg_seq
        before = self.api.count(self.openid)
        start = time.monotonic()
        try:
            r = await self.client.post(f"{self.gateway}/wechat", params={**_signed(), "openid": self.openid},
                                       content=_xml(self.openid, text, msg_id), timeout=10)
        except httpx.HTTPError:
            return None, time.monotonic() - start, "http_error"
        if r.status_code != 200:
            return None, time.monotonic() - start, "http_error"
        if r.text != "success":
            return _content(r.text), time.monotonic() - start, "passive"
        while time.monotonic() - start < timeout:       # the answer comes later through the customer-service API
            late = self.api.since(self.openid, before)
            if late:
                await asyncio.sleep(0.05)                # a long answer may come in several parts
                late = self.api.since(self.openid, before)
                return "\n".join(t for t, _ in late), late[0][1] - start, "late"
            await asyncio.sleep(0.05)
        return None, time.monotonic() - start, "none"


# ------------------------------------------------------------------ phases

def check_publish(cluster: Cluster, token: str) -> dict[str, Any]:
    """Publish a changed hotline answer; time until each action-server replica serves it; then restore."""
    work = cluster.base / "bench" / "content"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(ROOT / "content", work)
    services = work / "services.yml"
    text = services.read_text(encoding="utf-8")
    marker = "12348是公共法律服务热线，"
    assert marker in text, "content/services.yml changed: update the publish check"
    # Every occurrence: the question is answered from the `what` aspect, not the whole entry.
    services.write_text(text.replace(marker, f"12348是公共法律服务热线（发布测试{token}），"), encoding="utf-8")

    def ask(port: int) -> str:
        body = {"next_action": "action_answer_service", "sender_id": "publish-check", "domain": {}, "version": "3.6.2",
                "tracker": {"sender_id": "publish-check", "slots": {}, "events": [], "paused": False, "followup_action": None,
                            "active_loop": {}, "latest_action_name": "action_listen",
                            "latest_message": {"text": "12348是什么", "intent": {"name": "ask_hotline"}, "entities": []}}}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())["responses"][0]["text"]

    def until(predicate, port: int, t0: float, limit: float = 10.0) -> Optional[float]:
        while time.monotonic() - t0 < limit:
            if predicate(ask(port)):
                return round(time.monotonic() - t0, 3)
            time.sleep(0.02)
        return None

    assert all(token not in ask(p) for p in cluster.ports.actions)
    cluster.publish(content_dir=work, by="bench", note="cluster publish check")
    t0 = time.monotonic()                                # the swap is the last step of publish
    seen = {f"actions-{n}": until(lambda t: token in t, p, t0) for n, p in enumerate(cluster.ports.actions, 1)}
    cluster.publish(by="bench", note="restore content/")
    t1 = time.monotonic()
    restored = {f"actions-{n}": until(lambda t: token not in t, p, t1) for n, p in enumerate(cluster.ports.actions, 1)}
    ok = all(v is not None and v <= 2.0 for v in [*seen.values(), *restored.values()])
    return {"new_version_seen_after_s": seen, "rollback_seen_after_s": restored, "limit_s": 2.0, "pass": ok}


async def run_load(cluster: Cluster, api: _WeChatAPIStandIn, args: argparse.Namespace, run: str) -> dict[str, Any]:
    total = args.residents * 10
    records: list[dict[str, Any]] = []
    done = {"n": 0}
    kill: dict[str, Any] = {}
    progress = {"step": {}}                             # resident -> step in flight
    limits = httpx.Limits(max_connections=args.concurrency * 2, max_keepalive_connections=args.concurrency * 2)
    async with httpx.AsyncClient(trust_env=False, limits=limits) as client:
        queue: asyncio.Queue = asyncio.Queue()
        for i in range(args.residents):
            queue.put_nowait(i)

        async def resident_worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                res = Resident(i, run, client, cluster.gateway_url, api)
                for step, (text, expect) in enumerate(conversation(i), 1):
                    progress["step"][i] = step
                    attempts, reply, how, first_error = 0, None, "none", None
                    t_start = time.monotonic()
                    while attempts < 1 + args.retries:
                        attempts += 1
                        reply, secs, how = await res.send(text)
                        static = reply is not None and any(s in reply for s in STATIC)
                        if reply is not None and not static:
                            break
                        first_error = first_error or ("static_12348" if static else how)
                        await asyncio.sleep(1.0)        # the resident tries again, as people do
                    t_end = time.monotonic()
                    ok_reply = reply is not None and not any(s in reply for s in STATIC)
                    records.append({
                        "resident": i, "step": step, "attempts": attempts, "how": how, "start": t_start, "end": t_end,
                        "latency_ms": (t_end - t_start) * 1000, "first_try_error": first_error,
                        "answered": ok_reply, "in_order": bool(ok_reply and re.search(expect, reply)),
                        "ref": (re.search(r"MY-\d{4}-\d{6}", reply).group(0) if ok_reply and step == 9
                                and re.search(r"MY-\d{4}-\d{6}", reply) else None),
                        "reply_head": (reply or "")[:60] if not (ok_reply and re.search(expect, reply)) else "",
                    })
                    done["n"] += 1
                    if args.think > 0:
                        await asyncio.sleep(random.uniform(0, args.think))
                progress["step"].pop(i, None)

        async def killer() -> None:
            while done["n"] < total * args.kill_at:
                await asyncio.sleep(0.05)
            victim = cluster.server("rasa-2")
            kill["cpu_at_kill"] = usage(cluster).get("rasa-2", {}).get("cpu_s", 0.0)
            kill["at"] = time.monotonic()
            kill["mid_form_conversations"] = sorted(i for i, s in progress["step"].items() if 2 <= s <= 9)
            kill["wall_at"] = time.time()                 # nginx's log has wall-clock times
            os.killpg(victim.proc.pid, signal.SIGKILL)
            victim.proc.wait()
            kill["killed"] = "rasa-2 (SIGKILL to its process group)"
            # The supervisor restarts it (scripts/supervisor.py); this only watches.
            unit = cluster.supervisor.units["rasa-2"]
            while not (unit.state == "running" and unit.ready_at and unit.ready_at > kill["at"]):
                if time.monotonic() - kill["at"] > 400:
                    kill["not_back"] = f"rasa-2 still {unit.state} after 400 s"
                    return
                await asyncio.sleep(0.2)
            kill["cpu_at_ready"] = usage(cluster).get("rasa-2", {}).get("cpu_s", 0.0)   # start-up, not messages
            kill["restarted_after_kill_s"] = round(unit.started_at - kill["at"], 1)
            kill["restarted_ready_s"] = round(unit.ready_at - unit.started_at, 1)
            kill["ready_after_kill_s"] = round(unit.ready_at - kill["at"], 1)
            kill["ready_wall_at"] = time.time() - (time.monotonic() - unit.ready_at)

        t0 = time.monotonic()
        cpu0 = usage(cluster)
        workers = [asyncio.create_task(resident_worker()) for _ in range(args.concurrency)]
        killer_task = asyncio.create_task(killer()) if args.kill_at > 0 else None
        await asyncio.gather(*workers)
        wall = time.monotonic() - t0
        cpu1 = usage(cluster)
        if killer_task:
            await killer_task
            if "ready_wall_at" in kill:
                kill["pool"] = await pool_after_restart(cluster, kill)
    return {"records": records, "wall": wall, "kill": kill, "cpu0": cpu0, "cpu1": cpu1, "t0": t0}


def upstream_log(cluster: Cluster) -> list[tuple[float, str, str]]:
    """(wall time, replica port that answered, status) of each request nginx passed to Rasa."""
    out = []
    path = cluster.logs / "nginx.rasa.log"
    for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
        parts = line.split(" ", 1)
        if len(parts) == 2:
            served = parts[1].rsplit(" ", 1)
            last = served[0].split(",")[-1].strip()          # after a retry: "a, b" — b answered
            out.append((float(parts[0]), last.rsplit(":", 1)[-1], served[-1] if len(served) > 1 else ""))
    return out


async def pool_after_restart(cluster: Cluster, kill: dict[str, Any]) -> dict[str, Any]:
    """Who served while rasa-2 was down, and whether it served again once back (probing if the load had ended)."""
    port = str(cluster.ports.rasa[1])
    others = {str(p) for p in cluster.ports.rasa} - {port}

    def count() -> dict[str, Any]:
        log = upstream_log(cluster)
        down = [(t, p) for t, p, st in log if kill["wall_at"] <= t < kill["ready_wall_at"] and st == "200"]
        back = [t for t, p, st in log if t >= kill["ready_wall_at"] and p == port and st == "200"]
        return {"answered_by_others_while_down": sum(p in others for _, p in down),
                "answered_by_killed_while_down": sum(p == port for _, p in down),
                "answered_by_it_after_restart": len(back),
                "first_answer_after_restart_s": round(min(back) - kill["ready_wall_at"], 1) if back else None}

    seen = count()
    if not seen["answered_by_it_after_restart"]:       # the load ended first: a few REST messages through nginx
        async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
            for k in range(9):
                await client.post(f"{cluster.rasa_lb_url}/webhooks/rest/webhook",
                                  json={"sender": f"pool-probe-{k}", "message": "12348是什么"})
        seen = {**count(), "probed_after_load": True}
    return seen


def analyse_load(cluster: Cluster, load: dict[str, Any], args: argparse.Namespace, run: str) -> dict[str, Any]:
    recs = load["records"]
    lat = [r["latency_ms"] for r in recs if r["answered"]]
    by_resident: dict[int, list[dict]] = defaultdict(list)
    for r in recs:
        by_resident[r["resident"]].append(r)
    lost = sum(not r["answered"] for r in recs)
    out_of_order = sum(r["answered"] and not r["in_order"] for r in recs)

    # conversation history as Rasa keeps it (PostgreSQL tracker store), read back from a replica with the API
    # token: the load balancer proxies only the REST channel and "/", and says so here.
    history_exact, history_bad = 0, []
    with httpx.Client(trust_env=False, timeout=30) as client:
        probe = f"{cluster.rasa_lb_url}/conversations/wx:o{run}00000/tracker"
        assert client.get(probe).status_code == 404, "nginx must not proxy Rasa's HTTP API"
        assert client.get(probe.split("/conversations")[0] + f"/conversations/x/tracker?token={cluster.rasa_token}"
                          ).status_code == 404
        for i in range(args.residents):
            sender = f"wx:o{run}{i:05d}"
            events = client.get(cluster.rasa_api(f"/conversations/{sender}/tracker")).json().get("events") or []
            said = [e.get("text") for e in events if e.get("event") == "user"]
            if said == stored_history(i):
                history_exact += 1
            else:
                history_bad.append({"resident": i, "user_messages": said})

    # referrals in PostgreSQL: exactly one per resident, the number the resident was told
    import psycopg

    hashes = {sender_hash(f"wx:o{run}{i:05d}", cluster.app_var): i for i in range(args.residents)}
    with psycopg.connect(cluster.runtime_dsn) as conn:
        rows = conn.execute("select ref, sender_hash, phone, town from referrals where sender_hash = any(%s)",
                            (list(hashes),)).fetchall()
    per_resident: dict[int, list] = defaultdict(list)
    for ref, h, phone, town in rows:
        per_resident[hashes[h]].append((ref, phone, town))
    told = {r["resident"]: r["ref"] for r in recs if r["step"] == 9 and r["ref"]}
    exactly_once = sum(
        1 for i in range(args.residents)
        if len(per_resident[i]) == 1 and per_resident[i][0][0] == told.get(i) and per_resident[i][0][1] == f"139{i:08d}"
    )

    # failover
    kill = load["kill"]
    failover: dict[str, Any] = {"killed": kill.get("killed")}
    if "at" in kill:
        at = kill["at"]
        in_flight = [r for r in recs if r["start"] <= at <= r["end"]]
        window = [r for r in recs if at <= r["start"] <= at + 15]
        before = [r["latency_ms"] for r in recs if at - 30 <= r["start"] < at and r["answered"]]
        slow_after = [r for r in recs if r["end"] >= at and r["answered"] and r["latency_ms"] > 3 * (pct(before, 95) or 1000)]
        recovered_at = max([r["end"] for r in in_flight + slow_after] or [at])
        mid = set(kill.get("mid_form_conversations") or [])
        failover.update({
            "killed_after_messages": int(args.residents * 10 * args.kill_at),
            "in_flight_at_kill": len(in_flight),
            "errored_first_try_during_failover": sum(1 for r in recs if r["first_try_error"] and r["end"] >= at and r["start"] <= at + 30),
            "errored_after_retries": sum(1 for r in recs if not r["answered"] and r["end"] >= at),
            "retries_needed": sum(r["attempts"] - 1 for r in recs if r["end"] >= at),
            "in_flight_latency_ms_max": round(max([r["latency_ms"] for r in in_flight] or [0])),
            "recovery_s": round(recovered_at - at, 1),
            "p95_ms_30s_before": pct(before, 95),
            "p95_ms_15s_after": pct([r["latency_ms"] for r in window if r["answered"]], 95),
            "mid_form_conversations_at_kill": len(mid),
            "mid_form_completed_with_referral": sum(1 for i in mid if len(per_resident[i]) == 1 and told.get(i)),
            "mid_form_history_exact": sum(1 for i in mid if i not in {b["resident"] for b in history_bad}),
            "replica_restarted_by_supervisor_after_s": kill.get("restarted_after_kill_s"),
            "replica_restarted_ready_s": kill.get("restarted_ready_s"),
            "replica_ready_after_kill_s": kill.get("ready_after_kill_s"),
            "replica_not_back": kill.get("not_back"),
            "pool": kill.get("pool", {}),
        })

    cpu = {name: round(load["cpu1"].get(name, {}).get("cpu_s", 0) - v["cpu_s"], 1) for name, v in load["cpu0"].items()}
    if "cpu_at_kill" in kill and "rasa-2" in cpu:   # the killed process's share, plus its successor's after start-up
        cpu["rasa-2"] = round(kill["cpu_at_kill"] - load["cpu0"]["rasa-2"]["cpu_s"]
                              + max(0.0, load["cpu1"].get("rasa-2", {}).get("cpu_s", 0) - kill.get("cpu_at_ready", 0.0)), 1)
    messages = len(recs)
    return {
        "residents": args.residents, "messages": messages, "concurrency": args.concurrency,
        "wall_s": round(load["wall"], 1), "throughput_msg_s": round(messages / load["wall"], 2),
        "latency_ms": {"p50": pct(lat, 50), "p95": pct(lat, 95), "p99": pct(lat, 99), "max": round(max(lat)) if lat else None},
        "passive_replies": sum(r["how"] == "passive" for r in recs),
        "late_replies_via_customer_service_api": sum(r["how"] == "late" for r in recs),
        "lost": lost, "out_of_order": out_of_order,
        "retried_messages": sum(r["attempts"] > 1 for r in recs),
        "history_exact": history_exact, "history_mismatches": history_bad[:10],
        "referrals_rows": len(rows), "referrals_exactly_once": exactly_once,
        "failover": failover,
        "cpu_s_during_load": cpu,
        "bad_replies_sample": [{k: r[k] for k in ("resident", "step", "how", "reply_head")}
                               for r in recs if not r["in_order"]][:10],
    }


async def redis_fault(cluster: Cluster, api: _WeChatAPIStandIn, run: str, outage_s: float = 5.0) -> dict[str, Any]:
    """Residents keep asking while Redis is stopped for `outage_s`; then it is started again."""
    records: list[dict[str, Any]] = []
    stopped, restarted = {}, {}
    questions = ["12348热线是做什么的", "怎么申请法律援助", "古北口镇的法律服务站在哪"]

    async with httpx.AsyncClient(trust_env=False) as client:
        residents = [Resident(9000 + k, run + "r", client, cluster.gateway_url, api) for k in range(6)]

        async def asker(res: Resident, stop_at: float) -> None:
            n = 0
            while time.monotonic() < stop_at:
                n += 1
                t = time.monotonic()
                reply, secs, how = await res.send(questions[n % len(questions)], timeout=20)
                records.append({"start": t, "end": time.monotonic(), "how": how,
                                "static": reply is not None and any(s in reply for s in STATIC),
                                "answered": reply is not None and not any(s in reply for s in STATIC),
                                "has_12348": reply is not None and "12348" in reply})
                await asyncio.sleep(0.3)

        async def fault() -> None:
            await asyncio.sleep(3)
            stopped["at"] = time.monotonic()
            await asyncio.to_thread(cluster.stop_redis)
            await asyncio.sleep(outage_s)
            await asyncio.to_thread(cluster.restart_redis)
            restarted["at"] = time.monotonic()

        end = time.monotonic() + 3 + outage_s + 12
        await asyncio.gather(fault(), *(asker(r, end) for r in residents))
    s, e = stopped["at"], restarted["at"]
    during = [r for r in records if s <= r["start"] <= e]
    after = [r for r in records if r["start"] > e]
    first_ok = min([r["end"] for r in after if r["answered"]] or [float("nan")])
    last_bad_after = max([r["end"] for r in after if not r["answered"]] or [e])
    return {
        "outage_s": round(e - s, 1),
        "messages_during_outage": len(during),
        "static_12348_during_outage": sum(r["static"] and r["has_12348"] for r in during),
        "answered_normally_during_outage": sum(r["answered"] for r in during),
        "unanswered_during_outage": sum(not r["static"] and not r["answered"] for r in during),
        "slowest_reply_during_outage_ms": round(max([(r["end"] - r["start"]) * 1000 for r in during] or [0])),
        "first_normal_answer_after_restart_s": round(first_ok - e, 2),
        "last_static_after_restart_s": round(max(0.0, last_bad_after - e), 2),
        "messages_after_restart": len(after), "answered_after_restart": sum(r["answered"] for r in after),
        "pass": bool(during) and all(r["static"] and r["has_12348"] or r["answered"] for r in during)
        and any(r["answered"] for r in after) and first_ok - e < 5,
    }


# ------------------------------------------------------------------ capacity

def capacity(load: dict[str, Any]) -> dict[str, Any]:
    msgs = load["messages"]
    cpu = load["cpu_s_during_load"]
    rasa_cpu = sum(v for k, v in cpu.items() if k.startswith("rasa-"))
    action_cpu = sum(v for k, v in cpu.items() if k.startswith("actions-"))
    rasa_msgs_per_core_s = msgs / rasa_cpu if rasa_cpu else None
    # Assumptions (stated in bench/cluster.md)
    calls_miyun, pop_miyun, pop_beijing = 29_432, 0.53, 21.8
    conversations_year = calls_miyun * pop_beijing / pop_miyun        # every 12348 call becomes a chat conversation
    msgs_per_conv = 10
    busy_days, peak_hour_share, peak_day_factor, headroom = 250, 0.15, 3.0, 0.5
    peak_msgs_s = conversations_year * msgs_per_conv / busy_days * peak_hour_share / 3600 * peak_day_factor
    cores_rasa = peak_msgs_s / rasa_msgs_per_core_s / headroom if rasa_msgs_per_core_s else None
    return {
        "cpu_s_per_message": {
            "rasa": round(rasa_cpu / msgs, 4), "actions": round(action_cpu / msgs, 4),
            **{k: round(v / msgs, 4) for k, v in cpu.items() if not k.startswith(("rasa-", "actions-"))},
        },
        "rasa_msgs_per_core_second": round(rasa_msgs_per_core_s, 1) if rasa_msgs_per_core_s else None,
        "machine_msgs_s_measured": load["throughput_msg_s"],
        "assumptions": {"miyun_12348_calls_per_year": calls_miyun, "miyun_population_m": pop_miyun,
                        "beijing_population_m": pop_beijing, "messages_per_conversation": msgs_per_conv,
                        "busy_days_per_year": busy_days, "peak_hour_share_of_day": peak_hour_share,
                        "peak_day_factor": peak_day_factor, "target_cpu_utilisation": headroom},
        "beijing_conversations_per_year": round(conversations_year),
        "beijing_peak_msgs_s": round(peak_msgs_s, 2),
        "rasa_cores_needed_at_peak": round(cores_rasa, 2) if cores_rasa else None,
    }


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    random.seed(args.seed)
    run = "".join(random.SystemRandom().choice(string.ascii_lowercase) for _ in range(8))   # fresh senders each run (not seeded)
    api = _WeChatAPIStandIn()
    with _Server(api.app) as api_server:
        gateway_env = {
            "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": "wxbenchcluster", "WECHAT_APP_SECRET": "bench-secret",
            "WECHAT_API_BASE": api_server.url, "WECHAT_PASSIVE_DEADLINE_S": str(args.passive_deadline),
            "MIYUN_RASA_TIMEOUT_S": str(args.rasa_timeout), "MIYUN_RASA_MAX_CONCURRENCY": str(args.concurrency),
            "MIYUN_LOG_LEVEL": "WARNING",
        }
        cluster = Cluster(wechat_token=TOKEN, gateway_env=gateway_env, quiet=False)
        with cluster:
            cluster.supervise()          # what `make run-cluster` runs: restarts what dies
            print("· content publish check", flush=True)
            publish = await asyncio.to_thread(check_publish, cluster, "".join(random.choice(string.ascii_letters) for _ in range(8)))
            print(f"  {publish}", flush=True)
            print(f"· load: {args.residents} residents × 10 messages, {args.concurrency} at a time; "
                  f"kill -9 rasa-2 at {int(args.kill_at * 100)} %", flush=True)
            load = await run_load(cluster, api, args, run)
            analysed = await asyncio.to_thread(analyse_load, cluster, load, args, run)
            print(f"  {analysed['messages']} messages, {analysed['throughput_msg_s']} msg/s, p95 {analysed['latency_ms']['p95']} ms, "
                  f"lost {analysed['lost']}, out of order {analysed['out_of_order']}, referrals once "
                  f"{analysed['referrals_exactly_once']}/{args.residents}", flush=True)
            print(f"  failover: {analysed['failover']}", flush=True)
            print("· Redis stopped for 5 s", flush=True)
            redis = await redis_fault(cluster, api, run)
            print(f"  {redis}", flush=True)
            memory = {k: {"rss_mb": v["rss_mb"]} for k, v in usage(cluster).items()}
    F = analysed["failover"]
    pool = F.get("pool") or {}
    F["pass"] = args.kill_at == 0 or bool(
        F.get("errored_first_try_during_failover") == 0 and F.get("errored_after_retries") == 0
        and pool.get("answered_by_others_while_down", 0) > 0 and pool.get("answered_by_it_after_restart", 0) > 0)
    ok = (publish["pass"] and analysed["lost"] == 0 and analysed["out_of_order"] == 0
          and analysed["referrals_exactly_once"] == args.residents and analysed["history_exact"] == args.residents
          and F["pass"] and redis["pass"])
    return {
        "time": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": f"{os.cpu_count()} cores, {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GB RAM",
        "settings": {"residents": args.residents, "concurrency": args.concurrency, "retries": args.retries,
                     "passive_deadline_s": args.passive_deadline, "rasa_timeout_s": args.rasa_timeout,
                     "kill_at_fraction": args.kill_at, "lock_store": cluster.rasa_server_env()["MIYUN_LOCK_STORE"],
                     "ticket_lock_lifetime_s": int(cluster.rasa_server_env()["TICKET_LOCK_LIFETIME"])},
        "publish": publish, "load": analysed, "redis_fault": redis, "capacity": capacity(analysed),
        "memory": memory, "pass": ok,
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Load and fault bench of the local cluster.")
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=12, help="residents talking at the same time")
    parser.add_argument("--think", type=float, default=0.3, help="max pause between a reply and the next message, s")
    parser.add_argument("--retries", type=int, default=3, help="times a resident resends after a 12348/empty answer")
    parser.add_argument("--kill-at", type=float, default=0.4, help="fraction of messages after which rasa-2 is killed (0: no kill)")
    parser.add_argument("--passive-deadline", type=float, default=4.5)
    parser.add_argument("--rasa-timeout", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=12348)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "cluster.json")
    args = parser.parse_args(argv)
    if not (1 <= args.residents <= 2000 and 1 <= args.concurrency <= 64 and 0 <= args.kill_at < 1):
        parser.error("--residents 1..2000, --concurrency 1..64, --kill-at 0..<1")
    result = asyncio.run(amain(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_report(result, args.out.with_suffix(".md"))
    print(f"{'PASS' if result['pass'] else 'FAIL'} → {args.out} and {args.out.with_suffix('.md')}")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
