"""Fill-in documents by conversation: choose, consent, one field at a time, summary, correct, generate.

One parametrised form (`document_form`) serves every template in content/documents.yml: `doc_field` is the
field being asked, `doc_values` the answers so far. Generating writes the files to the short-lived download
store and counts the kind; the channel (gateway) turns the `document` custom message into a link, a
Telegram document or, on WeChat without a public address, the text itself.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import context
from actions.services import STORE_DOWN, answered_instead
from miyun.documents import templates as tpl
from miyun.documents.counts import DocumentCounts
from miyun.documents.downloads import DownloadStore
from miyun.documents.fill import fill, is_unknown
from miyun.documents.make import produce
from miyun.documents.pdf_out import find_font
from miyun.knowledge.store import ContentUnavailable
from miyun.text import normalize

log = logging.getLogger(__name__)
DOC_SLOTS = ["doc_kind", "doc_consent", "doc_answer", "doc_confirm", "doc_field", "doc_values", "doc_fixing"]
DONE = "done"
MAX_SHORT, MAX_LONG = 120, 1500
AFFIRM = re.compile(r"确认|生成|没问题|对的|是的|可以|好的|没错|行")
FIX = re.compile(r"改|修改|更正|错了|不对|重填|重新填")
# Words of a resident who wants the document drafted; without them "复议申请书都能咋交" asks how to apply.
DRAFTING = re.compile(r"写|起草|拟|模板|范本|样本|样板|格式|生成|做一份|弄一份|填")
# "能不能不写申请书" asks whether one may apply orally: writing negated is no wish to draft.
NOT_WRITING = re.compile(r"不(?:用|必|需|需要)?(?:书面)?写|免写|写不了|不能写")
# Services the documents are not about: "热线能帮俺写起诉状不" asks what the hotline does.
NO_DOCUMENTS = {"hotline", "legal_aid"}


def wants_draft(text: str) -> bool:
    """The message asks for a document to be drafted, not about writing one."""
    return bool(DRAFTING.search(NOT_WRITING.sub("", text)))


def _asks_instead(asked) -> bool:
    """A drafting message is still a question when it asks a fact of a service without documents."""
    return asked.fact is not None and asked.service["id"] in NO_DOCUMENTS


def config() -> dict:
    return context.content().setting("documents") or {}


def all_templates() -> Dict[str, tpl.Template]:
    return tpl.templates(config())


def matching(tracker: Tracker, value: Optional[str] = None) -> List[tpl.Template]:
    """Templates named by the latest message: its `document_kind` entity, a template id, or a name in the text."""
    found = all_templates()
    said = context.latest_entity(tracker, "document_kind") or value or ""
    if said in found:
        return [found[said]]
    return [t for t in found.values() if said and (said in t.names or said == t.title)]


def template_of(tracker: Tracker) -> Optional[tpl.Template]:
    kind = tracker.get_slot("doc_kind")
    return all_templates().get(kind) if kind else None


def _clear() -> List[Dict[Text, Any]]:
    return [SlotSet(s, None) for s in DOC_SLOTS]


def _start(template: tpl.Template) -> Dict[str, Any]:
    return {"doc_kind": template.id, "doc_field": template.fields[0].key, "doc_values": {}, "doc_fixing": False}


class ActionStartDocument(Action):
    """A fresh document; the template is chosen already when the message names exactly one."""

    def name(self) -> Text:
        return "action_start_document"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        text = normalize(tracker.latest_message.get("text") or "")
        try:
            found = matching(tracker)
            accept = _asks_instead if wants_draft(text) else (lambda asked: True)
            instead = answered_instead(dispatcher, tracker, accept)
        except ContentUnavailable:
            dispatcher.utter_message(text=STORE_DOWN)
            return _clear() + [ActiveLoop(None)]
        if instead is not None:
            return _clear() + instead
        events = _clear()
        if len(found) == 1:
            events += [SlotSet(k, v) for k, v in _start(found[0]).items()]
        return events


class ActionAskDocKind(Action):
    """Which document: every template, or only those the resident's words fit (起诉状 → two kinds)."""

    def name(self) -> Text:
        return "action_ask_doc_kind"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        try:
            found = matching(tracker, tracker.latest_message.get("text")) or list(all_templates().values())
        except ContentUnavailable:
            dispatcher.utter_message(text=STORE_DOWN)
            return []
        question = "您要写哪一种？" if len(found) < len(all_templates()) else "我可以一问一答帮您起草这些文书，您要写哪一份？"
        dispatcher.utter_message(
            text=question,
            buttons=[{"title": t.title, "payload": f'/inform{{"document_kind":"{t.id}"}}'} for t in found],
        )
        return []


class ActionAskDocConsent(Action):
    """What the document is for, its deadline with the article, then the consent notice."""

    def name(self) -> Text:
        return "action_ask_doc_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        try:
            template, cfg = template_of(tracker), config()
        except ContentUnavailable:
            dispatcher.utter_message(text=STORE_DOWN)
            return []
        if template is None:
            return []
        minutes = f"{context.settings().document_ttl_min:g}"
        parts = [template.intro]
        if template.deadline:
            parts.append("⚠ 请注意期限：" + template.deadline)
        parts.append(cfg["consent"].replace("{minutes}", minutes))
        dispatcher.utter_message(
            text="\n".join(parts), buttons=[{"title": "同意", "payload": "/affirm"}, {"title": "不同意", "payload": "/deny"}]
        )
        return []


class ActionAskDocAnswer(Action):
    """One field: the question, its plain-words explanation, an example, and 不知道 leaves a blank."""

    def name(self) -> Text:
        return "action_ask_doc_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        template = template_of(tracker)
        field = template.field(tracker.get_slot("doc_field") or "") if template else None
        if field is None:
            return []
        n = [f.key for f in template.fields].index(field.key) + 1
        lines = [f"（{n}/{len(template.fields)}）{field.ask}", field.explain]
        if field.example:
            lines.append(f"例如：{field.example}")
        lines.append("不清楚可以回复“不知道”，这一项会留出空白“" + tpl.BLANK + "”，打印后手写。")
        buttons = [{"title": c, "payload": c} for c in field.choices] + [{"title": "不知道", "payload": "不知道"}]
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return []


def summary(template: tpl.Template, values: Dict[str, str]) -> str:
    lines = []
    for f in template.fields:
        value = values.get(f.key) or tpl.BLANK + "（手写）"
        lines.append(f"{f.label}：{value}")
    return "\n".join(lines)


class ActionAskDocConfirm(Action):
    """The summary; generate, correct one field (also by numbered buttons on WeChat), or cancel."""

    def name(self) -> Text:
        return "action_ask_doc_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        template = template_of(tracker)
        if template is None:
            return []
        values = tracker.get_slot("doc_values") or {}
        missing = [f.label for f in template.fields if f.required and not values.get(f.key)]
        warn = f"\n以下必填项还空着，提交前请务必手写补上：{'、'.join(missing)}。" if missing else ""
        dispatcher.utter_message(
            text=f"请核对《{template.title}》：\n{summary(template, values)}{warn}\n"
                 "没问题请点“生成文书”；要改某一项，请点“修改某一项”或直接回复如“改被申请人”；不写了请回复“取消”。",
            buttons=[{"title": "生成文书", "payload": "/affirm"}, {"title": "修改某一项", "payload": "修改"},
                     {"title": "取消", "payload": "/cancel"}],
        )
        return []


def field_named(template: tpl.Template, text: str) -> Optional[tpl.Field]:
    """The field a correction names: its label in the text, or the text in its label (改电话 → 联系电话)."""
    rest = FIX.sub("", text).strip("一下的这项个：:， ")
    for f in sorted(template.fields, key=lambda f: -len(f.label)):
        if f.label in text:
            return f
    if len(rest) >= 2:
        hits = [f for f in template.fields if rest in f.label]
        if len(hits) >= 1:
            return hits[0]
    return None


class ValidateDocumentForm(FormValidationAction):
    """Store each answer under its field and move on; corrections jump back to the summary."""

    def name(self) -> Text:
        return "validate_document_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Text]:
        if tracker.get_slot("doc_consent") is False:
            return ["doc_consent"]  # declined: nothing else is asked
        return domain_slots

    @context.ignore_empty
    def validate_doc_kind(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        found = matching(tracker, str(value))
        if len(found) != 1:
            if not found:
                dispatcher.utter_message(text="请从按钮里选一份文书；不写了请回复“取消”。")
            return {"doc_kind": None}
        return _start(found[0])

    @context.ignore_empty
    def validate_doc_consent(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        if value in (True, False):
            return {"doc_consent": value}
        dispatcher.utter_message(text="请点“同意”或“不同意”，也可以直接回复“同意”。")
        return {"doc_consent": None}

    @context.ignore_empty
    def validate_doc_answer(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        template = template_of(tracker)
        field = template.field(tracker.get_slot("doc_field") or "") if template else None
        if field is None:
            return {"doc_answer": DONE}
        text = str(value).strip()
        if text.startswith("/"):  # a button from an earlier message, not an answer
            dispatcher.utter_message(text="请直接回复这一项的内容，或回复“不知道”。")
            return {"doc_answer": None}
        values = dict(tracker.get_slot("doc_values") or {})
        if is_unknown(text):
            values[field.key] = ""
            note = "好的，这一项先空着，打印后手写。"
            if field.required:
                note += "这是必填项，提交前一定要补上。"
            dispatcher.utter_message(text=note)
        else:
            limit = MAX_LONG if field.long else MAX_SHORT
            values[field.key] = text[:limit] if field.long else " ".join(text.split())[:limit]
        if tracker.get_slot("doc_fixing"):
            return {"doc_values": values, "doc_answer": DONE, "doc_fixing": False}
        keys = [f.key for f in template.fields]
        later = [k for k in keys[keys.index(field.key) + 1:]]
        if not later:
            return {"doc_values": values, "doc_answer": DONE}
        return {"doc_values": values, "doc_field": later[0], "doc_answer": None}

    @context.ignore_empty
    def validate_doc_confirm(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        template = template_of(tracker)
        if template is None:
            return {"doc_confirm": None}
        text = str(value).strip()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if FIX.search(text):
            field = field_named(template, text)
            if field:
                dispatcher.utter_message(text=f"好的，重新填写“{field.label}”。")
                return {"doc_confirm": None, "doc_answer": None, "doc_field": field.key, "doc_fixing": True}
            dispatcher.utter_message(
                text="要修改哪一项？",
                buttons=[{"title": f.label, "payload": f"改{f.label}"} for f in template.fields],
            )
            return {"doc_confirm": None}
        if intent == "affirm" or AFFIRM.search(text):
            return {"doc_confirm": "yes"}
        dispatcher.utter_message(text="请点“生成文书”，或回复要修改的项目（如“改被申请人”），或回复“取消”。")
        return {"doc_confirm": None}


def store() -> DownloadStore:
    s = context.settings()
    return DownloadStore(s.documents_dir, s.document_ttl_min * 60)


class ActionMakeDocument(Action):
    """Generate DOCX (+PDF when a CJK font exists) into the download store; count it; hand it to the channel."""

    def name(self) -> Text:
        return "action_make_document"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        reset = _clear()
        try:
            template, cfg = template_of(tracker), config()
        except ContentUnavailable:
            dispatcher.utter_message(text=STORE_DOWN)
            return reset
        if tracker.get_slot("doc_consent") is False:
            dispatcher.utter_message(text=cfg.get("declined") or "好的，不填了，没有保存任何信息。")
            return reset
        if template is None or tracker.get_slot("doc_confirm") != "yes":
            dispatcher.utter_message(text="文书没有生成，也没有保存任何信息。需要时可以随时再来，或拨打12348。")
            return reset
        filled = fill(template, tracker.get_slot("doc_values") or {}, dt.date.today())
        settings = context.settings()
        try:
            files = produce(filled, find_font(settings.document_font))
            token = store().put(kind=template.id, title=template.title, sender_id=tracker.sender_id or "", files=files.files)
        except OSError:  # a full or read-only disk: say so rather than fail silently
            log.exception("document_store_failed kind=%s", template.id)
            dispatcher.utter_message(text="抱歉，文书暂时无法生成。请稍后再试，或到所在镇街的公共法律服务站、拨打12348咨询。")
            return reset
        try:
            DocumentCounts(settings.runtime_db).record(template.id)
        except Exception:  # a count must never cost the resident the document
            log.exception("document_count_failed kind=%s", template.id)
        minutes = f"{settings.document_ttl_min:g}"
        blanks = [f.label for f in filled.blanks()]
        lines = [f"《{template.title}》已生成，{minutes}分钟内可以下载，之后自动删除。"]
        if not files.has_pdf:
            lines.append("PDF暂时无法生成（服务器缺少中文字体），先给您Word文件和文字内容。")
        if blanks:
            lines.append(f"空白处（{'、'.join(blanks)}）请打印后手写。")
        lines.append("打印后在签名处签名，按份数准备副本，连同证据材料一起提交。" + tpl.basis_line(template))
        dispatcher.utter_message(text="\n".join(lines))
        dispatcher.utter_message(json_message={"document": {
            "token": token, "title": template.title, "formats": sorted(f for f in files.files if f != "txt"),
            "text": not files.has_pdf, "printed": cfg.get("printed") or "",
        }})
        return reset


class ActionDocumentCancelled(Action):
    """Cancelled: nothing generated, nothing kept."""

    def name(self) -> Text:
        return "action_document_cancelled"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text="好的，已取消，文书没有生成，也没有保存任何信息。需要时可以随时再来，或拨打12348公共法律服务热线。")
        return _clear()
