"""Train the Rasa model only when its inputs changed (a hash of data, domain, config and components)."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "miyun.tar.gz"
STAMP = ROOT / "models" / ".fingerprint"
INPUTS = ["config.yml", "domain", "nlu", "stories", "content/dictionary", "miyun/nlu", "miyun/text.py"]


def fingerprint() -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) if path.is_dir() else [path]
        for f in files:
            digest.update(str(f.relative_to(ROOT)).encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()


def train(force: bool = False) -> float:
    """Train if needed; returns the seconds spent (0 when skipped)."""
    current = fingerprint()
    if not force and MODEL.exists() and STAMP.exists() and STAMP.read_text().strip() == current:
        print(f"model up to date: {MODEL.relative_to(ROOT)}")
        return 0.0
    print("training the Rasa model (data, domain or config changed)…", flush=True)
    started = time.perf_counter()
    cmd = [
        str(ROOT / ".venv" / "bin" / "rasa"), "train",
        "--data", "nlu", "stories", "--domain", "domain", "--config", "config.yml",
        "--out", "models", "--fixed-model-name", "miyun",
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    STAMP.write_text(current)
    spent = time.perf_counter() - started
    print(f"trained in {spent:.1f} s")
    return spent


if __name__ == "__main__":
    try:
        train(force="--force" in sys.argv)
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
