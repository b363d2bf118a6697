"""Deadline dates: "我是9月10号收到罚款决定书的，复议最晚哪天？" → the last day, the rule, its basis, an estimate."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import context
from actions.feedback import feedback_buttons
from miyun.deadlines import reply, rules
from miyun.knowledge.answers import chinese_number
from miyun.knowledge.store import ContentUnavailable
from miyun.text import normalize

logger = logging.getLogger(__name__)

UNAVAILABLE = "抱歉，期限推算暂时用不了。期限问题请拨打12348公共法律服务热线咨询，期限临近的请尽早提交申请。"


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
        raw = tracker.latest_message.get("text") or ""
        out = reply.respond(
            "" if raw.startswith("/") else normalize(raw),
            context.settings().today(),
            table,
            entity_kind=context.latest_entity(tracker, "deadline_kind"),
            entity_start=context.latest_entity(tracker, "deadline_start"),
            remembered=tracker.get_slot("deadline_kind"),
            number=chinese_number,
        )
        buttons = out.buttons + (feedback_buttons(f"deadline-{out.kind}") if out.result else [])
        dispatcher.utter_message(text=out.text, buttons=buttons)
        return [SlotSet("deadline_kind", out.kind)] if out.kind else []
