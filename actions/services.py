"""Answers for the service intents, emergencies and messages the assistant cannot place."""
from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions import aspects as aspects_mod
from actions import context
from actions.feedback import feedback_buttons
from actions.statute_text import statute_button
from miyun.knowledge import answers, hours
from miyun.knowledge.store import ContentUnavailable

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
        {"title": "测一测我能否申请", "payload": "/legal_aid_precheck"},
        {"title": "找附近的服务站", "payload": "/find_service_station"},
        {"title": "拨打12348能做什么", "payload": "/ask_hotline"},
    ],
    "ask_mediation": [
        {"title": "我要申请调解", "payload": "/request_mediation"},
        {"title": "找附近的服务站", "payload": "/find_service_station"},
        {"title": "帮我起草调解申请书", "payload": '/request_document{"document_kind":"mediation"}'},
    ],
    "ask_hotline": [{"title": "法律援助", "payload": "/ask_legal_aid"}],
    "ask_capabilities": [
        {"title": "法律援助", "payload": "/ask_legal_aid"},
        {"title": "找服务站", "payload": "/find_service_station"},
        {"title": "说法评理调解", "payload": "/ask_mediation"},
        {"title": "帮我起草文书", "payload": "/request_document"},
    ],
    "request_human": [
        {"title": "请工作人员回电", "payload": "/request_callback"},
        {"title": "找附近的服务站", "payload": "/find_service_station"},
    ],
    "ask_admin_reconsideration": [
        {"title": "信息公开申请", "payload": "/ask_info_disclosure"},
        {"title": "帮我起草行政复议申请书", "payload": '/request_document{"document_kind":"reconsideration"}'},
    ],
    "ask_info_disclosure": [
        {"title": "帮我填政府信息公开申请表", "payload": '/request_document{"document_kind":"disclosure"}'},
    ],
}


# Answers that inform get 有帮助/没帮助; menus and refusals do not.
NO_FEEDBACK = {"ask_capabilities", "out_of_scope", "request_human"}


FIRST_REPLY_MAX = 400


def utter_service(dispatcher: CollectingDispatcher, intent: str, extra: str = "") -> bool:
    """Send the content entry for `intent` (one without aspects: capabilities, human …); False when there is none."""
    service = context.content().service_for_intent(intent)
    if service is None:
        return False
    buttons = list(FOLLOW_UPS.get(intent, [])) + statute_button(service)
    if intent not in NO_FEEDBACK:
        buttons += feedback_buttons(service["id"])
    text = answers.service_text(service)
    if extra:
        text = text.replace(answers.DISCLAIMER, extra + "\n" + answers.DISCLAIMER)
    if len(text) > FIRST_REPLY_MAX:  # the rest behind a button, never three screens at once
        text = answers.summary_text(service, extra)
        buttons = [{"title": "完整说明", "payload": aspects_mod.payload(service["id"], "full")}] + buttons
    dispatcher.utter_message(text=text, buttons=buttons)
    return True


def utter_aspects(dispatcher: CollectingDispatcher, tracker: Tracker, asked: aspects_mod.Asked, extra: str = "") -> List[Dict[Text, Any]]:
    """A service with aspects: the fact asked first (or a short summary), buttons for the rest."""
    store = context.content()
    service = asked.service
    town_line = ""
    town = known_town(tracker)
    if town and "where" in asked.aspects:  # a town named now wins over the remembered one
        station = store.station_for_town(town)
        if station:
            town_line = f"您在{town}，可以先到{station['name']}（地址和开放时间{answers.CONFIRM_VIA_12348}）。"
    follow_ups = FOLLOW_UPS.get(service["intent"], [])
    text, buttons, events = aspects_mod.reply(tracker, store, asked, extra, town_line, follow_ups)
    dispatcher.utter_message(text=text, buttons=buttons)
    return events


def answered_instead(dispatcher: CollectingDispatcher, tracker: Tracker,
                     accept: Callable[[aspects_mod.Asked], bool]) -> Optional[List[Dict[Text, Any]]]:
    """A flow's first message that is really a question about a named service ("复议机关不受理我的申请，
    咋办" is no status check; "对方不愿意调解能硬调吗" no request): answer it and listen, instead of the flow.

    None when the message names no service, asks none of its parts, or `accept` says the flow fits."""
    asked = aspects_mod.service_question(tracker, context.content(), follow_ups=False)
    if asked is None or not asked.service or not accept(asked):
        return None
    return utter_aspects(dispatcher, tracker, asked) + [FollowupAction("action_listen")]


def known_town(tracker: Tracker) -> Optional[str]:
    """The town of the latest message, else the most recent one the resident named."""
    town = context.latest_entity(tracker, "town")
    if town:
        return town
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            for entity in (event.get("parse_data") or {}).get("entities") or []:
                if entity.get("entity") == "town":
                    return entity.get("value")
    return tracker.get_slot("town")


def station_hours_line(station: dict, now: dt.datetime) -> str:
    """Whether the station is open now, or when it opens; unknown hours go to 12348."""
    windows = hours.parse(station.get("hours"))
    if not windows:
        return f"{station['name']}的开放时间正在核实中，去之前请拨打12348确认。"
    if hours.is_open(windows, now):
        return f"{station['name']}现在是开放时间（{station['hours']}）。"
    opening = hours.next_opening(windows, now)
    nxt = f"下次开放：{hours.describe_next(opening, now)}。" if opening else ""
    return f"{station['name']}现在不在开放时间（{station['hours']}）。{nxt}"


def handoff_extra(tracker: Tracker, now: dt.datetime) -> str:
    """The nearest station for a resident who wants a person."""
    town = known_town(tracker)
    if not town:
        return "告诉我您在哪个镇街，我可以告诉您就近的公共法律服务站。"
    station = context.content().station_for_town(town)
    return station_hours_line(station, now) if station else ""


class ActionAnswerService(Action):
    """Answer a service intent from the content store."""

    def name(self) -> Text:
        return "action_answer_service"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "out_of_scope"
        try:
            asked = aspects_mod.resolve(tracker, context.content(), intent)
            if asked.service is not None and asked.service.get("aspects"):
                return utter_aspects(dispatcher, tracker, asked)
            if intent == aspects_mod.ASPECT_INTENT:
                text, buttons = aspects_mod.which_service(context.content(), asked.aspects)
                dispatcher.utter_message(text=text, buttons=buttons)
                return []
            extra = handoff_extra(tracker, dt.datetime.now()) if intent == "request_human" else ""
            if not utter_service(dispatcher, intent, extra):
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
            asked = aspects_mod.service_question(tracker, context.content())
            if asked is not None:  # "要钱吗" right after a service answer, not understood alone
                return utter_aspects(dispatcher, tracker, asked)
            if not utter_service(dispatcher, "out_of_scope"):
                dispatcher.utter_message(text=STORE_DOWN)
        except ContentUnavailable:
            dispatcher.utter_message(text=STORE_DOWN)
        return []
