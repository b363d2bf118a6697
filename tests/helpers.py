"""Build rasa-sdk Trackers the way the action server receives them."""
from __future__ import annotations

import asyncio
from typing import Any, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher


def tracker(
    text: str,
    intent: str,
    entities: Optional[list[dict]] = None,
    sender: str = "test-user",
    slots: Optional[dict] = None,
    events: Optional[list[dict]] = None,
    active_loop: Optional[dict] = None,
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
        "entities": entities or [],
    }
    return Tracker(sender, slots or {}, latest, events or [], False, None, active_loop or {}, "action_listen")


def run(action: Any, t: Tracker, domain: Optional[dict] = None) -> tuple[CollectingDispatcher, list[dict]]:
    """Run an action; returns the dispatcher (its messages) and the events."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, domain or {}))
    return dispatcher, events


def texts(dispatcher: CollectingDispatcher) -> list[str]:
    return [m.get("text") or "" for m in dispatcher.messages]


def buttons(dispatcher: CollectingDispatcher) -> list[dict]:
    return [b for m in dispatcher.messages for b in m.get("buttons") or []]


def force_clarify(monkeypatch: Any) -> None:
    """Thresholds that make any two close candidates a clarifying question (the decision itself is
    tested in test_matcher.py; callers test how the action handles it)."""
    from miyun.knowledge import matcher

    params = matcher.Parameters.load()
    forced = matcher.Parameters(params.weights, params.bias, answer_at=0.99, clarify_at=0.0, close_ratio=0.0)
    monkeypatch.setattr(matcher.Parameters, "load", classmethod(lambda cls: forced))
