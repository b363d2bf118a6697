"""The document form driven turn by turn with rasa-sdk Trackers: each document, 不知道, a correction
(typed and by numbered buttons), a cancel, a declined consent, and the generated files and counts."""
from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
import yaml
from docx import Document
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import context
from actions.documents import (
    DOC_SLOTS, ActionAskDocAnswer, ActionAskDocConfirm, ActionAskDocConsent, ActionAskDocKind,
    ActionDocumentCancelled, ActionMakeDocument, ActionStartDocument, ValidateDocumentForm,
)
from actions.services import ActionAnswerService
from miyun.documents import templates as tpl
from miyun.documents.counts import DocumentCounts
from miyun.documents.downloads import DownloadStore
from tests.helpers import buttons, run, texts, tracker

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain" / "documents.yml").read_text(encoding="utf-8"))
REQUIRED = DOMAIN["forms"]["document_form"]["required_slots"]
ASK = {"doc_kind": ActionAskDocKind, "doc_consent": ActionAskDocConsent, "doc_answer": ActionAskDocAnswer,
       "doc_confirm": ActionAskDocConfirm}
SENDER = "web:" + "s" * 24


@pytest.fixture(scope="module")
def published_once(tmp_path_factory):
    """The content published once for this module (publishing ~500 articles is slow)."""
    from tests.conftest import _publish

    var = tmp_path_factory.mktemp("documents-var")
    _publish(ROOT / "content", var)
    return var


@pytest.fixture()
def published(published_once, tmp_path, monkeypatch):
    """A fresh var dir per test (documents, counts) with a copy of the published content."""
    import shutil

    var = tmp_path / "var"
    var.mkdir()
    shutil.copy(published_once / "content.db", var / "content.db")
    monkeypatch.setenv("MIYUN_VAR_DIR", str(var))
    monkeypatch.setenv("MIYUN_CONTENT_DIR", str(ROOT / "content"))
    context.reset()
    yield context.settings()
    context.reset()


class Chat:
    """The form loop as Rasa runs it: ask the first empty required slot, validate the answer, repeat."""

    def __init__(self, sender: str = SENDER) -> None:
        self.sender, self.slots, self.said, self.messages, self.done = sender, {}, [], [], False

    def _tracker(self, text: str, intent: str, entities=None, events=None) -> Tracker:
        return tracker(text, intent, entities, sender=self.sender, slots=dict(self.slots), events=events or [],
                       active_loop={"name": "document_form"})

    def _apply(self, events) -> None:
        for e in events:
            if e.get("event") == "slot":
                self.slots[e["name"]] = e["value"]

    def _collect(self, dispatcher: CollectingDispatcher) -> None:
        self.messages += dispatcher.messages
        self.said += texts(dispatcher)

    @property
    def requested(self):
        if self.slots.get("doc_consent") is False:
            return None
        return next((s for s in REQUIRED if self.slots.get(s) is None), None)

    def start(self, text: str, entity: str | None = None) -> "Chat":
        ents = [{"entity": "document_kind", "value": entity}] if entity else []
        dispatcher, events = run(ActionStartDocument(), self._tracker(text, "request_document", ents))
        self._collect(dispatcher)
        self._apply(events)
        self.last_entities = ents
        return self._next(text)

    def _next(self, text: str = "") -> "Chat":
        slot = self.requested
        if slot is None:
            dispatcher, events = run(ActionMakeDocument(), self._tracker(text, "inform"))
            self._collect(dispatcher)
            self._apply(events)
            self.done = True
            return self
        dispatcher, _ = run(ASK[slot](), self._tracker(text, "inform", getattr(self, "last_entities", [])))
        self._collect(dispatcher)
        return self

    def say(self, text: str, intent: str = "inform", entities=None) -> "Chat":
        slot = self.requested
        value = {"affirm": True, "deny": False}.get(intent, text) if slot == "doc_consent" else text
        self.last_entities = entities or []
        t = self._tracker(text, intent, entities, events=[
            {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}, SlotSet(slot, value)])
        dispatcher = CollectingDispatcher()
        events = asyncio.run(ValidateDocumentForm().run(dispatcher, t, DOMAIN))
        self._collect(dispatcher)
        self._apply(events)
        return self._next(text)

    def press(self, title: str) -> "Chat":
        """A button of the last message, as the WeChat gateway sends it for a number."""
        payload = next(b["payload"] for b in reversed([b for m in self.messages for b in m.get("buttons") or []])
                       if b["title"] == title)
        intent = {"/affirm": "affirm", "/deny": "deny"}.get(payload, "inform")
        return self.say(payload if not payload.startswith("/") else title, intent)

    def document(self) -> dict:
        return next(m["custom"]["document"] for m in self.messages if (m.get("custom") or {}).get("document"))


def templates() -> dict[str, tpl.Template]:
    return tpl.templates(context.content().setting("documents"))


def answer_all(chat: Chat, template: tpl.Template, skip: tuple[str, ...] = ()) -> None:
    for f in template.fields:
        assert f.ask in chat.said[-1] and f.explain in chat.said[-1], f.key
        chat.say("不知道" if f.key in skip else f"{f.label}答")


@pytest.mark.parametrize("kind", ["reconsideration", "disclosure", "mediation", "labour-arbitration",
                                  "complaint-loan", "complaint-labour-fee"])
def test_each_document_from_first_message_to_file(published, kind):
    t = templates()[kind]
    chat = Chat().start("帮我写" + t.names[-1], entity=t.names[-1] if len(t.names) == 1 else kind)
    assert chat.slots["doc_kind"] == kind
    assert t.intro in chat.said[-1] and "同意" in chat.said[-1]
    if t.deadline:
        assert t.deadline in chat.said[-1]
    chat.say("同意", "affirm")
    answer_all(chat, t)
    assert "请核对" in chat.said[-1] and all(f"{f.label}：{f.label}答" in chat.said[-1] for f in t.fields)
    chat.say("确认生成", "affirm")
    assert chat.done and all(chat.slots[s] is None for s in DOC_SLOTS)
    doc = chat.document()
    assert doc["title"] == t.title and set(doc["formats"]) == {"docx", "pdf"}
    s = context.settings()
    got = DownloadStore(s.documents_dir, 60).open(doc["token"], "docx", SENDER)
    text = "\n".join(p.text for p in Document(io.BytesIO(got.path.read_bytes())).paragraphs)
    assert all(f"{f.label}答" in text for f in t.fields)
    assert DocumentCounts(s.runtime_db).weekly(1)[0][1:] == (kind, 1)


def test_unknown_answers_correction_and_numbered_buttons(published):
    t = templates()["reconsideration"]
    chat = Chat().start("帮我写复议申请书", entity="行政复议申请书")
    chat.press("同意")
    for f in t.fields:
        if f.key == "respondent":
            assert "被申请人就是作出罚款（或其他）决定的那个单位，写决定书上盖章的单位名称" in chat.said[-1]
            chat.press("不知道")
            assert "先空着" in chat.said[-2] and "必填" in chat.said[-2]
        elif f.key == "applicant_phone":
            chat.say("13900000000")
        else:
            chat.say(f"{f.label}答")
    assert "被申请人：________（手写）" in chat.said[-1] and "被申请人" in chat.said[-1].split("必填项")[1]
    chat.say("改电话")                                   # typed correction: 改电话 → 申请人联系电话
    assert "重新填写“申请人联系电话”" in chat.said[-2] and t.field("applicant_phone").ask in chat.said[-1]
    chat.say("13911112222")
    assert "申请人联系电话：13911112222" in chat.said[-1]   # straight back to the summary
    chat.press("修改某一项")                               # WeChat: a number picks the button
    assert "要修改哪一项" in chat.said[-2]
    chat.press("被申请人")
    chat.say("北京市密云区某某局")
    assert "被申请人：北京市密云区某某局" in chat.said[-1] and "必填项" not in chat.said[-1]
    chat.press("生成文书")
    assert chat.done and "《行政复议申请书》已生成" in " ".join(chat.said)


def test_civil_complaint_asks_which_kind(published):
    chat = Chat().start("帮我写起诉状", entity="民事起诉状")
    assert chat.slots.get("doc_kind") is None
    titles = [b["title"] for b in buttons_of(chat)]
    assert titles == ["民事起诉状（民间借贷纠纷）", "民事起诉状（劳务合同纠纷）"]
    chat.say('/inform{"document_kind":"complaint-labour-fee"}', entities=[{"entity": "document_kind", "value": "complaint-labour-fee"}])
    assert chat.slots["doc_kind"] == "complaint-labour-fee" and "劳动仲裁" in chat.said[-1]


def buttons_of(chat: Chat) -> list[dict]:
    return chat.messages[-1].get("buttons") or []


def test_a_bare_request_offers_every_document(published):
    chat = Chat().start("帮我写文书")
    assert len(buttons_of(chat)) == len(templates())


def test_declined_consent_generates_nothing(published):
    chat = Chat().start("帮我写调解申请书", entity="人民调解申请书")
    chat.say("不同意", "deny")
    assert chat.done and "没有保存任何信息" in chat.said[-1]
    assert not any((m.get("custom") or {}).get("document") for m in chat.messages)
    assert not context.settings().documents_dir.exists() or not any(context.settings().documents_dir.iterdir())


def test_cancel_mid_form_keeps_nothing(published):
    chat = Chat().start("帮我写劳动仲裁申请书", entity="劳动人事争议仲裁申请书")
    chat.say("同意", "affirm")
    chat.say("张三")
    # the cancel rule: action_deactivate_loop, then this action
    dispatcher, events = run(ActionDocumentCancelled(), tracker("取消", "cancel", slots=chat.slots))
    assert "已取消" in texts(dispatcher)[0]
    assert {e["name"]: e["value"] for e in events} == {s: None for s in DOC_SLOTS}
    assert not context.settings().documents_dir.exists()


def test_without_a_cjk_font_docx_and_text_are_offered(published, monkeypatch, tmp_path):
    monkeypatch.setattr("actions.documents.find_font", lambda configured: None)
    t = templates()["mediation"]
    chat = Chat().start("帮我写调解申请书", entity="人民调解申请书")
    chat.say("同意", "affirm")
    answer_all(chat, t)
    chat.say("确认", "affirm")
    doc = chat.document()
    assert doc["formats"] == ["docx"] and doc["text"] is True
    assert "PDF暂时无法生成" in " ".join(chat.said)
    s = context.settings()
    text = DownloadStore(s.documents_dir, 60).read(doc["token"], "txt", SENDER).decode()
    assert t.title in text and "纠纷事实" in text


def test_payload_text_is_not_taken_as_an_answer(published):
    chat = Chat().start("帮我写调解申请书", entity="人民调解申请书")
    chat.say("同意", "affirm")
    chat.say("/affirm")
    assert chat.slots["doc_field"] == "applicant_name" and "请直接回复" in chat.said[-2]


def test_service_answers_offer_to_draft(published):
    d, _ = run(ActionAnswerService(), tracker("行政复议申请书怎么写", "ask_admin_reconsideration"))
    assert any("document_kind" in b["payload"] and "reconsideration" in b["payload"] for b in buttons(d))
    d, _ = run(ActionAnswerService(), tracker("信息公开怎么申请", "ask_info_disclosure"))
    assert any("disclosure" in b["payload"] for b in buttons(d))
    payload = next(b["payload"] for b in buttons(d) if "disclosure" in b["payload"])
    assert json.loads("{" + payload.split("{", 1)[1]) == {"document_kind": "disclosure"}


def test_a_store_failure_is_said_not_swallowed(published, monkeypatch):
    def broken(self, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(DownloadStore, "put", broken)
    t = templates()["mediation"]
    chat = Chat().start("帮我写调解申请书", entity="人民调解申请书")
    chat.say("同意", "affirm")
    answer_all(chat, t)
    chat.say("确认", "affirm")
    assert "暂时无法生成" in chat.said[-1] and chat.done
    assert DocumentCounts(context.settings().runtime_db).weekly(1) == []
