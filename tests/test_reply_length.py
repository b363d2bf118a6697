"""No first reply to a resident is longer than 400 characters (issue 13 §4).

Walks every intent the rules answer (domain responses and custom actions, run as the action
server runs them: a Tracker in, a CollectingDispatcher out, a form's first question included) and
every article (the legal-question action's first reply for it). A reply's length is the text of
all its messages, whitespace not counted; buttons are separate. Exempt: the full text on request
(完整说明, 查看完整解答, 查看法条原文) and emergencies, which must never be cut.
"""
from __future__ import annotations

import asyncio
import inspect
import pytest
import yaml
from rasa_sdk import Action
from rasa_sdk.executor import CollectingDispatcher

from tests.conftest import ROOT
from tests.helpers import tracker

LIMIT = 400
EXEMPT_INTENTS = {"emergency", "show_article"}  # danger first and whole; the full text was asked for
# Intents sent only as button payloads with entities that pick the full text or a specific entry.
NEEDS_ENTITIES = {"share_location", "feedback_helpful", "feedback_unhelpful", "ask_service_aspect"}


def _length(messages: list[dict]) -> int:
    return sum(len("".join((m.get("text") or "").split())) for m in messages)


def _yaml_dir(folder: str) -> list[dict]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) or {} for p in sorted((ROOT / folder).glob("*.yml"))]


def _domain() -> dict:
    merged: dict = {"responses": {}, "forms": {}}
    for part in _yaml_dir("domain"):
        merged["responses"].update(part.get("responses") or {})
        merged["forms"].update(part.get("forms") or {})
    return merged


def _first_replies() -> dict[str, list[str]]:
    """intent → the actions that answer it, from the unconditional rules."""
    out: dict[str, list[str]] = {}
    for part in _yaml_dir("stories"):
        for rule in part.get("rules") or []:
            steps = rule.get("steps") or []
            if rule.get("condition") or not steps or "intent" not in steps[0] or steps[0].get("entities"):
                continue
            out.setdefault(steps[0]["intent"], [s["action"] for s in steps[1:] if "action" in s])
    return out


def _actions() -> dict[str, Action]:
    import importlib
    import pkgutil

    import actions

    for module in pkgutil.iter_modules(actions.__path__):  # every module, so every action is found
        importlib.import_module(f"actions.{module.name}")

    found: dict[str, Action] = {}
    stack = list(Action.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if not inspect.isabstract(cls) and cls.__module__.startswith("actions."):
            try:
                found[cls().name()] = cls()
            except TypeError:
                continue
    return found


def _run(action: Action, t) -> list[dict]:
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, t, {}))
    return dispatcher.messages


def _reply(intent: str, steps: list[str], domain: dict, actions: dict[str, Action], text: str = "问一下") -> list[dict]:
    messages: list[dict] = []
    t = tracker(text, intent)
    for name in steps:
        if name in domain["forms"]:  # a form's first question
            slot = domain["forms"][name]["required_slots"][0]
            name = f"action_ask_{slot}" if f"action_ask_{slot}" in actions else f"utter_ask_{slot}"
        if name.startswith("utter_"):
            messages += [{"text": r.get("text")} for r in domain["responses"][name][:1]]
        elif name in actions:
            messages += _run(actions[name], t)
        else:
            pytest.fail(f"{intent}: no action or response named {name}")
    return messages


def test_every_intent_first_reply_is_short(published):
    domain, actions, rules = _domain(), _actions(), _first_replies()
    assert len(rules) >= 20, "the rules were not read"
    too_long = {}
    for intent, steps in sorted(rules.items()):
        if intent in EXEMPT_INTENTS or intent in NEEDS_ENTITIES:
            continue
        n = _length(_reply(intent, steps, domain, actions))
        if n > LIMIT:
            too_long[intent] = n
    assert too_long == {}


@pytest.mark.parametrize("aspect", ["what", "who", "fee", "materials", "where", "how", "time", "hours", "remedy"])
def test_every_aspect_button_reply_is_short(published, aspect):
    from actions import context
    from actions.services import ActionAnswerService

    for service in context.content().services():
        if not service.get("aspects"):
            continue
        entities = [{"entity": "service", "value": service["id"]}, {"entity": "aspect", "value": aspect}]
        messages = _run(ActionAnswerService(), tracker("/ask_service_aspect", "ask_service_aspect", entities))
        assert _length(messages) <= LIMIT, (service["id"], aspect)


@pytest.mark.parametrize("slots", [
    {"aid_matter": m, "aid_exemption": e, "aid_hardship": h}
    for m, e, h in [("家暴虐待遗弃", "no", "no"), ("其他事项", "no", "yes"), ("人身损害赔偿", "no", "no"),
                    ("进城务工讨薪工伤", "no", "migrant"), ("其他事项", "no", "unsure")]
])
def test_legal_aid_self_check_result_is_short(published, slots):
    from actions.legal_aid import ActionLegalAidResult

    assert _length(_run(ActionLegalAidResult(), tracker("x", "inform", slots=slots))) <= LIMIT


def test_every_article_first_reply_is_short(published):
    from actions import context
    from actions.legal import ActionAnswerLegalQuestion
    from miyun.knowledge import answers

    articles = context.content().articles()
    assert articles
    too_long = {}
    for article in articles:
        short = _length([{"text": answers.article_text(article, full=False)}])
        asked = _length(_run(ActionAnswerLegalQuestion(), tracker(article["questions"][0], "ask_legal_question")))
        if max(short, asked) > LIMIT:
            too_long[article["id"]] = max(short, asked)
    assert too_long == {}


def test_the_measure_counts_what_residents_read():
    assert _length([{"text": "字" * LIMIT}, {"text": " \n字"}]) == LIMIT + 1
