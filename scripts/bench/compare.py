"""Compare Rasa configurations on this machine -> bench/compare.{json,md}. Run rarely: it takes tens of minutes.

    make bench-compare                                    # = python -m scripts.bench.compare
    python -m scripts.bench.compare --variants c,b --starts 1

Variants (config_variants/README.md):
  (a) config_variants/a_stock_diet_ted.yml   stock DIET, 100 epochs + TED + Rule/Memo
  (b) config_variants/b_diet0_rulememo.yml   DIET with 0 transformer layers, 50 epochs + Rule/Memo
  (c) config.yml                             ours: sparse TF-IDF + logistic regression + Rule/Memo

For each: `rasa train` into a temp dir (fresh Rasa cache, models/ untouched), cold start of a Rasa
server on that model until `/status` answers 200 (--starts times), RSS of the Rasa process group,
`/model/parse` latency over tests/nlu_heldout.yml, and the held-out intent accuracy as served
(nlu_fallback counts as wrong) next to the accuracy ignoring the fallback. Results are written
after every variant, so a partial run still leaves numbers.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Optional

from scripts import servers
from scripts.bench.common import (
    Http, _get, _git, _interrupt, _other_rasa, cpu_model, fmt, group_rss, heldout_examples, loadavg, log,
    mem_total_gb, run_timed, summary, tail,
)

ROOT = servers.ROOT
BENCH_DIR = ROOT / "bench"
VARIANTS = {
    "a": ("(a) stock DIET 100 epochs + TED + Rule/Memo", ROOT / "config_variants" / "a_stock_diet_ted.yml"),
    "b": ("(b) DIET 0 transformer layers, 50 epochs + Rule/Memo", ROOT / "config_variants" / "b_diet0_rulememo.yml"),
    "c": ("(c) ours: sparse TF-IDF + logistic regression + Rule/Memo (config.yml)", ROOT / "config.yml"),
}


def train(name: str, config: Path, tmp: Path) -> tuple[float, Path]:
    out_dir, log_path = tmp / f"model-{name}", tmp / f"train-{name}.log"
    cmd = [str(servers.VENV_BIN / "rasa"), "train", "--data", "nlu", "stories", "--domain", "domain",
           "--config", str(config), "--out", str(out_dir), "--fixed-model-name", f"variant-{name}"]
    env = servers.base_env(RASA_CACHE_DIRECTORY=str(tmp / f"cache-{name}"))
    seconds, rc = run_timed(cmd, log_path, timeout=3 * 3600, env=env)
    if rc != 0:
        raise RuntimeError(f"rasa train exited with {rc}\n{tail(log_path)}")
    return seconds, out_dir / f"variant-{name}.tar.gz"


def start(model: Path, tmp: Path, tag: str) -> tuple[servers.Server, float]:
    """A Rasa server alone (parsing needs no action server); seconds until /status answers 200."""
    var = tmp / f"var-{tag}"          # private tracker store, never the project's var/
    var.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    srv = servers.start_rasa(servers.free_port(), servers.free_port(), model=model, log=tmp / f"rasa-{tag}.log",
                             api=True, MIYUN_VAR_DIR=str(var))
    try:
        srv.wait_ready(600)
    except BaseException:
        srv.stop()
        raise
    return srv, time.perf_counter() - t0


def measure(name: str, label: str, config: Path, tmp: Path, starts: int) -> dict[str, Any]:
    out: dict[str, Any] = {"name": label, "key": name, "config": str(config.relative_to(ROOT))}
    log(f"{label}: training…")
    load_before = loadavg()
    seconds, model = train(name, config, tmp)
    out["loadavg_during"] = {"train_start": load_before, "train_end": loadavg()}
    out["train_s"] = round(seconds, 1)
    out["model_mb"] = round(model.stat().st_size / 1e6, 2)
    log(f"  trained in {seconds:.0f} s")
    examples = heldout_examples()
    ready, srv = [], None
    try:
        for i in range(starts):
            srv, s = start(model, tmp, f"{name}-{i}")
            ready.append(round(s, 2))
            out.setdefault("rss_at_ready_mb", []).append(group_rss(srv.proc.pid)["rss_mb"])
            log(f"  cold start {i + 1}/{starts}: {s:.1f} s")
            if i < starts - 1:
                srv.stop()
                srv = None
        out["cold_start_s"] = ready
        out["cold_start_median_s"] = round(statistics.median(ready), 2)
        client = Http(srv.url, timeout=60, token=srv.token)
        for text, _ in examples[:15]:
            client.post("/model/parse", {"text": text})
        times, served, raw, fallbacks, errors = [], 0, 0, 0, 0
        wrong: dict[str, int] = {}
        for text, gold in examples:
            t0 = time.perf_counter()
            status, body = client.post("/model/parse", {"text": text})
            times.append((time.perf_counter() - t0) * 1000)
            if status != 200 or not isinstance(body, dict):
                errors += 1
                continue
            top = (body.get("intent") or {}).get("name")
            ranked = next((r["name"] for r in body.get("intent_ranking") or [] if r["name"] != "nlu_fallback"), top)
            served += top == gold
            raw += ranked == gold
            fallbacks += top == "nlu_fallback"
            if top != gold:
                wrong[f"{gold} -> {top}"] = wrong.get(f"{gold} -> {top}", 0) + 1
        client.close()
        n = len(examples)
        rss = group_rss(srv.proc.pid)
        out.update({
            "heldout_examples": n, "parse_errors": errors, "parse_ms": summary(times),
            "accuracy_served": round(served / n, 4), "accuracy_ignoring_fallback": round(raw / n, 4),
            "fallback_share": round(fallbacks / n, 4),
            "rasa_rss_mb": rss["rss_mb"], "rasa_peak_mb": rss["peak_mb"],
            "top_confusions": dict(sorted(wrong.items(), key=lambda kv: -kv[1])[:8]),
        })
        log(f"  accuracy served {served / n:.3f}, parse p50 {out['parse_ms']['p50']} ms, RSS {rss['rss_mb']} MB")
    finally:
        if srv is not None:
            srv.stop()
        model.unlink(missing_ok=True)
    return out


def markdown(data: dict) -> str:
    m = data["meta"]
    n = next((v.get("heldout_examples") for v in data["variants"] if v.get("heldout_examples")), None)
    L = [
        "# Rasa configurations compared", "",
        f"Written by `make bench-compare` (`python -m scripts.bench.compare`) on {data['date']}; the run took "
        f"{fmt(m.get('wall_s'))} s. Machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}; "
        f"load average {m['loadavg_start']} at start, {m.get('loadavg_end')} at end; other rasa processes at start: "
        f"{m['other_rasa_processes']}; git {m['git']}.", "",
        f"Same data for all: nlu/ + stories/ + domain/; held-out set tests/nlu_heldout.yml ({n} examples, written apart from "
        "the training data). Every variant keeps TextNormalizer, JiebaTokenizer with content/dictionary, "
        "GazetteerEntityExtractor, DangerOverride and FallbackClassifier (threshold 0.25, ambiguity 0.0); the DIET "
        "variants use CountVectorsFeaturizer over words and char_wb 1–4 grams. Config files: config_variants/.", "",
        "| variant | train | cold start to /status (each) | Rasa RSS after parsing | /model/parse p50 / p95 | held-out accuracy served | ignoring fallback | fallback share |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for v in data["variants"]:
        if v.get("error"):
            L.append(f"| {v['name']} | failed: {v['error'].splitlines()[0][:120]} | | | | | | |")
            continue
        L.append(
            f"| {v['name']} | {fmt(v.get('train_s'), 's')} | {fmt(v.get('cold_start_median_s'), 's')} "
            f"({', '.join(str(x) for x in v.get('cold_start_s') or [])}) | {fmt(v.get('rasa_rss_mb'), 'MB')} | "
            f"{fmt(_get(v, 'parse_ms', 'p50'), 'ms')} / {fmt(_get(v, 'parse_ms', 'p95'), 'ms')} | "
            f"**{fmt(v.get('accuracy_served'))}** | {fmt(v.get('accuracy_ignoring_fallback'))} | {fmt(v.get('fallback_share'))} |")
    ours = next((v for v in data["variants"] if v.get("key") == "c" and not v.get("error")), None)
    if ours:
        L += ["", "Ratios to ours (c):", ""]
        for v in data["variants"]:
            if v is ours or v.get("error") or not v.get("train_s"):
                continue
            L.append(
                f"- {v['name']}: train ×{v['train_s'] / ours['train_s']:.1f}, cold start ×"
                f"{v['cold_start_median_s'] / ours['cold_start_median_s']:.1f}, RSS ×{v['rasa_rss_mb'] / ours['rasa_rss_mb']:.2f}, "
                f"parse p50 ×{v['parse_ms']['p50'] / ours['parse_ms']['p50']:.1f}, served accuracy "
                f"{(v['accuracy_served'] - ours['accuracy_served']) * 100:+.1f} points")
    L += ["", "Most frequent held-out confusions (gold -> served):", ""]
    for v in data["variants"]:
        if v.get("top_confusions"):
            L.append(f"- {v['name']}: " + "; ".join(f"{k} ×{c}" for k, c in v["top_confusions"].items()))
    accs = [v["accuracy_served"] for v in data["variants"] if v.get("accuracy_served")]
    acc = statistics.fmean(accs) if accs else 0.9
    margin = 1.96 * math.sqrt(acc * (1 - acc) / max(n or 1, 1))
    busy = max((m.get("loadavg_end") or [0])[1:] + (m.get("loadavg_start") or [0])[1:], default=0)
    if busy > (m.get("nproc") or 2):
        L += ["", f"**This run was oversubscribed:** a 5/15-minute load average of up to {busy} on {m['nproc']} cores, from "
              "other jobs on the shared machine. Absolute train and start times are inflated (most for the long DIET "
              "trainings, which overlapped the busiest period); accuracy is unaffected."]
    L += [
        "", "## Method and caveats", "",
        "- `rasa train --data nlu stories --domain domain --config <variant> --out <temp dir>` with a fresh "
        "`RASA_CACHE_DIRECTORY`, so nothing is reused between variants or from earlier runs; models/ is never written.",
        "- Cold start: `rasa run` with the token-protected API (scripts/servers.start_rasa) until `/` answers 200, polled every 0.1 s; "
        "Rasa loads the model before it listens. No action server is needed for parsing.",
        "- Accuracy is what `/model/parse` returns for each held-out sentence: `nlu_fallback` counts as wrong. The "
        "'ignoring fallback' column takes the best non-fallback intent (what `rasa test nlu` reports).",
        "- RSS: VmRSS summed over the Rasa process group after all held-out sentences were parsed.",
        f"- With {n} held-out sentences the 95% margin on an accuracy near {acc:.2f} is about ±{margin * 100:.1f} points "
        "(normal approximation), and DIET varies by 1–2 points between trainings: differences smaller than that are noise. "
        "Timings share 2 cores with whatever else runs (see the load averages above"
        + (", and per variant in compare.json" if any(v.get("loadavg_during") for v in data["variants"]) else "")
        + "); read the ratios, not single figures.",
        "- DIET variants keep Rasa's default `entity_recognition: true`, so DIET also learns the town annotations that "
        "our gazetteer extracts (a little extra training time; entity output is not scored here).",
        "",
    ]
    return "\n".join(L)


def write(data: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "compare.json").write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out_dir / "compare.md").write_text(markdown(data), encoding="utf-8")


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default="c,b,a", help="comma list of a, b, c (default c,b,a: fastest first)")
    ap.add_argument("--starts", type=int, default=2, help="cold starts per variant (1..5)")
    ap.add_argument("--out-dir", type=Path, default=BENCH_DIR)
    args = ap.parse_args(argv)
    keys = [k.strip() for k in args.variants.split(",") if k.strip()]
    if any(k not in VARIANTS for k in keys) or not 1 <= args.starts <= 5:
        ap.error("--variants takes a, b, c; --starts 1..5")
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.perf_counter()
    data: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "meta": {"nproc": os.cpu_count(), "cpu": cpu_model(), "ram_gb": mem_total_gb(), "python": platform.python_version(),
                 "loadavg_start": loadavg(), "other_rasa_processes": _other_rasa(), "git": _git(), "starts": args.starts},
        "variants": [],
    }
    tmp = Path(tempfile.mkdtemp(prefix="miyun-bench-compare-"))
    try:
        for key in keys:
            label, config = VARIANTS[key]
            try:
                data["variants"].append(measure(key, label, config, tmp, args.starts))
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # noqa: BLE001 - one failed variant must not lose the others
                log(f"{label} FAILED: {exc}")
                data["variants"].append({"name": label, "key": key, "config": str(config.relative_to(ROOT)),
                                         "error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-2000:]}"})
            data["meta"]["wall_s"] = round(time.perf_counter() - started, 1)
            data["meta"]["loadavg_end"] = loadavg()
            write(data, args.out_dir)
    finally:
        data["meta"]["wall_s"] = round(time.perf_counter() - started, 1)
        data["meta"]["loadavg_end"] = loadavg()
        write(data, args.out_dir)
        shutil.rmtree(tmp, ignore_errors=True)
    print((args.out_dir / "compare.md").read_text(encoding="utf-8"))
    return 0 if all(not v.get("error") for v in data["variants"]) else 1


if __name__ == "__main__":
    sys.exit(main())
