"""Which service and which aspect of it a message asks about, and the short reply that answers it.

The service: a button's payload names it; else a service named in the message (a new topic
replaces the old one); else, for a follow-up that names none ("那要带什么材料？"), the one
answered last (slot `current_service`); else the service of the intent the NLU chose.
A typed message may also ask one of the service's more facts ("调解协议什么时候生效"); when it
clearly does (miyun.knowledge.more_facts), that fact leads the reply.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from actions import context
from actions.feedback import feedback_buttons
from actions.statute_text import statute_button
from miyun.knowledge import answers, more_facts
from miyun.knowledge.aspects import ASPECTS, FULL, Table
from miyun.knowledge.store import ContentStore
from miyun.text import normalize

ASPECT_INTENT = "ask_service_aspect"
OUT_OF_SCOPE = "out_of_scope"
SLOT = "current_service"
# A follow-up that reaches the legal-question search or the fallback is treated as one when it
# is this short: a long message is a new story, not "and what does it cost?".
FOLLOW_UP_MAX_CHARS = 14
# A message that names a service and asks one of its aspects is about the service up to this length.
NAMED_MAX_CHARS = 30
# A fact asked without naming its service ("没写协议书，口头说好的算不算") is answered only when the
# article matcher has nothing and one service's fact stands out this clearly. Chosen on the
# calibration sets: 2 of their 573 questions clear it, both short, neither a story.
UNNAMED_AT = 0.45
UNNAMED_MARGIN = 0.15
WHICH_SERVICE = "您问的是哪一项服务？请点选："
# Next steps that belong to one aspect of one service.
NEXT_STEPS: Dict[tuple, List[Dict[str, str]]] = {
    ("legal_aid", "summary"): [{"title": "测一测我能否申请", "payload": "/legal_aid_precheck"}],
    ("legal_aid", "who"): [{"title": "测一测我能否申请", "payload": "/legal_aid_precheck"}],
    ("mediation", "summary"): [{"title": "我要申请调解", "payload": "/request_mediation"}],
    ("legal_aid", "where"): [{"title": "找附近的服务站", "payload": "/find_service_station"}],
    ("mediation", "how"): [{"title": "我要申请调解", "payload": "/request_mediation"}],
    ("mediation", "where"): [{"title": "找附近的服务站", "payload": "/find_service_station"}],
    ("mediation_apply", "how"): [{"title": "我要申请调解", "payload": "/request_mediation"}],
}


def payload(service: str, aspect: str) -> str:
    """A button payload Rasa parses into the intent and its two entities (compact: Telegram's 64 bytes)."""
    return f"/{ASPECT_INTENT}" + json.dumps({"service": service, "aspect": aspect}, separators=(",", ":"))


@dataclass
class Asked:
    service: Optional[dict]
    aspects: List[str] = field(default_factory=list)
    full: bool = False
    fact: Optional[dict] = None  # one of the service's more_facts, when the message asks it
    closest: Optional[dict] = None  # a fact it may ask, shown beside a summary (more_facts.CLOSEST_AT)


def fact_asked(service: Optional[dict], text: str, t: Table) -> more_facts.Match:
    """Which more fact of `service` the (normalised) message asks: `.fact` when clear, `.closest` when near."""
    return more_facts.best(service, text, t) if service and service.get("aspects") else more_facts.Match(None)


def table(store: ContentStore) -> Table:
    return Table.from_setting(store.aspect_table())


def resolve(tracker: Tracker, store: ContentStore, intent: str) -> Asked:
    """The service and aspects the latest message asks about."""
    t = table(store)
    asked_service = context.latest_entity(tracker, "service")
    asked_aspect = context.latest_entity(tracker, "aspect")
    if asked_service:  # a button: exact, no guessing
        service = store.service(asked_service)
        if asked_aspect == FULL:
            return Asked(service, [], full=True)
        return Asked(service, [asked_aspect] if asked_aspect in ASPECTS else [])
    text = normalize(tracker.latest_message.get("text") or "")
    named = t.topics_in(text)
    own = store.service_for_intent(intent) if intent != ASPECT_INTENT else None
    if own and not own.get("aspects") and intent != OUT_OF_SCOPE:
        return Asked(own)  # capabilities, a person, status: not a topic with aspects
    if own and intent == OUT_OF_SCOPE:
        own = None
    remembered = tracker.get_slot(SLOT)
    if intent == OUT_OF_SCOPE and not named:
        return follow_up(tracker, store) or Asked(store.service_for_intent(intent))
    if named:
        ident = own["id"] if own and own["id"] in named else named[0]
    elif own:
        ident = own["id"]
    else:
        ident = remembered
    service = store.service(ident) if ident else None
    found = fact_asked(service, text, t)
    return Asked(service, t.aspects_in(text, service["id"] if service else None), fact=found.fact, closest=found.closest)


def service_question(tracker: Tracker, store: ContentStore, follow_ups: bool = True) -> Optional[Asked]:
    """A service's aspect asked in a message the NLU sent elsewhere: the service it names, else (when
    `follow_ups`) a follow-up about the service answered last.

    "调解员偏袒一方找谁说理" names 调解 and asks the remedy; a long message naming a service is a
    story about a dispute, not a question about the service, and is left to the legal search."""
    text = normalize(tracker.latest_message.get("text") or "")
    t = table(store)
    named = t.topics_in(text)
    if not named:
        return follow_up(tracker, store) if follow_ups else None
    if len(re.sub(r"\W", "", text)) > NAMED_MAX_CHARS:
        return None
    service = store.service(named[0])
    keys = t.aspects_in(text, named[0]) if service and service.get("aspects") else []
    found = fact_asked(service, text, t)
    return Asked(service, keys, fact=found.fact, closest=found.closest) if keys or found.fact else None


def unnamed_fact(tracker: Tracker, store: ContentStore) -> Optional[Asked]:
    """The one service fact a short message clearly asks although it names no service."""
    text = normalize(tracker.latest_message.get("text") or "")
    t = table(store)
    if t.topics_in(text) or len(re.sub(r"\W", "", text)) > NAMED_MAX_CHARS:
        return None
    found = sorted(((more_facts.best(s, text, t), s) for s in store.services() if s.get("aspects") and s.get("more_facts")),
                   key=lambda pair: -pair[0].score)
    if not found or found[0][0].fact is None:
        return None
    runner_up = found[1][0].score if len(found) > 1 else 0.0
    if found[0][0].score < UNNAMED_AT or found[0][0].score - runner_up < UNNAMED_MARGIN:
        return None
    return Asked(found[0][1], [], fact=found[0][0].fact)


def follow_up(tracker: Tracker, store: ContentStore) -> Optional[Asked]:
    """A short aspect-only message that reached another action, about the service answered last."""
    remembered = tracker.get_slot(SLOT)
    text = normalize(tracker.latest_message.get("text") or "")
    if not remembered or len(re.sub(r"\W", "", text)) > FOLLOW_UP_MAX_CHARS:
        return None
    t = table(store)
    if t.topics_in(text):
        return None
    keys = t.aspects_in(text, remembered)
    service = store.service(remembered)
    found = fact_asked(service, text, t)
    return Asked(service, keys, fact=found.fact, closest=found.closest) if service and (keys or found.fact) else None


def buttons(t: Table, service: dict, asked: List[str]) -> List[Dict[str, str]]:
    """The other aspects, then the full entry (完整说明)."""
    skip = set(asked) | ({"what"} if not asked else set())
    out = [{"title": t.title(k), "payload": payload(service["id"], k)} for k in ASPECTS if k not in skip]
    return out + [{"title": t.title(FULL), "payload": payload(service["id"], FULL)}]


def reply(tracker: Tracker, store: ContentStore, asked: Asked, extra: str = "", town_line: str = "",
          follow_ups: Optional[List[Dict[str, str]]] = None) -> tuple[str, List[Dict[str, str]], List[Dict[str, Any]]]:
    """(text, buttons, events) for a service with aspects: the fact asked first (one of its more facts,
    else the aspects named), or a short summary."""
    service = asked.service
    t = table(store)
    in_form = bool(tracker.active_loop.get("name")) if isinstance(tracker.active_loop, dict) else False
    events = [SlotSet(SLOT, service["id"])]
    if asked.full:
        return answers.service_text(service), list(follow_ups or []) + feedback_buttons(service["id"]), events
    if asked.fact:
        lines = town_line if "where" in asked.aspects else ""
        text = answers.fact_text(service, asked.fact, asked.aspects, t.label, answers.compose(lines, extra))
        steps = [b for k in asked.aspects[:1] for b in NEXT_STEPS.get((service["id"], k), [])]
    elif asked.aspects:
        lines = town_line if "where" in asked.aspects else ""
        text = answers.aspect_text(service, asked.aspects, t.label, answers.compose(lines, extra))
        steps = [b for k in asked.aspects for b in NEXT_STEPS.get((service["id"], k), [])]
    else:
        text, steps = answers.summary_text(service, extra, asked.closest), NEXT_STEPS.get((service["id"], "summary"), [])
    # Mid-form, a button would be taken as the answer to the form's question: text only.
    # Drafting the service's document, and the law's own text, are next steps whatever fact was asked.
    drafts = [b for b in follow_ups or [] if b["payload"].startswith("/request_document")]
    found = [] if in_form else (steps + drafts + statute_button(service) + buttons(t, service, [] if asked.fact else asked.aspects)
                                + feedback_buttons(service["id"]))
    return text, found, events


def which_service(store: ContentStore, aspects: List[str]) -> tuple[str, List[Dict[str, str]]]:
    """No service named and none remembered: ask which one, with buttons that keep the aspect."""
    aspect = aspects[0] if aspects else "what"
    out = []
    for service in store.services():
        if service.get("aspects") and service["intent"] != "request_mediation":
            out.append({"title": service["title"], "payload": payload(service["id"], aspect)})
    return WHICH_SERVICE, out
