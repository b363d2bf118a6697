"""Gate: the held-out dated questions (tests/deadline_eval.yml, written apart from the rules) are all right.

Every question goes through the same code as the action (miyun.deadlines.reply.respond) with its
own "today": the deadline, the resident's date and the last day must match, the answer must name
that day, and it must say it is an estimate. Routing is checked too: the NLU's deterministic
DeadlineCue (patterns from nlu/deadlines.yml) must send each question to ask_deadline_date.
"""
import datetime as dt
from pathlib import Path

import pytest
import yaml

from miyun.deadlines import reply, rules
from miyun.deadlines.answer import long_date
from miyun.text import normalize

ROOT = Path(__file__).resolve().parent.parent
CASES = yaml.safe_load((ROOT / "tests" / "deadline_eval.yml").read_text(encoding="utf-8"))
MIN_CASES = 30     # issue 13: "right on a held-out set of at least 30 dated questions"


def _date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


@pytest.fixture(scope="module")
def table() -> dict:
    entries, problems = rules.validate(yaml.safe_load((ROOT / "content" / "deadlines.yml").read_text(encoding="utf-8")))
    assert not problems
    return rules.table(entries)


def _check(case: dict, table: dict) -> str:
    """'' when right, else what is wrong."""
    out = reply.respond(normalize(case["q"]), _date(case["today"]), table)
    if out.result is None:
        return f"no date answer: {out.text[:60]}"
    wrong = []
    if out.kind != case["kind"]:
        wrong.append(f"kind {out.kind} != {case['kind']}")
    if out.found.date != _date(case["start"]):
        wrong.append(f"start {out.found.date} != {case['start']}")
    if out.result.period.last_day != _date(case["last_day"]):
        wrong.append(f"last day {out.result.period.last_day} != {case['last_day']}")
    if long_date(_date(case["last_day"])) not in out.text:
        wrong.append("the answer does not name the expected day")
    if "估算" not in out.text:
        wrong.append("no estimate line")
    return "; ".join(wrong)


def test_every_dated_answer_is_right(table):
    assert len(CASES) >= MIN_CASES
    failures = {c["q"]: why for c in CASES if (why := _check(c, table))}
    right = len(CASES) - len(failures)
    print(f"\ndeadline_eval: {right}/{len(CASES)} right ({right / len(CASES):.0%})")
    assert not failures, f"{right}/{len(CASES)} right; wrong: {failures}"


def test_every_date_answer_says_it_is_an_estimate(table):
    for case in CASES:
        out = reply.respond(normalize(case["q"]), _date(case["today"]), table)
        if out.result is not None:
            assert "估算" in out.text and "为准" in out.text, case["q"]


def test_every_question_is_routed_to_the_deadline_action():
    from miyun.nlu.deadline_cue import DeadlineCue

    nlu = yaml.safe_load((ROOT / "nlu" / "deadlines.yml").read_text(encoding="utf-8"))["nlu"]
    patterns = [line[2:].strip() for item in nlu if item.get("regex") == "deadline_cue"
                for line in item["examples"].splitlines() if line.startswith("- ")]
    cue = DeadlineCue({}, None, None, patterns)
    missed = [c["q"] for c in CASES if not cue.is_deadline_question(normalize(c["q"]))]
    assert not missed, missed


def test_date_answers_fit_a_phone_screen(table):
    """Issue 13 §4: no first reply over 400 characters."""
    for case in CASES:
        out = reply.respond(normalize(case["q"]), _date(case["today"]), table)
        assert len(out.text) <= 400, (len(out.text), case["q"])
