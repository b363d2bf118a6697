"""Deadline dates: "我是9月10号收到罚款决定书的，复议最晚哪天？" → the last day, the rule, its basis, an estimate.

The deadline a question is about comes from the table's keywords, else from a button, else from
the deadline asked about just before (slot `deadline_kind`), so "9月10号" after "复议最晚哪天" works.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import context
from actions.feedback import feedback_buttons
from miyun.deadlines import answer, dates, rules
from miyun.normalize import normalize
from miyun.store import ContentUnavailable

logger = logging.getLogger(__name__)

UNAVAILABLE = "抱歉，期限推算暂时用不了。期限问题请拨打12348公共法律服务热线咨询，期限临近的请尽早提交申请。"
INTENT = "ask_deadline_date"


def kind_button(deadline: rules.Deadline, start: Optional[dt.date]) -> Dict[str, str]:
    entities: Dict[str, str] = {"deadline_kind": deadline.kind}
    if start is not None:
        entities["deadline_start"] = start.isoformat()
    return {"title": deadline.name, "payload": f"/{INTENT}" + json.dumps(entities, ensure_ascii=False)}


def _start_from_entity(value: Optional[str]) -> Optional[dates.Found]:
    """A date chosen with a button (ISO), shown in full."""
    try:
        day = dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return dates.Found(day, str(value), f"{day.year}年{day.month}月{day.day}日") if day else None


class ActionDeadlineDate(Action):
    """Compute and explain a deadline from the resident's date, or ask for what is missing."""

    def name(self) -> Text:
        return "action_deadline_date"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        try:
            table = rules.table(context.content().setting("deadlines"))
        except ContentUnavailable:
            table = {}
        if not table:
            logger.warning("no published deadline table")
            dispatcher.utter_message(text=UNAVAILABLE)
            return []
        today = context.settings().today()
        raw = tracker.latest_message.get("text") or ""
        text = "" if raw.startswith("/") else normalize(raw)

        guess = rules.detect(text, table)
        kind = context.latest_entity(tracker, "deadline_kind")
        if kind not in table:
            kind = guess.kind
        if kind is None and not guess.candidates:
            remembered = tracker.get_slot("deadline_kind")
            kind = remembered if remembered in table else None
        found = _start_from_entity(context.latest_entity(tracker, "deadline_start")) or dates.find(text, today)

        remember = [SlotSet("deadline_kind", kind)] if kind else []
        if found is not None and found.problem:
            message = {"lunar": answer.LUNAR_TEXT, "month_only": answer.MONTH_ONLY_TEXT}.get(found.problem) \
                or answer.impossible_text(found)
            dispatcher.utter_message(text=message)
            return remember
        if kind is None:
            offered = [k for k in guess.candidates if k in table] or [k for k in rules.COMMON_KINDS if k in table]
            start = found.date if found else None
            dispatcher.utter_message(
                text=answer.ASK_KIND_TEXT if start else answer.ASK_KIND_NO_DATE_TEXT,
                buttons=[kind_button(table[k], start) for k in offered],
            )
            return []
        deadline = table[kind]
        if found is None:
            dispatcher.utter_message(text=answer.rule_only(deadline))
            return remember
        result = answer.date_answer(deadline, found, today)
        dispatcher.utter_message(text=result.text, buttons=feedback_buttons(f"deadline-{kind}"))
        return remember
