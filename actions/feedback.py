"""有帮助 / 没帮助 after an answer; 没帮助 asks once what was missing, for staff to read."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import context
from miyun.knowledge import answers
from miyun.text import normalize

SKIP = ("跳过", "不用", "算了", "没有", "不说了", "skip")


def feedback_buttons(content_id: str) -> List[Dict[str, str]]:
    """The two buttons that follow an informative answer."""
    entity = '{"content_id": "%s"}' % content_id
    return [
        {"title": "有帮助", "payload": "/feedback_helpful" + entity},
        {"title": "没帮助", "payload": "/feedback_unhelpful" + entity},
    ]


class ActionFeedback(Action):
    """Store a 有帮助/没帮助 click with the content it was about."""

    def name(self) -> Text:
        return "action_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        helpful = (tracker.latest_message.get("intent") or {}).get("name") == "feedback_helpful"
        content_id = context.latest_entity(tracker, "content_id")
        feedback_id = context.runtime().record_feedback(content_id, helpful, context.sender_hash(tracker.sender_id))
        if helpful:
            dispatcher.utter_message(text="谢谢您的反馈！还有其他问题可以继续问我。")
            return []
        return [SlotSet("feedback_id", float(feedback_id)), SlotSet("feedback_comment", None)]


class ValidateFeedbackForm(FormValidationAction):
    """Any reply is the comment; 跳过 means none."""

    def name(self) -> Text:
        return "validate_feedback_form"

    @context.ignore_empty
    def validate_feedback_comment(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        text = normalize(str(value or ""))[:300]
        if text.startswith("/"):
            return {"feedback_comment": None}  # the 没帮助 button itself, not an answer
        return {"feedback_comment": "" if not text or text.strip("。.!！ ") in SKIP else text}


class ActionFeedbackComment(Action):
    """Log what was missing for staff, and say where else to get help."""

    def name(self) -> Text:
        return "action_feedback_comment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        comment = tracker.get_slot("feedback_comment")
        feedback_id = tracker.get_slot("feedback_id")
        if comment and feedback_id is not None:
            context.runtime().add_feedback_comment(int(feedback_id), comment)
        dispatcher.utter_message(text="收到，工作人员会据此改进解答。具体问题也可以" + answers.HOTLINE_NEXT + "。")
        return [SlotSet("feedback_id", None), SlotSet("feedback_comment", None)]
