"""The Markdown report of `make bench-cluster` (bench/cluster.md), from the measured figures."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def write_report(result: dict[str, Any], out_md: Path) -> None:
    L, F, R, P, C = result["load"], result["load"]["failover"], result["redis_fault"], result["publish"], result["capacity"]
    P_ = F.get("pool") or {}
    a = C["assumptions"]
    mark = lambda ok: "PASS" if ok else "FAIL"  # noqa: E731
    lines = [
        "# Cluster profile: load and fault bench",
        "",
        f"`make bench-cluster` (scripts/bench/cluster.py), {result['time']}, {result['machine']}. "
        f"Overall: **{mark(result['pass'])}**. Raw figures: bench/cluster.json.",
        "",
        "Topology (all on this machine, loopback): nginx → Rasa × 3 (Redis lock store, PostgreSQL tracker store) → "
        "nginx → action servers × 2 (PostgreSQL runtime store, one shared content.db); the gateway's WeChat path in "
        "front (plaintext mode, signed requests), with a local stand-in for WeChat's customer-service API so answers "
        f"slower than the {result['settings']['passive_deadline_s']} s passive deadline arrive late, as on a real account.",
        "",
        "## Load",
        "",
        f"{L['residents']} residents × 10 messages = {L['messages']} WeChat messages, {L['concurrency']} residents at a time, "
        "each conversation a full mediation referral (consent → fields, one re-asked → summary → confirm) and a status question.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| throughput | {L['throughput_msg_s']} messages/s ({L['wall_s']} s) |",
        f"| latency p50 / p95 / p99 / max | {L['latency_ms']['p50']} / {L['latency_ms']['p95']} / {L['latency_ms']['p99']} / {L['latency_ms']['max']} ms |",
        f"| passive replies / late (customer-service API) | {L['passive_replies']} / {L['late_replies_via_customer_service_api']} |",
        f"| lost messages | {L['lost']} |",
        f"| replies out of order (not the answer to that step) | {L['out_of_order']} |",
        f"| conversations whose stored history (PostgreSQL, via Rasa's API) is exactly the 10 messages sent, the finished referral's 9 blanked | {L['history_exact']} / {L['residents']} |",
        f"| referrals saved exactly once, with the number the resident was told (rows counted in PostgreSQL) | {L['referrals_exactly_once']} / {L['residents']} ({L['referrals_rows']} rows) |",
        f"| messages resent by the resident after a 12348/empty answer | {L['retried_messages']} |",
        "",
        "## Fault: kill -9 of one Rasa replica mid-load",
        "",
        "| figure | value |",
        "|---|---|",
        f"| killed | {F.get('killed')} after {F.get('killed_after_messages')} messages |",
        f"| requests in flight at the kill | {F.get('in_flight_at_kill')} (slowest answered after {F.get('in_flight_latency_ms_max')} ms) |",
        f"| messages that errored on the first try during failover | {F.get('errored_first_try_during_failover')} |",
        f"| messages that errored after retries | {F.get('errored_after_retries')} |",
        f"| recovery time (kill → last affected message answered) | {F.get('recovery_s')} s |",
        f"| p95 latency 30 s before / 15 s after the kill | {F.get('p95_ms_30s_before')} / {F.get('p95_ms_15s_after')} ms |",
        f"| conversations mid-form at the kill → completed with one referral / history exact | {F.get('mid_form_conversations_at_kill')} → {F.get('mid_form_completed_with_referral')} / {F.get('mid_form_history_exact')} |",
        f"| killed replica restarted by the supervisor after / ready after the kill | {F.get('replica_restarted_by_supervisor_after_s')} s / {F.get('replica_ready_after_kill_s')} s (start-up {F.get('replica_restarted_ready_s')} s) |",
        f"| REST requests answered while it was down: by the other replicas / by it | {P_.get('answered_by_others_while_down')} / {P_.get('answered_by_killed_while_down')} |",
        f"| answered by the restarted replica (back in the pool) | {P_.get('answered_by_it_after_restart')}, the first {P_.get('first_answer_after_restart_s')} s after it was ready{' (probed after the load ended)' if P_.get('probed_after_load') else ''} |",
        f"| result | {mark(F.get('pass'))} (needs: 0 first-try errors, 0 after retries, the others served meanwhile, the replica served again) |",
        "",
        "In-flight requests of the killed replica are resent by nginx to another replica (`proxy_next_upstream error timeout "
        "http_502 http_503 non_idempotent`). That replica waits for the dead replica's ticket for the conversation in Redis "
        "to expire, then continues from the history in PostgreSQL. The lock store is `miyun.locks.RedisTicketLockStore`: "
        "tickets are 3-s leases renewed by live holders and waiters, so the dead one expires within 3 s and the waiting "
        "one never does (Rasa 3.6's `RedisLockStore` let both expire together and stranded the waiter: 3–4 first-try "
        "errors per run before). Nothing in this bench restarts the replica: the cluster's supervisor "
        "(scripts/supervisor.py) does, as under `make run-cluster`, and nginx's log (var/cluster/logs/nginx.rasa.log) "
        "shows which replica answered each request.",
        "",
        "## Fault: Redis stopped for 5 s",
        "",
        "| figure | value |",
        "|---|---|",
        f"| outage | {R['outage_s']} s |",
        f"| messages during the outage: static 12348 answer / normal answer / no answer | {R['static_12348_during_outage']} / {R['answered_normally_during_outage']} / {R['unanswered_during_outage']} of {R['messages_during_outage']} |",
        f"| slowest reply during the outage | {R['slowest_reply_during_outage_ms']} ms |",
        f"| first normal answer after Redis is back | {R['first_normal_answer_after_restart_s']} s |",
        f"| answered normally after restart | {R['answered_after_restart']} / {R['messages_after_restart']} |",
        f"| result | {mark(R['pass'])} |",
        "",
        "Without its lock store Rasa refuses the message (LockError) and answers an empty list at once; the gateway turns "
        "that into its static \"拨打12348\" answer. The message is not stored, so nothing is half-processed. The Redis "
        "client reconnects by itself when Redis is back.",
        "",
        "## Content publish on every replica",
        "",
        f"New version served by: {', '.join(f'{k} after {v} s' for k, v in P['new_version_seen_after_s'].items())}; "
        f"restore served by: {', '.join(f'{k} after {v} s' for k, v in P['rollback_seen_after_s'].items())} "
        f"(limit {P['limit_s']} s) → **{mark(P['pass'])}**. Measured from the end of `content publish`, polling each "
        "action server directly.",
        "",
        "## Capacity (estimate)",
        "",
        f"CPU seconds per message during the load: Rasa {C['cpu_s_per_message']['rasa']}, action servers "
        f"{C['cpu_s_per_message']['actions']}, " + ", ".join(f"{k} {v}" for k, v in C["cpu_s_per_message"].items()
                                                              if k not in ("rasa", "actions")) + ".",
        "",
        f"- One Rasa replica handles about **{C['rasa_msgs_per_core_second']} messages/s per CPU core** (messages ÷ Rasa CPU "
        f"seconds). This 2-core machine, running everything (3 Rasa, 2 action servers, PostgreSQL, Redis, nginx, gateway "
        f"and the load generator), sustained {C['machine_msgs_s_measured']} messages/s; the 3 replicas share 2 cores, so "
        "per-replica throughput here is that figure ÷ 3, bounded by cores, not replicas.",
        f"- Beijing-wide demand, assumptions: Miyun's 12348 took {a['miyun_12348_calls_per_year']:,} calls a year "
        f"(2024 report) for ~{a['miyun_population_m']} M people; Beijing ~{a['beijing_population_m']} M → "
        f"{C['beijing_conversations_per_year']:,} conversations a year if every call became a chat; "
        f"{a['messages_per_conversation']} messages per conversation; traffic on {a['busy_days_per_year']} working days; "
        f"{int(a['peak_hour_share_of_day'] * 100)} % of a day in its peak hour; peak days {a['peak_day_factor']}× an average day.",
        f"- Peak load ≈ **{C['beijing_peak_msgs_s']} messages/s** → **{C['rasa_cores_needed_at_peak']} Rasa cores** at "
        f"{int(a['target_cpu_utilisation'] * 100)} % CPU. Throughput alone needs one replica; run **3 Rasa replicas on 2 "
        "machines** (and 2 action servers) so that losing a replica or a machine keeps the service up. Even 10× the "
        "assumed chat uptake fits on a few cores. Memory, not CPU, sets the per-machine count (~0.6 GB per Rasa replica).",
        "",
        "## Memory at the end of the run (RSS)",
        "",
        ", ".join(f"{k} {v['rss_mb']} MB" for k, v in result["memory"].items()) + ".",
        "",
    ]
    out_md.write_text("\n".join(lines), encoding="utf-8")
