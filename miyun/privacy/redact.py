"""What a finished flow leaves in Rasa's conversation history, and what it must not.

Rasa keeps every user message and slot event. Once a referral or callback is saved, cancelled or
declined (or a status check has answered), the personal fields are blanked in the stored events:
the flow's personal slot values, every user message typed during the flow (text, parse_data text and
entities; the intent stays, so the dashboard still counts it) and the bot's echo of them (the summary).

Pure functions over Rasa's event dicts (`event.as_dict()`), so the tracker store
(`miyun.privacy.tracker_store`) and the tests share them. THE one list of personal slots is `FLOWS`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterable, Optional

REDACTED = "[已删除]"


@dataclass(frozen=True)
class Flow:
    """A resident flow that collects personal data: it opens with one of `start` and closes with one of `end`."""

    name: str
    start: frozenset[str]
    end: frozenset[str]
    slots: frozenset[str]          # slots whose values are personal (raw extractions included)
    echoes: frozenset[str]         # actions whose bot messages repeat what the resident typed


# Every personal slot, in one place. Referral and callback forms (domain/flows.yml): everything the
# resident typed, because a from_text slot first holds the raw message (e.g. a story typed as the
# dispute type) before validation cleans it; consent, kind and key are not personal.
REFERRAL_SLOTS = frozenset({"dispute_type", "town", "village", "description", "involvement", "name", "phone",
                            "contact_time", "confirm"})
STATUS_SLOTS = frozenset({"status_ref", "status_tail"})   # the reference and phone tail are the credentials
AID_SLOTS = frozenset({"aid_matter", "aid_exemption", "aid_hardship"})  # the legal-aid self-check: hardship is sensitive
# The fill-in documents (domain/documents.yml): every answer, and the collected values, are the resident's own words.
DOCUMENT_SLOTS = frozenset({"doc_answer", "doc_values", "doc_confirm", "doc_field", "doc_fixing"})
FLOWS = (
    Flow("referral", frozenset({"action_start_referral", "action_start_callback"}),
         frozenset({"action_submit_referral", "action_referral_cancelled"}), REFERRAL_SLOTS,
         frozenset({"action_ask_confirm"})),
    Flow("status", frozenset({"action_start_status"}), frozenset({"action_check_status", "action_referral_cancelled"}),
         STATUS_SLOTS, frozenset()),
    # The form action itself opens it (no start action); cancelling says "没有保存任何信息" too.
    Flow("legal_aid", frozenset({"legal_aid_form"}), frozenset({"action_legal_aid_result", "action_referral_cancelled"}),
         AID_SLOTS, frozenset()),
    Flow("document", frozenset({"action_start_document"}), frozenset({"action_make_document", "action_document_cancelled"}),
         DOCUMENT_SLOTS, frozenset({"action_ask_doc_confirm"})),
)
END_ACTIONS = frozenset().union(*(f.end for f in FLOWS))


def _is_action(event: dict, names: Iterable[str]) -> bool:
    return event.get("event") == "action" and event.get("name") in names


def closed_spans(events: list[dict]) -> list[tuple[Flow, int, int]]:
    """(flow, first index, last index) of every finished flow; a flow starts at the message that opened it."""
    spans: list[tuple[Flow, int, int]] = []
    last_user: Optional[int] = None
    open_at: dict[str, int] = {}
    for i, event in enumerate(events):
        if event.get("event") == "user":
            last_user = i
        for flow in FLOWS:
            if _is_action(event, flow.start) and flow.name not in open_at:
                open_at[flow.name] = last_user if last_user is not None else i
            elif _is_action(event, flow.end) and flow.name in open_at:
                spans.append((flow, open_at.pop(flow.name), i))
    return spans


def closes_a_flow(events: list[dict]) -> bool:
    """True when the events of this turn (after its user message) include the end of a flow."""
    for event in reversed(events):
        if event.get("event") == "user":
            return False
        if _is_action(event, END_ACTIONS):
            return True
    return False


def _personal_values(events: list[dict], flow: Flow) -> set[str]:
    values = set()
    for event in events:
        if event.get("event") == "slot" and event.get("name") in flow.slots and isinstance(event.get("value"), str):
            value = event["value"].strip()
            if len(value) >= 2 and value != REDACTED:
                values.add(value)
    return values


def _redact_user(event: dict) -> dict:
    out = copy.deepcopy(event)
    out["text"] = REDACTED
    parse = out.get("parse_data")
    if isinstance(parse, dict):
        parse["text"] = REDACTED
        parse["entities"] = []
    return out


def redact_events(events: list[dict]) -> dict[int, dict]:
    """{index: redacted event} for every stored event of a finished flow that still holds personal data."""
    changes: dict[int, dict] = {}
    for flow, first, last in closed_spans(events):
        span = events[first:last + 1]
        values = _personal_values(span, flow)
        echo = False
        for offset, event in enumerate(span):
            i, kind = first + offset, event.get("event")
            new: Optional[dict] = None
            if kind == "user":
                echo = False
                if event.get("text") != REDACTED:
                    new = _redact_user(event)
            elif kind == "action":
                echo = event.get("name") in flow.echoes
            elif kind == "slot" and event.get("name") in flow.slots and event.get("value") not in (None, REDACTED):
                new = {**event, "value": REDACTED}
            elif kind == "bot" and isinstance(event.get("text"), str) and event["text"] != REDACTED:
                if echo or any(v in event["text"] for v in values):
                    new = {**event, "text": REDACTED}
            if new is not None:
                changes[i] = new
    return changes


def holds(events: list[dict], needle: str) -> list[int]:
    """Indexes of events whose JSON-decoded content contains `needle` (tests and the retention report)."""
    def walk(value: Any) -> bool:
        if isinstance(value, str):
            return needle in value
        if isinstance(value, dict):
            return any(walk(v) for v in value.values())
        if isinstance(value, list):
            return any(walk(v) for v in value)
        return False

    return [i for i, e in enumerate(events) if walk(e)]
