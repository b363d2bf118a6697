"""Resident flows through the running Rasa server and action server."""
import re

from miyun.referrals.sqlite import RuntimeStore


def _text(replies):
    return "\n".join(r.get("text") or "" for r in replies)


def _referral_happy_path(stack, sender):
    first = _text(stack.say(sender, "我和邻居在古北口因为宅基地吵架了，想找人调解"))
    assert "同意" in first  # consent comes first
    asked = _text(stack.say(sender, "同意"))
    assert "村" in asked  # type, town and story were in the first message: skipped
    assert "报警" in _text(stack.say(sender, "河西村"))
    assert "称呼" in _text(stack.say(sender, "都没有"))
    assert "电话" in _text(stack.say(sender, "姓王"))
    reask = _text(stack.say(sender, "123"))
    assert "13912345678" in reask  # bad phone: re-asked with an example
    assert "时间" in _text(stack.say(sender, "13912345678"))
    summary = _text(stack.say(sender, "工作日下午"))
    assert "古北口镇" in summary and "土地宅基地" in summary and "139****5678" in summary
    done = _text(stack.say(sender, "确认提交"))
    ref = re.search(r"MY-\d{4}-\d{6}-[A-Z0-9]{4}", done).group(0)  # the public reference, with its check code
    return ref, done


def test_mediation_referral_end_to_end_then_status(stack):
    ref, done = _referral_happy_path(stack, "flow-1")
    assert "古北口镇说法评理平台" in done and "查询进度" in done
    row = RuntimeStore(stack.var / "runtime.db").referral(ref[:14])
    assert row["town"] == "古北口镇" and row["phone"] == "13912345678" and row["status"] == "received"
    assert "编号" in _text(stack.say("flow-1b", "查询调解进度"))
    assert "后4位" in _text(stack.say("flow-1b", ref))
    assert "已受理" in _text(stack.say("flow-1b", "5678"))


def test_status_mismatch_reveals_nothing(stack):
    ref, _ = _referral_happy_path(stack, "flow-2")
    stack.say("flow-2b", f"查一下 {ref} 的进度")
    wrong = _text(stack.say("flow-2b", "0000"))
    assert ref not in wrong and "没有找到" in wrong


def test_consent_declined_ends_politely(stack):
    stack.say("flow-3", "我要申请调解")
    reply = _text(stack.say("flow-3", "不同意"))
    assert "12348" in reply and "当面申请调解" in reply


def test_cancel_mid_form_saves_nothing(stack):
    before = len(RuntimeStore(stack.var / "runtime.db").referrals())
    stack.say("flow-4", "我要申请调解")
    stack.say("flow-4", "同意")
    assert "取消" in _text(stack.say("flow-4", "算了不办了"))
    assert len(RuntimeStore(stack.var / "runtime.db").referrals()) == before


def test_question_mid_form_is_answered_and_the_form_resumes(stack):
    stack.say("flow-5", "我要申请调解")
    stack.say("flow-5", "同意")
    replies = _text(stack.say("flow-5", "12348是免费的吗"))
    assert "12348" in replies and "哪一类纠纷" in replies


def test_emergency_mid_form_comes_first_and_the_form_resumes(stack):
    stack.say("flow-6", "我要申请调解")
    stack.say("flow-6", "同意")
    replies = stack.say("flow-6", "他拿着刀冲过来要砍我")
    assert "110" in replies[0]["text"]
    assert "哪一类纠纷" in _text(replies)


def test_legal_aid_precheck_from_the_question(stack):
    first = _text(stack.say("flow-7", "我能申请法律援助吗"))
    assert "自测" in first
    stack.say("flow-7", "讨要工资工伤赔偿")
    stack.say("flow-7", "都不符合")
    result = _text(stack.say("flow-7", "经济困难"))
    assert "很可能符合" in result and "不是审批结果" in result


def test_callback_request_reuses_the_referral_store(stack):
    assert "/request_callback" in str(stack.say("flow-8", "我在古北口，能跟真人说话吗"))
    assert "同意" in _text(stack.say("flow-8", "/request_callback"))
    stack.say("flow-8", "同意")
    stack.say("flow-8", "姓李")
    stack.say("flow-8", "13800001111")
    stack.say("flow-8", "上午")
    done = _text(stack.say("flow-8", "确认提交"))
    ref = re.search(r"MY-\d{4}-\d{6}", done).group(0)  # the staff sequence part of the public reference
    assert RuntimeStore(stack.var / "runtime.db").referral(ref)["kind"] == "callback"


def test_feedback_buttons_round_trip(stack):
    replies = stack.say("flow-9", "12348热线是干什么的")
    unhelpful = next(b["payload"] for r in replies for b in r.get("buttons") or [] if b["payload"].startswith("/feedback_unhelpful"))
    assert "缺少什么" in _text(stack.say("flow-9", unhelpful))
    assert "收到" in _text(stack.say("flow-9", "没写几点能打通"))
    rows = RuntimeStore(stack.var / "runtime.db").feedback()
    assert any(r["comment"] == "没写几点能打通" and r["content_id"] == "hotline" for r in rows)
