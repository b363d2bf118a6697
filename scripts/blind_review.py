"""The blind review of 100 LawBench questions (bench/blind_review_rubric.md).

    python -m scripts.blind_review collect [--round N]   # ask the real assistant; replies → var/blind_review/
    python -m scripts.blind_review report [--round N]    # verdicts in bench/blind_review*.yml → bench/results.md

Each round's sample is fixed by its seed, chosen before any answer of that round was seen, and
drawn from questions no earlier round used; no sample is ever used for tuning. Questions stay out
of the repository: the verdict files key them by a short hash.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import tempfile
import urllib.request
from collections import Counter
from pathlib import Path

import yaml

from miyun.knowledge import answers
from scripts import servers

ROOT = servers.ROOT
LAWBENCH = ROOT.parent / "shared" / "eval" / "lawbench_3-8_questions.json"
SIZE = 100
# Round → seed. Round 2's seed was fixed on 2026-12-01 before its replies were collected, after the
# matcher gained the "您问的可能是" guess and the word-for-word rule (round 1 had been seen by then).
# Round 3's seed was fixed on 2026-12-01 (16:35 UTC) before its replies were collected: the default build,
# guess tier off, after the one-fact and named-service changes.
ROUNDS = {1: 20261201, 2: 20261208, 3: 20261215, 4: 20261222, 5: 20261229}
# Round → the earlier round whose sample it asks again. Round 5 drew the last unused questions, so
# round 6 (2026-12-02) re-asks round 5's sample of the build after it, for a before/after on the same
# 100 questions; its judge has not seen round 5's verdicts. Those questions were seen, never tuned on.
REPEATS = {6: 5}
ALL_ROUNDS = sorted({*ROUNDS, *REPEATS})
SEED = ROUNDS[1]
RESULTS = ROOT / "bench" / "results.md"
USEFUL = ("on_topic_direct", "on_topic_general", "statute_correct", "clarify_ok")
WRONG = ("misleading", "off_topic")
CONFIDENT = ("on_topic_direct", "on_topic_general", "statute_correct", *WRONG)
VERDICT_NAMES = (*USEFUL, *WRONG, "right_fallback", "missed_article")
TARGETS = {"useful": 0.85, "wrong_confident": 0.03, "missed": 0.05}
BEGIN, END = "<!-- blind-review:begin -->", "<!-- blind-review:end -->"


def replies_path(round_: int = 1) -> Path:
    return ROOT / "var" / "blind_review" / ("replies.yml" if round_ == 1 else f"replies-{round_}.yml")


def verdicts_path(round_: int = 1) -> Path:
    return ROOT / "bench" / ("blind_review.yml" if round_ == 1 else f"blind_review_{round_}.yml")


def markers(round_: int = 1) -> tuple[str, str]:
    return (BEGIN, END) if round_ == 1 else (f"<!-- blind-review-{round_}:begin -->", f"<!-- blind-review-{round_}:end -->")


def key(question: str) -> str:
    """A short, stable name for a question that does not reveal it."""
    return hashlib.sha1(question.encode("utf-8")).hexdigest()[:10]


def sample(round_: int = 1) -> list[str]:
    """A round's fixed blind sample, in draw order, disjoint from every earlier round's (a repeat
    round asks an earlier round's sample again)."""
    if round_ in REPEATS:
        return sample(REPEATS[round_])
    questions = json.loads(LAWBENCH.read_text(encoding="utf-8"))["questions"]
    texts = [q if isinstance(q, str) else q.get("question") or q.get("text") for q in questions]
    used: set[int] = set()
    for r in sorted(ROUNDS):
        pool = [i for i in range(len(texts)) if i not in used]
        drawn = random.Random(ROUNDS[r]).sample(range(len(texts)), SIZE) if r == 1 else random.Random(ROUNDS[r]).sample(pool, SIZE)
        if r == round_:
            return [texts[i] for i in drawn]
        used |= set(drawn)
    raise ValueError(f"no round {round_}")


def served(reply: str) -> str:
    """Which tier answered, read off the reply the resident sees."""
    if "没有找到有把握的答案" in reply:
        return "fallback"
    if reply.startswith("您问的可能是"):
        return "likely"
    if "法条原文" in reply and "相关法律规定" in reply:
        return "statute"
    if reply.startswith(answers.SUGGEST_LEAD):
        return "suggest"
    if re.search(r"您问的是|您想问的是", reply):
        return "clarify"
    if reply.startswith("【"):
        return "article"
    return "other"


def ask(url: str, sender: str, text: str) -> str:
    """One message through Rasa's REST channel; the reply's texts and button titles, as shown."""
    body = json.dumps({"sender": sender, "message": text}).encode("utf-8")
    request = urllib.request.Request(url + "/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        messages = json.loads(response.read())
    parts = []
    for message in messages:
        if message.get("text"):
            parts.append(message["text"])
        for button in message.get("buttons") or []:
            parts.append(f"[按钮] {button.get('title')}")
    return "\n".join(parts)


def collect(round_: int = 1) -> int:
    """Send each sampled question as a new conversation to a private Rasa + action server."""
    tmp = Path(tempfile.mkdtemp(prefix="blind-"))
    action_port, rasa_port = servers.free_port(), servers.free_port()
    env = {"MIYUN_TRACKER_DB": str(tmp / "trackers.db")}
    actions = servers.start_actions(action_port, tmp / "actions.log", **env)
    rasa = servers.start_rasa(rasa_port, action_port, log=tmp / "rasa.log", **env)
    try:
        actions.wait_ready()
        rasa.wait_ready()
        rows = []
        for n, question in enumerate(sample(round_), 1):
            reply = ask(rasa.url, f"blind-{n}", question)
            rows.append({"n": n, "key": key(question), "served": served(reply), "question": question, "reply": reply})
    finally:
        rasa.stop()
        actions.stop()
    out = replies_path(round_)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(rows, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8")
    print(f"{len(rows)} replies → {out.relative_to(ROOT)}: {dict(Counter(r['served'] for r in rows))}")
    return 0


def figures(verdicts: list[dict]) -> dict:
    """The three target figures of the rubric, from the verdicts."""
    counts = Counter(v["verdict"] for v in verdicts)
    unknown = set(counts) - set(VERDICT_NAMES)
    if unknown:
        raise ValueError(f"unknown verdicts: {sorted(unknown)}")
    total = len(verdicts)
    confident = sum(counts[v] for v in CONFIDENT)
    return {
        "judged": total,
        "counts": {name: counts[name] for name in VERDICT_NAMES},
        "useful": sum(counts[v] for v in USEFUL) / total,
        "wrong_confident": (sum(counts[v] for v in WRONG) / confident) if confident else 0.0,
        "missed": counts["missed_article"] / total,
    }


def seed_line(round_: int) -> str:
    if round_ in REPEATS:
        return f"round {REPEATS[round_]}'s sample again, seed {ROUNDS[REPEATS[round_]]}"
    return f"seed {ROUNDS[round_]}"


def markdown(data: dict, fig: dict, round_: int = 1) -> str:
    """The section of bench/results.md that shows the blind review."""
    ok = {
        "useful": fig["useful"] >= TARGETS["useful"],
        "wrong_confident": fig["wrong_confident"] <= TARGETS["wrong_confident"],
        "missed": fig["missed"] <= TARGETS["missed"],
    }
    begin, end = markers(round_)
    lines = [
        begin,
        "## Blind review of 100 LawBench questions" + (f", round {round_}" if round_ > 1 else ""),
        "",
        f"Judged by {data.get('reviewer', '?')} on {data.get('date', '?')}, blind to scores, with the rubric in "
        f"`bench/blind_review_rubric.md` ({seed_line(round_)}, fixed before judging, never used for tuning). "
        f"Verdicts: `{verdicts_path(round_).relative_to(ROOT)}`; regenerate this section with "
        f"`python -m scripts.blind_review report --round {round_}`.",
        "",
        "| figure | measured | target | met |",
        "|---|---|---|---|",
        f"| useful grounded answer | {fig['useful']:.0%} | ≥ 85% | {'yes' if ok['useful'] else 'no'} |",
        f"| confident answers off-topic or misleading | {fig['wrong_confident']:.1%} | ≤ 3% | {'yes' if ok['wrong_confident'] else 'no'} |",
        f"| fallbacks that had a fitting article | {fig['missed']:.0%} | ≤ 5% | {'yes' if ok['missed'] else 'no'} |",
        "",
        "| verdict | count |",
        "|---|---|",
        *[f"| {name} | {n} |" for name, n in fig["counts"].items()],
        "",
    ]
    if data.get("summary"):
        lines += [data["summary"].strip(), ""]
    return "\n".join(lines + [end])


def kept_section(text: str) -> str:
    """The blind-review sections of a results file (every round), markers included, or empty."""
    kept = []
    for round_ in ALL_ROUNDS:
        begin, end = markers(round_)
        if begin in text and end in text:
            kept.append(text[text.index(begin): text.index(end) + len(end)])
    return "\n\n".join(kept)


def report(round_: int = 1) -> int:
    """Write a round's figures into bench/results.md between its markers (appended the first time)."""
    data = yaml.safe_load(verdicts_path(round_).read_text(encoding="utf-8"))
    fig = figures(data["verdicts"])
    section = markdown(data, fig, round_)
    begin, end = markers(round_)
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text, encoding="utf-8")
    print(section)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("collect", "report"))
    parser.add_argument("--round", type=int, default=1, choices=ALL_ROUNDS, help="which blind sample (default 1)")
    args = parser.parse_args(argv)
    return collect(args.round) if args.command == "collect" else report(args.round)


if __name__ == "__main__":
    raise SystemExit(main())
