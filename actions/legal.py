"""Everyday legal questions, answered from curated, cited articles — or honestly not at all."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import aspects, context
from actions.feedback import feedback_buttons
from actions.services import STORE_DOWN, utter_aspects
from actions.statutes import statute_button, statute_tier
from miyun.knowledge import answers, matcher
from miyun.knowledge.store import ContentUnavailable

NO_CONFIDENT_ANSWER = (
    "这个问题我没有找到有把握的答案，不想给您说错。建议您：\n"
    + answers.NEXT_STEPS_TEXT
    + "\n您的问题已记录，工作人员会据此补充资料。"
)


def article_button(article: dict) -> Dict[str, str]:
    return {"title": article["title"], "payload": "/show_article" + json.dumps({"article_id": article["id"]}, ensure_ascii=False)}


NEITHER = {"title": "都不是，问12348", "payload": "/ask_hotline"}
NOT_THIS = {"title": "不是这个，问12348", "payload": "/ask_hotline"}
# Where a resident without a confident answer can go next (after the statute quote or the fallback).
NEXT_STEPS = [
    {"title": "法律援助怎么申请", "payload": "/ask_legal_aid"},
    {"title": "找附近的服务站", "payload": "/find_service_station"},
]


class ActionAnswerLegalQuestion(Action):
    """Match the articles: answer with the best one, ask which of two (or of the likely three) is meant, or log the question and say so."""

    def name(self) -> Text:
        return "action_answer_legal_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        question = tracker.latest_message.get("text") or ""
        try:
            result = matcher.match(context.content(), question)
        except ContentUnavailable:
            dispatcher.utter_message(text=STORE_DOWN)
            return []
        # "多久能办下来" right after a service answer, "调解员偏袒找谁说理"; one of a service's own facts
        # ("法援的官司诉讼费还用交吗") even over an article that looks sure.
        asked = aspects.service_question(tracker, context.content())
        if asked is not None and (asked.fact is not None or result.decision != matcher.ANSWER):
            return utter_aspects(dispatcher, tracker, asked)
        # A short question one service's fact clearly answers ("交警当场罚款不服能直接去法院告吗"), where no
        # article is sure: the fact, not a choice between articles. Of the 642 calibration questions one
        # clears this bar (actions.aspects.UNNAMED_AT), and its article was sure, so it is unchanged.
        if result.decision in (matcher.CLARIFY, matcher.SUGGEST, matcher.FALLBACK) or result.best is None:
            unnamed = aspects.unnamed_fact(tracker, context.content())
            if unnamed is not None:
                return utter_aspects(dispatcher, tracker, unnamed)
        if result.decision == matcher.CLARIFY:
            first, second = result.options
            dispatcher.utter_message(
                text=answers.clarifying_question(first.article, second.article),
                buttons=[article_button(first.article), article_button(second.article), NEITHER],
            )
            return []
        if result.decision == matcher.SUGGEST:
            # Staff still see the question: no single article was sure enough for it.
            context.runtime().log_unanswered(question, result.query, context.sender_hash(tracker.sender_id),
                                             result.best.id, round(result.confidence, 4))
            options = [c.article for c in result.options]
            dispatcher.utter_message(text=answers.suggestion_question(options),
                                     buttons=[article_button(a) for a in options] + [NEITHER])
            return []
        if result.decision == matcher.FALLBACK or result.best is None:
            best = result.best
            # The long tail: quote the statute itself when it clearly fits; staff still see the question.
            served = statute_tier(dispatcher, tracker, question, NEXT_STEPS)
            context.runtime().log_unanswered(
                question, result.query, context.sender_hash(tracker.sender_id),
                served[0] if served else (best.article["id"] if best else None),
                round(served[1] if served else result.confidence, 4),
            )
            if served:
                return []
            maybe = [article_button(c.article) for c in result.related(limit=2, include_best=True)]
            dispatcher.utter_message(
                text=NO_CONFIDENT_ANSWER + ("\n下面的解答可能有关，仅供参考：" if maybe else ""),
                buttons=maybe + NEXT_STEPS,
            )
            return []
        article = result.best.article
        likely = result.decision == matcher.LIKELY
        if likely:  # staff still see the question: the article may need the resident's wording
            context.runtime().log_unanswered(question, result.query, context.sender_hash(tracker.sender_id),
                                             article["id"], round(result.confidence, 4))
        buttons = [{"title": "查看完整解答", "payload": "/show_article" + json.dumps({"article_id": article["id"]})}]
        buttons += statute_button(article)
        buttons += [article_button(c.article) for c in result.related()]
        buttons += [NOT_THIS] if likely else []
        buttons += feedback_buttons(article["id"])
        text = answers.likely_text(article) if likely else answers.article_text(article, full=False)
        dispatcher.utter_message(text=text, buttons=buttons)
        return [SlotSet(aspects.SLOT, None)]  # a new topic: a follow-up is no longer about the service


class ActionShowArticle(Action):
    """The full text of one article, from a button."""

    def name(self) -> Text:
        return "action_show_article"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        ident = context.latest_entity(tracker, "article_id")
        try:
            article = context.content().article(ident) if ident else None
        except ContentUnavailable:
            dispatcher.utter_message(text=STORE_DOWN)
            return []
        if article is None:
            dispatcher.utter_message(text="这篇解答已更新或下线了，请重新描述您的问题，或拨打12348咨询。")
            return []
        dispatcher.utter_message(text=answers.article_text(article, full=True), buttons=statute_button(article) + feedback_buttons(article["id"]))
        return []
