"""Referral status: public reference plus the phone's last four digits.

Two limits: 5 checks an hour per sender, and a lock on the reference after too many failed checks
from anyone (fresh web sessions cost nothing, so the per-sender limit alone does not stop guessing).
A locked reference answers only "请拨打12348"; staff unlock it in the console (audited).
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import context
from actions.referral import referral_config
from actions.services import answered_instead
from miyun.knowledge.store import ContentUnavailable
from miyun.referrals import rules as referrals

ATTEMPTS_PER_HOUR = 5
# Services whose applications this assistant takes and can look up; a question naming another one
# ("复议机关不受理我的申请，咋办") is about that service, not about a reference number.
TRACKED_SERVICES = ("mediation", "mediation_apply", "referral_status", "hotline")
NO_MATCH = "没有找到与这个编号和手机号后4位相匹配的申请。请核对后再试，或拨打12348公共法律服务热线查询。"
LOCKED = ("为了保护申请人的信息，这个编号多次核对不成功，已暂停在线查询。"
          "请拨打12348公共法律服务热线，由工作人员核实后为您查询。")
TOO_MANY = "查询次数太多了，为了保护申请人的信息，请一小时后再试，或拨打12348公共法律服务热线查询。"


def attempts_left(sender_hash: str, now: float) -> int:
    return ATTEMPTS_PER_HOUR - context.runtime().count_status_attempts(sender_hash, now - 3600)


class ActionStartStatus(Action):
    """Begin a status check, keeping a reference number the first message already gave."""

    def name(self) -> Text:
        return "action_start_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        ref = referrals.clean_reference(tracker.latest_message.get("text") or "")
        if not ref:
            try:
                instead = answered_instead(dispatcher, tracker, lambda asked: asked.service["id"] not in TRACKED_SERVICES)
            except ContentUnavailable:
                instead = None
            if instead is not None:
                return instead
        return [SlotSet("status_ref", ref), SlotSet("status_tail", None)]


class ValidateStatusForm(FormValidationAction):
    """The reference number and the last four phone digits, in their written forms."""

    def name(self) -> Text:
        return "validate_status_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Text]:
        # A sender out of attempts is asked nothing; the check action then says why.
        if attempts_left(context.sender_hash(tracker.sender_id) or "anonymous", time.time()) <= 0:
            return []
        return domain_slots

    @context.ignore_empty
    def validate_status_ref(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        ref = referrals.clean_reference(str(value or ""))
        if not ref:
            dispatcher.utter_message(text="编号的格式是 MY-年份-6位数字-4位字母或数字，例如 MY-2026-000123-K7QX。")
        return {"status_ref": ref}

    @context.ignore_empty
    def validate_status_tail(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        tail = referrals.clean_tail(str(value or ""))
        if not tail:
            dispatcher.utter_message(text="请输入登记手机号的最后4位数字。")
        return {"status_tail": tail}


class ActionCheckStatus(Action):
    """Show the public status only when number and phone tail match; say nothing else otherwise."""

    def name(self) -> Text:
        return "action_check_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        reset = [SlotSet("status_ref", None), SlotSet("status_tail", None)]
        who = context.sender_hash(tracker.sender_id) or "anonymous"
        now = time.time()
        runtime = context.runtime()
        if attempts_left(who, now) <= 0:
            dispatcher.utter_message(text=TOO_MANY)
            return reset
        runtime.record_status_attempt(who, now)
        ref = referrals.clean_reference(str(tracker.get_slot("status_ref") or ""))
        tail = tracker.get_slot("status_tail")
        if not ref or not tail:
            dispatcher.utter_message(text=NO_MATCH)
            return reset
        # Locks and failures count per staff sequence, so guessing check codes does not dodge them.
        sequence, check = referrals.split_reference(ref)
        if runtime.status_locked(sequence):
            dispatcher.utter_message(text=LOCKED)
            return reset
        row = runtime.referral(sequence)
        if (not row or not row.get("phone") or not referrals.reference_matches(row, check)
                or not referrals.tails_match(row["phone"], tail)):
            cfg = context.settings()
            locked = runtime.record_status_failure(sequence, now, cfg.status_lock_window_h * 3600, cfg.status_lock_failures)
            dispatcher.utter_message(text=LOCKED if locked else NO_MATCH)
            return reset
        try:
            statuses = referral_config().get("statuses") or {}
        except ContentUnavailable:
            statuses = {}
        public = statuses.get(row["status"], row["status"])
        dispatcher.utter_message(text=f"编号 {referrals.public_reference(row)}：{public}\n最近更新：{row['updated_at'][:16].replace('T', ' ')}")
        return reset
