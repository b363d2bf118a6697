"""`python -m scripts.bench.gateway_load` runs end to end (small sizes) against the fake Rasa and writes its JSON."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_small_run(fake_rasa_url, tmp_path):
    out = tmp_path / "bench.json"
    env = dict(os.environ, NO_PROXY="127.0.0.1,localhost")
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.bench.gateway_load", "--rasa-url", fake_rasa_url, "--out", str(out),
         "--requests", "20", "--users", "10", "--messages", "3"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    w = data["wechat_load"]
    assert data["pass"] and w["messages"] == 30 and w["lost"] == 0 and w["duplicated"] == 0
    assert w["retried_messages"] == 10 and w["answered_over_5s"] == 0
    assert data["overhead"]["direct_rasa_ms"]["n"] == 20 and "p95" in data["overhead"]["overhead_ms"]


def test_bench_refuses_unreachable_rasa(dead_rasa_url, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "scripts.bench.gateway_load", "--rasa-url", dead_rasa_url, "--out",
                           str(tmp_path / "x.json")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "not reachable" in proc.stderr
