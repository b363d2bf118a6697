"""Speed and memory benchmark of the whole assistant on this machine -> bench/results.{json,md}.

    make bench                       # = python -m scripts.bench
    python -m scripts.bench --sections search,stack --quick   # a shorter run while developing

Everything runs on 127.0.0.1 with bounded loops, on private copies (a temporary content copy
and var dir, a temporary model directory for the training run), so a concurrent `make run` or
`make test` is never disturbed. Every process started here is stopped in a `finally`.

Sections (in run order):
  train     `rasa train` of config.yml into a temp dir with a cold Rasa cache (target <= 180 s)
  search    miyun.search.search() p50/p95 over the real articles and over 10,000 generated
            ones, plus the build time of each content database (target p95 <= 20 ms)
  stack     3 cold starts of action server + Rasa (target <= 15 s to /status 200), RSS after
            warm-up and after load, /model/parse latency, REST webhook round trip through a
            custom action (target p95 <= 60 ms), 20 concurrent senders for ~20 s, the gateway
            process (RSS, /api/chat), bot.bench (gateway overhead and 100 WeChat users),
            publish-to-live latency (target <= 2 s), and the LawBench manual-review sample
  lawbench  figures from reports/evaluation.json and the manual-review sample
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.client
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import yaml

from scripts import servers

ROOT = servers.ROOT
BENCH_DIR = ROOT / "bench"
HELDOUT = ROOT / "tests" / "nlu_heldout.yml"
SEARCH_EVAL = ROOT / "tests" / "search_eval.yml"
LAWBENCH = ROOT.parent / "shared" / "eval" / "lawbench_3-8_questions.json"
EVALUATION = ROOT / "reports" / "evaluation.json"
REVIEW_FILE = BENCH_DIR / "manual_review.yml"
RASA_BIN = servers.VENV_BIN / "rasa"
SEED = 12348

# Each target: (label, unit, comparison, limit). "<=" figures must not exceed the limit.
TARGETS: dict[str, tuple[str, str, str, float]] = {
    "train_s": ("train (config.yml, cold cache)", "s", "<=", 180.0),
    "cold_start_median_s": ("cold start to /status 200, median of 3", "s", "<=", 15.0),
    "rasa_rss_mb": ("Rasa server RSS after load", "MB", "<=", 1000.0),
    "webhook_p95_ms": ("REST webhook round trip incl. custom action, p95", "ms", "<=", 60.0),
    "search_p95_ms_real": ("search() p95, real articles", "ms", "<=", 20.0),
    "search_p95_ms_10k": ("search() p95, 10,000 articles", "ms", "<=", 20.0),
    "publish_live_max_s": ("publish -> new text served, worst of 5 (after publish() returns)", "s", "<=", 2.0),
    "gateway_overhead_p95_ms": ("gateway overhead over direct Rasa, p95", "ms", "<=", 10.0),
    "wechat_lost": ("WeChat load: messages lost", "", "<=", 0),
    "wechat_duplicated": ("WeChat load: messages duplicated", "", "<=", 0),
    "wechat_over_5s": ("WeChat load: answered in >= 5 s", "", "<=", 0),
    "wechat_max_ms": ("WeChat load: slowest answer", "ms", "<", 5000.0),
    "lawbench_legal_share": ("LawBench questions landing on a legal intent (evaluate)", "", ">=", 0.90),
}

# Intents whose rules run one of the three custom actions we time (see stories/rules_services.yml).
# ask_legal_aid and request_mediation are left out: they can start a form.
ACTION_INTENTS = {
    "ask_hotline": "action_answer_service",
    "ask_mediation": "action_answer_service",
    "ask_petition": "action_answer_service",
    "ask_info_disclosure": "action_answer_service",
    "ask_admin_reconsideration": "action_answer_service",
    "find_service_station": "action_find_station",
    "ask_legal_question": "action_answer_legal_question",
}
CUSTOM_ACTIONS = sorted(set(ACTION_INTENTS.values()))
# Rasa's built-in actions (everything else named action_* is ours, served by the action server).
RASA_ACTIONS = {
    "action_listen", "action_restart", "action_session_start", "action_default_fallback", "action_deactivate_loop",
    "action_revert_fallback_events", "action_default_ask_affirmation", "action_default_ask_rephrase",
    "action_two_stage_fallback", "action_unlikely_intent", "action_back", "action_extract_slots",
}


# ============================================================================ small helpers


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: list[float], q: float) -> Optional[float]:
    """Percentile with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(values: list[float], digits: int = 2) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    r = lambda v: round(v, digits)  # noqa: E731
    return {
        "n": len(values), "min": r(min(values)), "p50": r(pct(values, 50)), "p90": r(pct(values, 90)),
        "p95": r(pct(values, 95)), "p99": r(pct(values, 99)), "max": r(max(values)), "mean": r(statistics.fmean(values)),
    }


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def mem_total_gb() -> Optional[float]:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def heldout_examples(path: Path = HELDOUT) -> list[tuple[str, str]]:
    """(text, intent) pairs of the held-out NLU file, entity annotations stripped to plain text."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for block in data.get("nlu") or []:
        if "intent" not in block or not isinstance(block.get("examples"), str):
            continue
        for line in block["examples"].splitlines():
            line = line.strip()
            if not line.startswith("- "):
                continue
            text = re.sub(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})", r"\1", line[2:].strip())
            if text:
                out.append((text, block["intent"]))
    return out


# ---------------------------------------------------------------------------- processes


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, pgrp) of every process we can see."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        table[int(name)] = (int(fields[1]), int(fields[2]))
    return table


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def group_members(pid: int) -> set[int]:
    """The process, everything in its process group (servers start in their own session), and descendants."""
    table = _proc_table()
    members = {p for p, (_, pg) in table.items() if pg == pid}
    if pid in table:
        members.add(pid)
    grew = True
    while grew:
        grew = False
        for p, (pp, _) in table.items():
            if pp in members and p not in members:
                members.add(p)
                grew = True
    return members


def group_rss(pid: int) -> dict[str, Any]:
    """VmRSS summed over the process group (shared pages counted once per process), and peaks."""
    members = sorted(group_members(pid))
    rss = {p: _status_kb(p, "VmRSS") for p in members}
    hwm = {p: _status_kb(p, "VmHWM") for p in members}
    return {
        "rss_mb": round(sum(rss.values()) / 1024, 1),
        "peak_mb": round(sum(hwm.values()) / 1024, 1),
        "processes": len(members),
        "per_process_mb": {str(p): round(kb / 1024, 1) for p, kb in rss.items()},
    }


def group_cpu_s(pid: int) -> float:
    """utime + stime (seconds) of the group's live processes."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in group_members(pid):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        f = stat[stat.rfind(")") + 2:].split()
        total += (int(f[11]) + int(f[12])) / tick
    return total


def run_timed(cmd: list[str], log_path: Path, timeout: float, env: Optional[dict] = None) -> tuple[float, int]:
    """Run a command in its own session, return (seconds, return code); kill its group on timeout/interrupt."""
    started = time.perf_counter()
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env or servers.base_env(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout)
        except BaseException:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            raise
    return time.perf_counter() - started, rc


def tail(path: Path, chars: int = 2500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


# ---------------------------------------------------------------------------- HTTP


class Http:
    """One keep-alive connection to a loopback server, like a channel's connection pool."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.conn: Optional[http.client.HTTPConnection] = None
        self.used = False

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn, self.used = None, False

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.conn.connect()
                self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reused = self.used
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                self.used = True
                if (resp.getheader("Connection") or "").lower() == "close":
                    self.close()
                return resp.status, payload
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2 or not reused:   # only a stale kept-alive connection is retried
                    raise
            except BaseException:
                self.close()
                raise
        raise RuntimeError("unreachable")

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        status, payload = self.request("POST", path, body)
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            return status, None

    def get(self, path: str) -> tuple[int, Any]:
        status, payload = self.request("GET", path)
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            return status, None


def reply_text(replies: Any) -> str:
    if not isinstance(replies, list):
        return ""
    return "\n".join(r.get("text") or "" for r in replies if isinstance(r, dict))


# ---------------------------------------------------------------------------- environment


@contextmanager
def env_vars(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def publish_into(content_dir: Path, var: Path, by: str = "bench", note: str = "bench") -> Any:
    """Publish `content_dir` into `var` (what tests/conftest.py does for its stack)."""
    from miyun import publish, settings

    with env_vars(MIYUN_CONTENT_DIR=str(content_dir), MIYUN_VAR_DIR=str(var)):
        return publish.publish(settings.load(), by, note)


# ============================================================================ 1. train


def bench_train(tmp: Path, results: dict) -> None:
    out_dir, cache, log_path = tmp / "train-out", tmp / "train-cache", tmp / "train.log"
    cmd = [str(RASA_BIN), "train", "--data", "nlu", "stories", "--domain", "domain", "--config", "config.yml",
           "--out", str(out_dir), "--fixed-model-name", "bench"]
    # A fresh cache directory: Rasa would otherwise reuse cached components and skip the work.
    env = servers.base_env(RASA_CACHE_DIRECTORY=str(cache))
    log("training config.yml into a temp dir (cold cache)…")
    seconds, rc = run_timed(cmd, log_path, timeout=900, env=env)
    if rc != 0:
        raise RuntimeError(f"rasa train exited with {rc}\n{tail(log_path)}")
    model = out_dir / "bench.tar.gz"
    results["train"] = {
        "seconds": round(seconds, 1),
        "model_mb": round(model.stat().st_size / 1e6, 2) if model.exists() else None,
        "command": " ".join(cmd[1:]),
        "cache": "fresh RASA_CACHE_DIRECTORY (cold)",
        "training_examples": sum(1 for _ in _nlu_lines()),
    }
    log(f"train: {seconds:.1f} s")


def _nlu_lines() -> Iterator[str]:
    for path in sorted((ROOT / "nlu").glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" in block and isinstance(block.get("examples"), str):
                yield from (l for l in block["examples"].splitlines() if l.strip().startswith("- "))


# ============================================================================ 7. search


def generate_articles(real: list[dict], n: int, seed: int = SEED) -> list[dict]:
    """`n` synthetic articles recombined from the real ones; each passes miyun.content.load's checks."""
    from miyun import content as content_mod

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
    from miyun import search
    from miyun.store import ContentStore

    store = ContentStore(db)
    for q in queries[:warmup]:
        search.search(store, q, threshold)
    times, confident = [], 0
    for q in queries:
        t0 = time.perf_counter()
        r = search.search(store, q, threshold)
        times.append((time.perf_counter() - t0) * 1000)
        confident += r.confident
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
        "parts": {"synonyms_table_read_ms": summary(syn_ms, 3), "fts_query_ms": summary(fts_ms, 3),
                  "articles_matched": summary([float(m) for m in matched], 0), "corpus": total,
                  "matched_share_p50": round((pct(matched, 50) or 0) / max(total, 1), 3),
                  "synonyms": len(synonyms)},
    }


def bench_search(tmp: Path, results: dict, n_generated: int, n_queries: int) -> None:
    import jieba

    from miyun import build, content as content_mod, settings
    from miyun.segment import load_dictionary

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


# ============================================================================ 2-6, 8, 9. the running stack


class Stack:
    """Action server + Rasa over a private content copy and var dir."""

    def __init__(self, base: Path, tag: str) -> None:
        self.base, self.tag = base, tag
        self.content_dir, self.var = base / "content", base / "var"
        self.actions: Optional[servers.Server] = None
        self.rasa: Optional[servers.Server] = None

    @property
    def env(self) -> dict[str, str]:
        """Private content and var dirs (content.db, runtime.db, trackers.db) for every process of this stack."""
        return {"MIYUN_VAR_DIR": str(self.var), "MIYUN_CONTENT_DIR": str(self.content_dir)}

    def start(self) -> dict[str, Any]:
        """Start both processes; return seconds to ready (both measured from the first Popen)."""
        env = self.env
        action_port, rasa_port = servers.free_port(), servers.free_port()
        t0 = time.perf_counter()
        self.actions = servers.start_actions(action_port, self.base / f"actions-{self.tag}.log", **env)
        self.rasa = servers.start_rasa(rasa_port, action_port, log=self.base / f"rasa-{self.tag}.log", **env)
        ready: dict[str, float] = {}
        deadline = t0 + 240
        while len(ready) < 2:
            for srv in (self.actions, self.rasa):
                if srv.name in ready:
                    continue
                if srv.proc.poll() is not None:
                    raise RuntimeError(f"{srv.name} exited with {srv.proc.returncode}\n{tail(srv.log)}")
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", int(srv.url.rsplit(":", 1)[1]), timeout=2)
                    conn.request("GET", srv.health)
                    if conn.getresponse().status == 200:
                        ready[srv.name] = time.perf_counter() - t0
                    conn.close()
                except OSError:
                    pass
            if time.perf_counter() > deadline:
                raise TimeoutError(f"not ready after 240 s: {sorted(ready)}")
            time.sleep(0.05)
        return {"rasa_status_200_s": round(ready["rasa server"], 2), "action_health_200_s": round(ready["action server"], 2)}

    def stop(self) -> None:
        for srv in (self.rasa, self.actions):
            if srv is not None:
                srv.stop()

    @property
    def url(self) -> str:
        assert self.rasa is not None
        return self.rasa.url


def webhook_messages(seed: int = SEED) -> list[tuple[str, str]]:
    """(text, expected custom action): held-out phrasings of intents whose rule runs a custom action,
    plus articles' own questions (legal questions)."""
    rng = random.Random(seed)
    out = [(t, ACTION_INTENTS[i]) for t, i in heldout_examples() if i in ACTION_INTENTS]
    from miyun import content as content_mod

    articles = content_mod.load(ROOT / "content").articles
    qs = [str(q) for a in articles for q in a.get("questions") or []]
    out += [(q, "action_answer_legal_question") for q in rng.sample(qs, min(80, len(qs)))]
    rng.shuffle(out)
    return out


def last_actions(tracker: Any) -> list[str]:
    """Action names run after the last user message of a tracker."""
    events = (tracker or {}).get("events") or []
    names: list[str] = []
    for ev in events:
        if ev.get("event") == "user":
            names = []
        elif ev.get("event") == "action" and ev.get("name") not in ("action_listen", "action_extract_slots", None):
            names.append(ev["name"])
    return names


def bench_parse(stack: Stack, n: int, results: dict) -> None:
    rng = random.Random(SEED)
    texts = [t for t, _ in heldout_examples()]
    picked = rng.sample(texts, min(n, len(texts)))
    while len(picked) < n:
        picked.append(rng.choice(texts))
    client = Http(stack.url)
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
    client = Http(stack.url)
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


def bench_publish_live(stack: Stack, reps: int, results: dict) -> None:
    """Edit a service answer in the stack's content copy, publish, poll the REST webhook for it."""
    from miyun import publish, settings

    path = stack.content_dir / "services.yml"
    original = path.read_text(encoding="utf-8")
    question = "我想去信访应该怎么走程序"
    client = Http(stack.url)
    runs = []
    try:
        with env_vars(MIYUN_CONTENT_DIR=str(stack.content_dir), MIYUN_VAR_DIR=str(stack.var)):
            cfg = settings.load()
            for i in range(reps):
                data = yaml.safe_load(original)
                entry = next(s for s in data["services"] if s["id"] == "petition")
                marker = f"【基准测试更新{i + 1}号】"
                entry["answer"] = marker + str(entry["answer"])
                path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
                t0 = time.perf_counter()
                changed = publish.publish(cfg, "bench", f"publish-to-live run {i + 1}").changed
                t1 = time.perf_counter()
                polls, seen = 0, None
                while time.perf_counter() - t1 < 10.0:
                    polls += 1
                    _, body = client.post("/webhooks/rest/webhook", {"sender": f"bench-pub-{i}", "message": question})
                    if marker in reply_text(body):
                        seen = time.perf_counter()
                        break
                    time.sleep(0.05)
                # Put the original back live (and check it is served again) before the next run.
                path.write_text(original, encoding="utf-8")
                publish.publish(cfg, "bench", "restore after publish-to-live run")
                _, body = client.post("/webhooks/rest/webhook", {"sender": f"bench-pub-{i}-back", "message": question})
                runs.append({
                    "changed": changed, "publish_s": round(t1 - t0, 3),
                    "live_after_publish_s": round(seen - t1, 3) if seen else None,
                    "edit_to_live_s": round(seen - t0, 3) if seen else None, "polls": polls,
                    "restored": marker not in reply_text(body),
                })
    finally:
        path.write_text(original, encoding="utf-8")
        client.close()
    after = [r["live_after_publish_s"] for r in runs if r["live_after_publish_s"] is not None]
    total = [r["edit_to_live_s"] for r in runs if r["edit_to_live_s"] is not None]
    results["publish_live"] = {
        "runs": runs, "missed": sum(r["live_after_publish_s"] is None for r in runs),
        "live_after_publish_s": summary(after, 3), "publish_plus_live_s": summary(total, 3),
        "publish_s": summary([r["publish_s"] for r in runs], 3), "poll_interval_s": 0.05,
    }
    log(f"publish-to-live: worst {max(after) if after else None} s after publish(); publish() itself "
        f"median {results['publish_live']['publish_s'].get('p50')} s")


def bench_gateway_process(stack: Stack, tmp: Path, messages: list[tuple[str, str]], seconds: float, results: dict) -> None:
    """The gateway as `make run` starts it (python -m bot): RSS after warm-up and after load via /api/chat."""
    port = servers.free_port()
    gw = servers.start_gateway(port, stack.url, log=tmp / "gateway.log", MIYUN_RATE_LIMIT_PER_MIN="100000",
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
    """`python -m bot.bench` (its own in-process gateway + WeChat API stand-in) against our Rasa."""
    out_json, log_path = tmp / "gateway-bench.json", tmp / "gateway-bench.log"
    cmd = [servers.python(), "-m", "bot.bench", "--rasa-url", stack.url, "--out", str(out_json)]
    log("bot.bench: gateway overhead + 100 WeChat users x 5 messages…")
    started = time.perf_counter()
    peak = 0.0
    with open(log_path, "ab") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=servers.base_env(**stack.env), stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            while proc.poll() is None:
                peak = max(peak, group_rss(proc.pid)["rss_mb"])
                if time.perf_counter() - started > 420:
                    raise TimeoutError("bot.bench ran over 420 s")
                time.sleep(0.5)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    if not out_json.exists():
        raise RuntimeError(f"bot.bench wrote no results (exit {proc.returncode})\n{tail(log_path)}")
    data = json.loads(out_json.read_text(encoding="utf-8"))
    data["exit_code"] = proc.returncode
    data["wall_s"] = round(time.perf_counter() - started, 1)
    data["bench_process_peak_rss_mb"] = peak
    data["stdout"] = tail(log_path, 800)
    results["gateway_bench"] = data
    o, w = data["overhead"]["overhead_ms"], data["wechat_load"]
    log(f"bot.bench: overhead p50 {o['p50']} / p95 {o['p95']} ms; wechat lost {w['lost']}, dup {w['duplicated']}, "
        f"over 5 s {w['answered_over_5s']}")


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
            client = Http(stack.url)
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
        client = Http(stack.url)
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


# ============================================================================ 10. LawBench


def review_sample(n: int = 20, seed: int = SEED) -> list[str]:
    questions = json.loads(LAWBENCH.read_text(encoding="utf-8"))["questions"]
    return random.Random(seed).sample(questions, n)


def review_intents(stack: Stack, results: dict) -> None:
    """The intent Rasa gives each manual-review question (an ask_legal_question goes to search)."""
    client = Http(stack.url)
    out = {}
    for q in review_sample():
        _, body = client.post("/model/parse", {"text": q})
        out[q] = {"intent": ((body or {}).get("intent") or {}).get("name"),
                  "confidence": round(((body or {}).get("intent") or {}).get("confidence") or 0, 2)}
    client.close()
    results["_review_intents"] = out


def qkey(q: str) -> str:
    return hashlib.sha1(q.encode("utf-8")).hexdigest()[:10]


def bench_lawbench(tmp: Path, results: dict) -> None:
    out: dict[str, Any] = {}
    if EVALUATION.exists():
        ev = json.loads(EVALUATION.read_text(encoding="utf-8"))
        out["evaluation"] = {
            "file": str(EVALUATION.relative_to(ROOT)),
            "written": dt.datetime.fromtimestamp(EVALUATION.stat().st_mtime).isoformat(timespec="seconds"),
            "lawbench_questions": ev.get("lawbench", {}).get("questions"),
            "lawbench_legal_share": ev.get("lawbench", {}).get("lawbench_legal_share"),
            "lawbench_intents": ev.get("lawbench", {}).get("intents"),
            "confident_article_share": ev.get("lawbench_search", {}).get("confident_article_share"),
            "honest_fallback_share": ev.get("lawbench_search", {}).get("honest_fallback_share"),
            "intent_accuracy_served": ev.get("nlu", {}).get("intent_accuracy_served"),
            "search_recall_at_1": ev.get("search", {}).get("search_recall_at_1"),
        }
    else:
        out["evaluation"] = None
    if LAWBENCH.exists():
        from miyun import search, settings
        from miyun.store import ContentStore

        db = Path(results["_real_db"]) if results.get("_real_db") else None
        if db is None or not db.is_file():
            from miyun import build

            db = tmp / "review-content.db"
            build.build(ROOT / "content", db, ROOT / "content" / "dictionary")
        store = ContentStore(db)
        threshold = settings.load().search_threshold
        intents = results.get("_review_intents") or {}
        sample = []
        for q in review_sample():
            r = search.search(store, q, threshold)
            best = r.best.article if r.best else None
            sample.append({
                "key": qkey(q), "question": q,
                "intent": (intents.get(q) or {}).get("intent"),
                "article": best["id"] if best and r.confident else None,
                "article_title": best["title"] if best and r.confident else None,
                "best_candidate": best["id"] if best else None,
                "confidence": round(r.confidence, 2), "confident": r.confident,
            })
        out["review_sample"] = sample
        out["review_threshold"] = threshold
        out["judgement"] = judge(sample)
        print("\n--- LawBench manual-review sample (search over the real articles) ---")
        for i, s in enumerate(sample, 1):
            chosen = f"{s['article']} 《{s['article_title']}》" if s["article"] else f"fallback (best {s['best_candidate']})"
            print(f"{i:2d}. [{s['intent']}] {s['question'][:70]}\n     -> {chosen}  conf {s['confidence']}")
    results["lawbench"] = out


def judge(sample: list[dict]) -> dict[str, Any]:
    """Match the sample against the human judgements kept in bench/manual_review.yml."""
    if not REVIEW_FILE.exists():
        return {"file": None}
    data = yaml.safe_load(REVIEW_FILE.read_text(encoding="utf-8")) or {}
    verdicts = {v["key"]: v for v in data.get("verdicts") or []}
    judged, stale = [], []
    for s in sample:
        v = verdicts.get(s["key"])
        if v is None or v.get("article") != s["article"]:
            stale.append(s["key"])
            continue
        judged.append({**v, "confident": s["confident"]})
    confident = [v for v in judged if v["confident"]]
    counts: dict[str, int] = {}
    for v in confident:
        counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
    fallbacks = [v for v in judged if not v["confident"]]
    fb_counts: dict[str, int] = {}
    for v in fallbacks:
        fb_counts[v["verdict"]] = fb_counts.get(v["verdict"], 0) + 1
    return {
        "file": str(REVIEW_FILE.relative_to(ROOT)), "reviewer": data.get("reviewer"), "date": data.get("date"),
        "summary": data.get("summary"), "judged": len(judged), "stale": stale,
        "confident_answers": len(confident), "confident_verdicts": counts,
        "fallbacks": len(fallbacks), "fallback_verdicts": fb_counts, "verdicts": {v["key"]: v for v in judged},
    }


# ============================================================================ report


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
        "publish_live_max_s": (None if not after else (math.inf if None in after else max(after))),
        "gateway_overhead_p95_ms": g("gateway_bench", "overhead", "overhead_ms", "p95"),
        "wechat_lost": g("gateway_bench", "wechat_load", "lost"),
        "wechat_duplicated": g("gateway_bench", "wechat_load", "duplicated"),
        "wechat_over_5s": g("gateway_bench", "wechat_load", "answered_over_5s"),
        "wechat_max_ms": g("gateway_bench", "wechat_load", "answer_latency_ms", "max"),
        "lawbench_legal_share": g("lawbench", "evaluation", "lawbench_legal_share"),
    }


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


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


def fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if math.isinf(v):
            return "missed"
        s = f"{v:.3f}" if abs(v) < 1 else f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"
    else:
        s = str(v)
    return f"{s} {unit}".strip()


def pcts(s: Optional[dict], unit: str = "ms") -> str:
    if not s or not s.get("n"):
        return "—"
    parts = [f"{k} {fmt(s[k])}" for k in ("p50", "p95", "p99", "max") if s.get(k) is not None]
    return " / ".join(parts) + f" {unit} (n={s['n']})"


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
            L.append(f"| bot.bench process (in-process gateway + WeChat stand-in + 100 clients) | — | — | — | "
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
        L += ["**7. Search** (`miyun.search.search()` in-process, " + s["query_mix"] + f", threshold {s['threshold']}):", "",
              "| content | articles | build | DB | search latency | confident share |", "|---|---|---|---|---|---|"]
        for key, name in (("real", "real content/"), ("generated", f"content/ + {(s.get('generated') or {}).get('generated', 0):,} generated")):
            x = s.get(key)
            if x:
                L.append(f"| {name} | {x['articles']} | {x['build_s']} s | {x['db_mb']} MB | {pcts(x['latency_ms'])} | {x['confident_share']:.0%} |")
        if s.get("real") and s.get("generated"):
            r1, r2 = s["real"], s["generated"]
            L += ["", f"Ratios 10k ÷ real: articles ×{r2['articles'] / r1['articles']:.0f}, build ×{r2['build_s'] / max(r1['build_s'], 1e-9):.0f}, "
                  f"search p50 ×{r2['latency_ms']['p50'] / r1['latency_ms']['p50']:.1f}, p95 ×{r2['latency_ms']['p95'] / r1['latency_ms']['p95']:.1f}. "
                  f"The 10k build includes YAML loading and validation ({r2['validate_only_s']} s of it for validation alone, "
                  f"{r2['yaml_mb']} MB of YAML); generated articles recombine real titles, questions, tags and answers "
                  f"(ids gen-00001…) and pass `miyun.content.load`."]
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
        L += [f"**8. Publish to live** (edit the petition answer in a private content copy, `miyun.publish.publish`, poll the REST "
              f"webhook every {pl['poll_interval_s']} s; the original is published back between runs): seen after publish() returned "
              f"in {', '.join(fmt(r['live_after_publish_s'], 's') for r in runs)}; publish() itself took "
              f"{', '.join(fmt(r['publish_s'], 's') for r in runs)}; edit-to-live total worst "
              f"{fmt(_get(pl, 'publish_plus_live_s', 'max'), 's')}. Missed (not live within 10 s): {pl['missed']}.", ""]
    gb = results.get("gateway_bench")
    if gb:
        o, wl = gb["overhead"], gb["wechat_load"]
        L += [f"**9. Gateway** (`python -m bot.bench --rasa-url <our Rasa>`: it runs its own gateway in-process with a local "
              f"WeChat API stand-in; exit {gb['exit_code']}, {gb['wall_s']} s): overhead over direct Rasa p50 "
              f"**{o['overhead_ms']['p50']} ms**, p95 **{o['overhead_ms']['p95']} ms** (paired median {o['overhead_ms']['paired_median']} ms; "
              f"direct {pcts(o['direct_rasa_ms'])}; via gateway {pcts(o['via_gateway_ms'])}; bot.bench reports the overhead as "
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
                  f"20 LawBench questions drawn with a fixed seed ({SEED}); the article `miyun.search.search()` chose over the real "
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


# ============================================================================ main


def _section(results: dict, name: str, fn: Callable, *args: Any) -> None:
    """Run one section; a failure is recorded and the others still run."""
    t0 = time.perf_counter()
    try:
        fn(*args)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001
        results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-3000:]}"
        log(f"section {name} FAILED: {type(exc).__name__}: {str(exc)[:300]}")
    finally:
        results.setdefault("section_seconds", {})[name] = round(time.perf_counter() - t0, 1)


def _git() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        return f"{rev}{' (uncommitted changes in the tree)' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _other_rasa() -> int:
    me = os.getpid()
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != me:
            try:
                cmd = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            n += b"rasa run" in cmd or b"rasa_sdk" in cmd or b"rasa train" in cmd
    return n


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
            (args.out_dir / "results.md").write_text(markdown(results), encoding="utf-8")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    for v in results["verdicts"]:
        mark = "  " if v["pass"] is None else ("✓ " if v["pass"] else "✗ ")
        print(f"{mark}{v['label']:<66} {fmt(v['value'], v['unit']):>12}  (target {v['target']})")
    print(f"\nwrote {args.out_dir / 'results.md'} and results.json in {results['meta']['wall_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
