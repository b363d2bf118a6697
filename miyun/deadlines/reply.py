"""One deadline turn, without Rasa: which deadline, which date, and the reply (or what to ask for).

The deadline comes from a button (entity), else from the table's keywords, else from the deadline
asked about just before (`remembered`), so "9月10号" right after "复议最晚哪天" completes it.
actions/deadline.py runs this; the held-out gate (tests/test_deadline_eval.py) runs it too.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from miyun.deadlines import answer, dates, rules

INTENT = "ask_deadline_date"
EXTENSION_ASKED = re.compile(r"延长|延期|推迟|延后")


@dataclass
class Reply:
    text: str
    buttons: list[dict] = field(default_factory=list)
    kind: str | None = None                   # the deadline to remember for the next message
    found: dates.Found | None = None
    result: answer.DateAnswer | None = None


def kind_button(deadline: rules.Deadline, start: dt.date | None) -> dict:
    """A button naming one deadline; it carries the date already understood."""
    entities = {"deadline_kind": deadline.kind}
    if start is not None:
        entities["deadline_start"] = start.isoformat()
    return {"title": deadline.name, "payload": f"/{INTENT}" + json.dumps(entities, ensure_ascii=False)}


def _from_iso(value: str | None) -> dates.Found | None:
    try:
        day = dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return dates.Found(day, str(value), f"{day.year}年{day.month}月{day.day}日") if day else None


def respond(text: str, today: dt.date, table: dict[str, rules.Deadline], *, entity_kind: str | None = None,
            entity_start: str | None = None, remembered: str | None = None,
            number: answer.Numbering = str) -> Reply:
    """The reply to a (normalised) message asking about a deadline."""
    guess = rules.detect(text, table)
    kind = entity_kind if entity_kind in table else guess.kind
    if kind is None and not guess.candidates and remembered in table:
        kind = remembered
    found = _from_iso(entity_start) or dates.find(text, today)

    if found is not None and found.problem:
        message = {"lunar": answer.LUNAR_TEXT, "month_only": answer.MONTH_ONLY_TEXT}.get(found.problem) \
            or answer.impossible_text(found)
        return Reply(message, kind=kind, found=found)
    if kind is None:
        offered = [k for k in guess.candidates if k in table] or [k for k in rules.COMMON_KINDS if k in table]
        start = found.date if found else None
        return Reply(answer.ASK_KIND_TEXT if start else answer.ASK_KIND_NO_DATE_TEXT,
                     [kind_button(table[k], start) for k in offered], found=found)
    if found is None:
        return Reply(answer.rule_only(table[kind], number), kind=kind)
    result = answer.date_answer(table[kind], found, today, extension_asked=bool(EXTENSION_ASKED.search(text)),
                                number=number)
    return Reply(result.text, kind=kind, found=found, result=result)
