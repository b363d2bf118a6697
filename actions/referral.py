"""Mediation referral and callback request: consent, one question at a time, summary, save once."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import aspects, context
from actions.services import STORE_DOWN, answered_instead
from miyun.knowledge import answers
from miyun.knowledge.store import ContentUnavailable
from miyun.referrals import rules as referrals
from miyun.text import normalize

MEDIATION_SLOTS = ["dispute_type", "town", "village", "description", "involvement", "name", "phone", "contact_time"]
CALLBACK_SLOTS = ["name", "phone", "contact_time"]
FORM_SLOTS = ["consent", *MEDIATION_SLOTS, "confirm", "referral_key", "referral_kind"]
LABELS = {
    "dispute_type": "纠纷类型", "town": "镇街", "village": "村（社区）", "description": "经过",
    "involvement": "报警或起诉", "name": "称呼", "phone": "电话", "contact_time": "联系时间",
}
# Words residents use to say which field to correct.
FIELD_WORDS = {
    "phone": r"电话|手机|号码", "name": r"称呼|名字|姓", "description": r"经过|情况|事情|描述",
    "town": r"镇|街道|乡", "village": r"村|社区", "contact_time": r"时间", "dispute_type": r"类型|种类",
    "involvement": r"报警|起诉|法院",
}
GENERIC_REQUEST = re.compile(r"^(我)?(想|要|需要|申请|请求|找人|帮我)*(申请)?(调解|评理|说法评理|人民调解|说和|调和)+(一下)?(吧|吗|呢)?$")


def referral_config() -> dict:
    return context.content().setting("referrals") or {}


def _clear(slots: List[str]) -> List[Dict[Text, Any]]:
    return [SlotSet(s, None) for s in slots]


def prefill(text: str, town: Optional[str], config: dict) -> Dict[str, Any]:
    """Slots the first message already answers, e.g. 我和邻居在古北口因为宅基地吵架了."""
    values: Dict[str, Any] = {}
    dispute = referrals.classify_dispute(text, config.get("dispute_types") or [])
    if dispute and dispute != "其他":
        values["dispute_type"] = dispute
    if town:
        values["town"] = town
    compact = normalize(text).replace(" ", "")
    if len(compact) >= 12 and not GENERIC_REQUEST.match(compact):
        values["description"] = normalize(text)[:500]
    involvement = referrals.classify_involvement(text) if re.search(r"报警|派出所|法院|起诉", text) else None
    if involvement:
        values["involvement"] = involvement
    return values


class ActionStartReferral(Action):
    """Open a mediation referral: a fresh key, and whatever the first message already told us."""

    def name(self) -> Text:
        return "action_start_referral"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        try:
            config = referral_config()
            # "对方不愿意调解，能硬调吗" asks one of mediation's facts; the consent form would not answer it.
            instead = answered_instead(dispatcher, tracker, lambda asked: asked.fact is not None)
        except ContentUnavailable:
            dispatcher.utter_message(text=STORE_DOWN)
            return [ActiveLoop(None)]
        if instead is not None:
            return instead
        events = _clear(FORM_SLOTS) + [SlotSet("referral_kind", "mediation"), SlotSet("referral_key", uuid.uuid4().hex)]
        found = prefill(tracker.latest_message.get("text") or "", context.latest_entity(tracker, "town"), config)
        return events + [SlotSet(k, v) for k, v in found.items()]


class ActionStartCallback(Action):
    """Open a callback request: same consent and contact questions, stored as kind `callback`."""

    def name(self) -> Text:
        return "action_start_callback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        return _clear(FORM_SLOTS) + [SlotSet("referral_kind", "callback"), SlotSet("referral_key", uuid.uuid4().hex)]


# Aspects the form itself answers: asking how to apply for mediation is asking to apply.
FORM_ANSWERS = ("how", "what")


def asked_first(tracker: Tracker) -> Optional[str]:
    """The fact a request for mediation also asks ("想调解，上哪找调解委员会"), to say before the form."""
    if (tracker.latest_message.get("intent") or {}).get("name") != "request_mediation":
        return None
    store = context.content()
    service = store.service_for_intent("request_mediation")
    if not service or not service.get("aspects"):
        return None
    t = aspects.table(store)
    keys = [k for k in t.aspects_in(normalize(tracker.latest_message.get("text") or ""), service["id"]) if k not in FORM_ANSWERS]
    return answers.aspect_text(service, keys, t.label) if keys else None


class ActionAskConsent(Action):
    """The consent notice from content: what is collected, why, who sees it, how long."""

    def name(self) -> Text:
        return "action_ask_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        try:
            text = " ".join(referral_config()["consent"]["text"].split())
            lead = asked_first(tracker)
        except (ContentUnavailable, KeyError):
            dispatcher.utter_message(text=STORE_DOWN)
            return []
        if lead:
            dispatcher.utter_message(text=lead)
        dispatcher.utter_message(
            text=text, buttons=[{"title": "同意", "payload": "/affirm"}, {"title": "不同意", "payload": "/deny"}]
        )
        return []


def summary(tracker: Tracker) -> str:
    kind = tracker.get_slot("referral_kind")
    slots = MEDIATION_SLOTS if kind == "mediation" else CALLBACK_SLOTS
    lines = []
    for slot in slots:
        value = tracker.get_slot(slot)
        if slot == "involvement":
            value = referrals.INVOLVEMENT.get(value, value)
        if slot == "phone" and value:
            value = referrals.mask_phone(value)
        lines.append(f"{LABELS[slot]}：{value or '（未填）'}")
    return "\n".join(lines)


class ActionAskConfirm(Action):
    """Show the summary and ask to submit, correct one field, or cancel."""

    def name(self) -> Text:
        return "action_ask_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        title = "请核对您的调解申请：" if tracker.get_slot("referral_kind") == "mediation" else "请核对回电请求："
        dispatcher.utter_message(
            text=f"{title}\n{summary(tracker)}\n确认无误请点“确认提交”；要修改某一项，请回复如“改电话”“改经过”；不办了请回复“取消”。",
            buttons=[{"title": "确认提交", "payload": "确认提交"}, {"title": "取消", "payload": "/cancel"}],
        )
        return []


class ReferralValidators:
    """Validators shared by the mediation and callback forms (a mixin, so rasa-sdk does not register it)."""

    def _intent(self, tracker: Tracker) -> str:
        return (tracker.latest_message.get("intent") or {}).get("name") or ""

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Text]:
        # Declining consent ends the form at once; nothing else is asked.
        if tracker.get_slot("consent") is False:
            return ["consent"]
        return domain_slots

    @context.ignore_empty
    def validate_consent(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        if value in (True, False):
            return {"consent": value}
        dispatcher.utter_message(text="请点“同意”或“不同意”，也可以直接回复“同意”。")
        return {"consent": None}

    @context.ignore_empty
    def validate_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        name = referrals.clean_name(str(value or ""))
        if not name:
            dispatcher.utter_message(text="没太看明白，告诉我您的姓就可以，例如：王。")
        return {"name": name}

    @context.ignore_empty
    def validate_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        phone = referrals.clean_phone(str(value or ""))
        if not phone:
            dispatcher.utter_message(
                text="这个号码好像不对。请填11位手机号（如 13912345678）或010开头的座机（如 010-69041234）。"
            )
        return {"phone": phone}

    @context.ignore_empty
    def validate_contact_time(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        text = normalize(str(value or ""))[:50]
        return {"contact_time": text or None}

    @context.ignore_empty
    def validate_confirm(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        text = normalize(str(value or ""))
        for slot, pattern in FIELD_WORDS.items():
            if re.search(r"改|修改|更正|错了|不对", text) and re.search(pattern, text):
                if slot in (MEDIATION_SLOTS if tracker.get_slot("referral_kind") == "mediation" else CALLBACK_SLOTS):
                    dispatcher.utter_message(text=f"好的，重新填写{LABELS[slot]}。")
                    return {"confirm": None, slot: None}
        if self._intent(tracker) == "affirm" or re.search(r"确认|提交|没问题|对的|是的|可以|好的", text):
            return {"confirm": "yes"}
        dispatcher.utter_message(text="请点“确认提交”，或回复要修改的项目（如“改电话”），或回复“取消”。")
        return {"confirm": None}


class ValidateMediationForm(ReferralValidators, FormValidationAction):
    """Validate each answer of the mediation referral."""

    def name(self) -> Text:
        return "validate_mediation_form"

    @context.ignore_empty
    def validate_dispute_type(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        kind = referrals.classify_dispute(str(value or ""), referral_config().get("dispute_types") or [])
        if not kind:
            dispatcher.utter_message(text="请从按钮里选一类；分不清就选“其他”。")
        return {"dispute_type": kind}

    @context.ignore_empty
    def validate_town(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        from miyun.knowledge.content import TOWNS

        town = value if value in TOWNS else None
        if not town:
            dispatcher.utter_message(text="没找到这个镇街。密云的镇街有：" + "、".join(TOWNS) + "。请选一个。")
        return {"town": town}

    @context.ignore_empty
    def validate_village(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        text = normalize(str(value or ""))[:50]
        return {"village": text or None}

    @context.ignore_empty
    def validate_description(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        text = normalize(str(value or ""))
        if len(text) < 4:
            dispatcher.utter_message(text="请多说几句，比如和谁、因为什么闹矛盾。")
            return {"description": None}
        return {"description": text[:500]}

    @context.ignore_empty
    def validate_involvement(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        involvement = referrals.classify_involvement(str(value or ""))
        if involvement is None and self._intent(tracker) == "deny":
            involvement = "none"
        if involvement is None:
            dispatcher.utter_message(text="请选：都没有、已经报警，或已经起诉到法院。")
        return {"involvement": involvement}


class ValidateCallbackForm(ReferralValidators, FormValidationAction):
    """Validate each answer of a callback request."""

    def name(self) -> Text:
        return "validate_callback_form"


class ActionSubmitReferral(Action):
    """Save a confirmed referral once per conversation, route it, and tell the resident what happens next."""

    def name(self) -> Text:
        return "action_submit_referral"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        reset = _clear(FORM_SLOTS)
        try:
            config = referral_config()
        except ContentUnavailable:
            dispatcher.utter_message(text=STORE_DOWN)
            return reset
        if tracker.get_slot("consent") is False:
            dispatcher.utter_message(text=" ".join(config["consent"]["declined"].split()))
            return reset
        if tracker.get_slot("confirm") != "yes" or not tracker.get_slot("referral_key"):
            dispatcher.utter_message(text="申请没有提交，也没有保存任何信息。需要时可以随时重新申请，或拨打12348。")
            return reset
        kind = tracker.get_slot("referral_kind") or "mediation"
        fields = {slot: tracker.get_slot(slot) for slot in (MEDIATION_SLOTS if kind == "mediation" else CALLBACK_SLOTS)}
        if kind == "mediation":
            r = referrals.route(config.get("rules") or [], fields)
        else:
            r = referrals.Route("town", "12348公共法律服务热线或所在镇街司法所", "工作人员会按您留的时间回电。")
        row, _created = context.runtime().create_referral(
            tracker.get_slot("referral_key"),
            {**fields, "kind": kind, "level": r.level, "target": r.target,
             "sender_hash": context.sender_hash(tracker.sender_id), "channel": (tracker.sender_id or "").split(":")[0] or None},
            dt.date.today().year,
        )
        contact = config.get("contact") or {}
        expected = contact.get("expected_time")
        when = f"预计{expected}内联系您。" if expected else "联系时间目前还没有统一标准（正在核实），如一直没人联系，请拨打12348询问。"
        dispatcher.utter_message(
            text=(
                f"已收到您的{'调解申请' if kind == 'mediation' else '回电请求'}，编号：{referrals.public_reference(row)}\n"
                f"{r.message}\n"
                f"将由{contact.get('who') or '工作人员'}联系您。{when}\n"
                f"查询进度：发“查询调解进度”，再提供完整编号（含最后4位字母或数字）和手机号后4位。请保存好编号。"
            )
        )
        return reset


class ActionReferralCancelled(Action):
    """A flow was cancelled: nothing saved, and where to go instead."""

    def name(self) -> Text:
        return "action_referral_cancelled"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text="好的，已取消，没有保存任何信息。需要时可以随时再来，或拨打12348公共法律服务热线。")
        return _clear(FORM_SLOTS + ["status_ref", "status_tail", "aid_matter", "aid_exemption", "aid_hardship"])
