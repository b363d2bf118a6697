"""Deadline dates end to end through the real Rasa server and the real action server."""


def _text(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def test_a_dated_question_gets_its_last_day(stack):
    text = _text(stack.say("live-dl-1", "我是2026年9月10日收到罚款决定书的，复议最晚哪天？"))
    assert "申请行政复议的最后一天是2026年11月9日（星期一）" in text and "估算" in text


def test_the_date_can_follow_the_question(stack):
    first = _text(stack.say("live-dl-2", "判决书上诉最晚哪天"))
    assert "告诉我具体日期" in first
    text = _text(stack.say("live-dl-2", "2026年9月20日"))
    assert "对判决提起上诉的最后一天是2026年10月8日（星期四）" in text      # 10-05 falls in 国庆节


def test_danger_still_comes_first(stack):
    replies = stack.say("live-dl-3", "9月10号他拿着刀要砍我，最晚哪天能报警")
    assert "110" in replies[0]["text"]
