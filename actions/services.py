"""Answers for the service intents, emergencies and messages the assistant cannot place."""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import context
from miyun import answers
from miyun.store import ContentUnavailable

logger = logging.getLogger(__name__)

STORE_DOWN = (
    "抱歉，资料库暂时无法读取。法律咨询请拨打12348公共法律服务热线；"
    "也可以到所在镇街的公共法律服务站当面咨询。"
)
# Used only when the content store itself cannot be read: danger must never go unanswered.
EMERGENCY_DEFAULT = (
    "如果您或他人正面临危险，请立即拨打110报警；有人受伤或有生命危险，请拨打120急救。"
    "请先到安全的地方，再和我们联系。"
)
DOMESTIC_VIOLENCE = re.compile(r"家暴|家庭暴力|(老公|丈夫|男人|媳妇|老婆|妻子|爸|妈|儿子|女儿|公公|婆婆|对象).{0,6}(打|砍|掐|踹|杀)")

# Buttons offered after each service answer: the natural next steps.
FOLLOW_UPS: Dict[str, List[Dict[str, str]]] = {
    "ask_legal_aid": [
        {"title": "找附近的服务站", "payload": "/find_service_station"},
        {"title": "拨打12348能做什么", "payload": "/ask_hotline"},
    ],
    "ask_mediation": [
        {"title": "我要申请调解", "payload": "/request_mediation"},
        {"title": "找附近的服务站", "payload": "/find_service_station"},
    ],
    "ask_hotline": [{"title": "法律援助", "payload": "/ask_legal_aid"}],
    "ask_capabilities": [
        {"title": "法律援助", "payload": "/ask_legal_aid"},
        {"title": "找服务站", "payload": "/find_service_station"},
        {"title": "说法评理调解", "payload": "/ask_mediation"},
    ],
    "request_human": [{"title": "找附近的服务站", "payload": "/find_service_station"}],
    "ask_admin_reconsideration": [{"title": "信息公开申请", "payload": "/ask_info_disclosure"}],
}


def utter_service(dispatcher: CollectingDispatcher, intent: str) -> bool:
    """Send the content entry for `intent`; False when there is none."""
    service = context.content().service_for_intent(intent)
    if service is None:
        return False
    dispatcher.utter_message(text=answers.service_text(service), buttons=FOLLOW_UPS.get(intent, []))
    return True


class ActionAnswerService(Action):
    """Answer a service intent from the content store."""

    def name(self) -> Text:
        return "action_answer_service"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "out_of_scope"
        try:
            if not utter_service(dispatcher, intent):
                logger.warning("no content entry for intent %s", intent)
                utter_service(dispatcher, "out_of_scope") or dispatcher.utter_message(text=STORE_DOWN)
        except ContentUnavailable:
            logger.exception("content store unavailable")
            dispatcher.utter_message(text=STORE_DOWN)
        return []


class ActionEmergency(Action):
    """Immediate danger: 110/120 first, then domestic-violence help where it applies."""

    def name(self) -> Text:
        return "action_emergency"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        text = tracker.latest_message.get("text") or ""
        try:
            store = context.content()
            main = store.service_for_intent("emergency")
            dispatcher.utter_message(text=main["answer"] if main else EMERGENCY_DEFAULT)
            if DOMESTIC_VIOLENCE.search(text):
                dv = store.service("emergency-domestic-violence")
                if dv:
                    dispatcher.utter_message(text=answers.compose(dv["answer"], answers.legal_basis_line(dv["legal_basis"])))
        except ContentUnavailable:
            dispatcher.utter_message(text=EMERGENCY_DEFAULT)
        dispatcher.utter_message(text="如果您现在安全了，可以继续告诉我您遇到的情况。")
        return []


class ActionFallback(Action):
    """An honest "I can't help with that", what the assistant can do, and 12348."""

    def name(self) -> Text:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        try:
            if not utter_service(dispatcher, "out_of_scope"):
                dispatcher.utter_message(text=STORE_DOWN)
        except ContentUnavailable:
            dispatcher.utter_message(text=STORE_DOWN)
        return []
