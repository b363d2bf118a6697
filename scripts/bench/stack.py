"""The running stack the measurements 2-6, 8 and 9 use: action server + Rasa over a private content copy and var dir."""
from __future__ import annotations

import http.client
import random
import time
from pathlib import Path
from typing import Any, Optional

from scripts import servers
from scripts.bench.common import ACTION_INTENTS, ROOT, SEED, heldout_examples, tail


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
        self.rasa = servers.start_rasa(rasa_port, action_port, log=self.base / f"rasa-{self.tag}.log", api=True, **env)
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

    @property
    def token(self) -> str:
        """Rasa's HTTP API token (the bench reads trackers and /model/parse)."""
        assert self.rasa is not None
        return self.rasa.token


def webhook_messages(seed: int = SEED) -> list[tuple[str, str]]:
    """(text, expected custom action): held-out phrasings of intents whose rule runs a custom action,
    plus articles' own questions (legal questions)."""
    rng = random.Random(seed)
    out = [(t, ACTION_INTENTS[i]) for t, i in heldout_examples() if i in ACTION_INTENTS]
    from miyun.knowledge import content as content_mod

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
