"""8. Publish to live: edit an answer, publish, poll the REST webhook until the new text is served."""
from __future__ import annotations

import time

import yaml

from scripts.bench.common import Http, env_vars, log, reply_text, summary
from scripts.bench.stack import Stack


def bench_publish_live(stack: Stack, reps: int, results: dict) -> None:
    """Edit a service answer in the stack's content copy, publish, poll the REST webhook for it."""
    from miyun import settings
    from miyun.knowledge import publish

    path = stack.content_dir / "services.yml"
    original = path.read_text(encoding="utf-8")
    question = "我想去信访应该怎么走程序"
    client = Http(stack.url, token=stack.token)
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
