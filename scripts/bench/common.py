"""What every bench module shares: paths, targets, small statistics, process and HTTP helpers."""
from __future__ import annotations

import http.client
import json
import math
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
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
    "statute_search_p95_ms": ("answer search p95 with the statute library loaded (curated, then statute tier)", "ms", "<=", 20.0),
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


class Http:
    """One keep-alive connection to a loopback server, like a channel's connection pool."""

    def __init__(self, url: str, timeout: float = 30.0, token: str = "") -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.token = token              # Rasa's HTTP API token (scripts/servers.start_rasa(api=True))
        self.conn: Optional[http.client.HTTPConnection] = None
        self.used = False

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn, self.used = None, False

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        if self.token and not path.startswith("/webhooks/"):
            path += ("&" if "?" in path else "?") + "token=" + urllib.parse.quote(self.token)
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
    from miyun import settings
    from miyun.knowledge import publish

    with env_vars(MIYUN_CONTENT_DIR=str(content_dir), MIYUN_VAR_DIR=str(var)):
        return publish.publish(settings.load(), by, note)


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


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
