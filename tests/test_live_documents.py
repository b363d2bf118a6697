"""Documents through the running Rasa server and action server: NLU, rules, the form and the store."""
from miyun.documents.counts import DocumentCounts
from miyun.documents.downloads import DownloadStore


def _text(replies):
    return "\n".join(r.get("text") or "" for r in replies)


def _document(replies):
    return next((r["custom"]["document"] for r in replies if (r.get("custom") or {}).get("document")), None)


def test_mediation_application_end_to_end(stack):
    s = "doc-1"
    first = _text(stack.say(s, "帮我写一份人民调解申请书"))
    assert "人民调解申请书" in first and "同意" in first
    assert "申请人叫什么名字" in _text(stack.say(s, "同意"))
    assert "联系电话" in _text(stack.say(s, "张三"))
    danger = _text(stack.say(s, "他拿着刀冲过来了 救命"))
    assert "110" in danger and "联系电话" in danger                # triage first, then the same question
    assert "住在哪里" in _text(stack.say(s, "13912345678"))
    assert "闹矛盾的是谁" in _text(stack.say(s, "北京市密云区某某镇某某村"))
    assert "先空着" in _text(stack.say(s, "不知道"))
    stack.say(s, "希望对方拆除占用我家宅基地的院墙")
    stack.say(s, "去年邻居翻盖房子把院墙往我家挪了半米，商量了好几次都不行")
    summary = _text(stack.say(s, "某某村人民调解委员会"))
    assert "请核对" in summary and "对方当事人：________" in summary
    assert "重新填写" in _text(stack.say(s, "改对方当事人"))
    summary = _text(stack.say(s, "李四，东边邻居"))
    assert "对方当事人：李四，东边邻居" in summary
    replies = stack.say(s, "/affirm")
    doc = _document(replies)
    assert doc and doc["title"] == "人民调解申请书" and "已生成" in _text(replies)
    store = DownloadStore(stack.var / "documents", 60)
    assert store.read(doc["token"], "txt", s).decode().count("李四，东边邻居") == 1
    assert ("mediation", 1) in [(k, n) for _, k, n in DocumentCounts(stack.var / "runtime.db").weekly(1)]


def test_cancel_mid_document_keeps_nothing(stack):
    s = "doc-2"
    stack.say(s, "帮我写劳动仲裁申请书")
    stack.say(s, "同意")
    stack.say(s, "张三")
    assert "已取消" in _text(stack.say(s, "不写了"))


def test_civil_complaint_offers_both_kinds(stack):
    replies = stack.say("doc-3", "帮我写起诉状")
    titles = [b["title"] for r in replies for b in r.get("buttons") or []]
    assert titles == ["民事起诉状（民间借贷纠纷）", "民事起诉状（劳务合同纠纷）"]
    consent = _text(stack.say("doc-3", '/inform{"document_kind":"complaint-loan"}'))
    assert "3年" in consent and "第188条" in consent
