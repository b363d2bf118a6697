"""1. Train: `rasa train` of config.yml into a temp dir with a cold Rasa cache."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import yaml

from scripts import servers
from scripts.bench.common import RASA_BIN, ROOT, log, run_timed, tail


def _nlu_lines() -> Iterator[str]:
    for path in sorted((ROOT / "nlu").glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" in block and isinstance(block.get("examples"), str):
                yield from (l for l in block["examples"].splitlines() if l.strip().startswith("- "))


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
