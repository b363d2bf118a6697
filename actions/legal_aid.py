"""Legal-aid pre-check under the 法律援助法: scope (Art. 31, 24–25), exemptions (Art. 32), hardship,
and the groups whose hardship is not checked (Art. 42: e.g. migrant workers claiming wages)."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import context
from miyun.knowledge import answers
from miyun.knowledge.store import ContentUnavailable
from miyun.text import normalize

# Matters a resident can pick; `in_scope` follows Art. 31 (civil/administrative) and Art. 24–25 (criminal).
MATTERS = {
    "讨要工资工伤赔偿": ("labour", True),
    # Art. 42(3): 进城务工人员 claiming wages or work-injury damages: hardship is not checked, given proof.
    "进城务工讨薪工伤": ("migrant_labour", True), "赡养抚养扶养费": ("support", True), "家暴虐待遗弃": ("abuse", True),
    "人身损害赔偿": ("injury", True), "社保低保抚恤金": ("welfare", True), "刑事辩护": ("criminal", True),
    "其他事项": ("other", None),
}
MIGRANT = r"农民工|进城务工|外出务工|务工人员|打工的|打工人"
KEYWORDS = [
    (rf"({MIGRANT}).*(工资|工钱|工伤|劳动报酬|欠薪|讨薪)|(工资|工钱|工伤|劳动报酬|欠薪|讨薪).*({MIGRANT})", "进城务工讨薪工伤"),
    (r"工资|工伤|劳动报酬|欠薪", "讨要工资工伤赔偿"), (r"赡养|抚养|扶养", "赡养抚养扶养费"),
    (r"家暴|虐待|遗弃", "家暴虐待遗弃"), (r"交通|医疗|人身|受伤|损害", "人身损害赔偿"),
    (r"社保|社会保险|低保|抚恤", "社保低保抚恤金"), (r"刑事|辩护|犯罪|被抓|拘留", "刑事辩护"), (r"其他|别的|都不是", "其他事项"),
]
# Used when content/settings.yml has no `waived` text (Art. 42(3), read against the law text).
WAIVED = (
    "根据您的回答：进城务工人员申请支付劳动报酬或者请求工伤事故人身损害赔偿，有材料证明的，"
    "免予核查经济困难状况（法律援助法第42条），可以直接申请；请带上能证明务工和欠薪或工伤的材料。"
)
# The pre-check's first step (action_ask_aid_matter): a button per matter, payload = the MATTERS key.
MATTER_BUTTONS = [
    ("农民工讨薪/工伤赔偿", "进城务工讨薪工伤"), ("讨要工资/工伤赔偿", "讨要工资工伤赔偿"), ("赡养费/抚养费/扶养费", "赡养抚养扶养费"),
    ("家暴/虐待/遗弃", "家暴虐待遗弃"), ("交通事故/医疗等人身损害赔偿", "人身损害赔偿"), ("社保/低保/抚恤金", "社保低保抚恤金"),
    ("刑事案件（犯罪嫌疑人或被告人）", "刑事辩护"), ("其他", "其他事项"),
]
FIRST_STEP = "法律援助自测（结果仅供参考，以法律援助机构审查为准）。第一步：您的事情属于哪一类？"
YES = re.compile(r"^(有|是|符合|对|困难|经济困难|有符合的)")
NO = re.compile(r"^(没有|不|都不|无|否)")


def _yes_no_unsure(text: str) -> str | None:
    t = normalize(text)
    if re.search(MIGRANT, t):
        return "migrant"
    if re.search(r"说不准|不确定|不知道|不清楚", t):
        return "unsure"
    if NO.search(t) or "不困难" in t or "都不符合" in t:
        return "no"
    if YES.search(t) or "困难" in t:
        return "yes"
    return None


def assess(matter: str, exemption: str, hardship: str) -> str:
    """likely / possibly / unlikely / waived — an indication, never a decision.

    `waived`: a migrant worker claiming wages or work-injury damages is 免予核查经济困难状况 with
    proof (Art. 42(3)); the hardship answer does not count against them (Art. 32 is a different
    rule: no hardship condition at all, for abuse victims and the others it lists)."""
    key, in_scope = MATTERS.get(matter, ("other", None))
    if exemption == "yes" or key == "abuse":
        return "likely"
    if key == "migrant_labour" or (key == "labour" and hardship == "migrant"):
        return "waived"
    if in_scope and hardship == "yes":
        return "likely"
    if hardship == "no" and key != "criminal":
        return "unlikely"
    return "possibly"


class ActionAskAidMatter(Action):
    """The pre-check's first question, after the rule itself: who can apply (the curated `who` fact)."""

    def name(self) -> Text:
        return "action_ask_aid_matter"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        try:
            service = context.content().service("legal_aid") or {}
        except ContentUnavailable:
            service = {}
        who = (service.get("aspects") or {}).get("who") or {}
        if (tracker.latest_message.get("intent") or {}).get("name") not in ("ask_legal_aid", "legal_aid_precheck"):
            who = {}  # asked again after an answer it did not understand: the step alone
        rule = answers.compose(who.get("text"), answers.legal_basis_line(who.get("legal_basis"))) if who.get("text") else ""
        dispatcher.utter_message(text=answers.compose(rule, FIRST_STEP),
                                 buttons=[{"title": t, "payload": p} for t, p in MATTER_BUTTONS])
        return []


class ValidateLegalAidForm(FormValidationAction):
    """Map button texts or free answers to the pre-check's categories."""

    def name(self) -> Text:
        return "validate_legal_aid_form"

    @context.ignore_empty
    def validate_aid_matter(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        text = normalize(str(value or ""))
        matter = text if text in MATTERS else next((m for pattern, m in KEYWORDS if re.search(pattern, text)), None)
        if not matter:
            dispatcher.utter_message(text="请从按钮中选一类，分不清就选“其他”。")
        if matter == "进城务工讨薪工伤":  # Art. 42: hardship is not checked, so it is not asked
            return {"aid_matter": matter, "aid_hardship": "migrant"}
        return {"aid_matter": matter}

    @context.ignore_empty
    def validate_aid_exemption(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        answer = _yes_no_unsure(str(value or ""))
        if answer is None:
            dispatcher.utter_message(text="请回答“有符合的”或“都不符合”。")
        return {"aid_exemption": "no" if answer in ("unsure", "migrant") else answer}

    @context.ignore_empty
    def validate_aid_hardship(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        answer = _yes_no_unsure(str(value or ""))
        if answer is None:
            dispatcher.utter_message(text="请回答“经济困难”“不困难”或“说不准”。")
        return {"aid_hardship": answer}


class ActionLegalAidResult(Action):
    """The pre-check's indication, the materials, and where to apply — never presented as a decision."""

    def name(self) -> Text:
        return "action_legal_aid_result"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        reset = [SlotSet("aid_matter", None), SlotSet("aid_exemption", None), SlotSet("aid_hardship", None)]
        result = assess(tracker.get_slot("aid_matter") or "", tracker.get_slot("aid_exemption") or "", tracker.get_slot("aid_hardship") or "")
        try:
            guide = context.content().setting("legal_aid_precheck") or {}
        except ContentUnavailable:
            guide = {}
        verdicts = {"waived": WAIVED, **(guide.get("results") or {})}
        lines = [
            verdicts.get(result, result),
            "这只是自测参考，不是审批结果，由法律援助机构审查决定。",
            # The waived verdict already says what to bring; the general list would repeat it.
            "" if result == "waived" else guide.get("materials", ""),
            guide.get("where", ""),
            answers.legal_basis_line(guide.get("legal_basis") or []),
            answers.DISCLAIMER,
        ]
        buttons = [{"title": "找附近的服务站", "payload": "/find_service_station"}]
        if result == "unlikely":
            buttons.append({"title": "申请免费调解", "payload": "/request_mediation"})
        dispatcher.utter_message(text=answers.compose(*lines), buttons=buttons)
        return reset
