"""查看法条原文 end to end: the real Rasa server (payload and typed request) and the real action server."""


def _buttons(replies: list[dict]) -> list[dict]:
    return [b for r in replies for b in r.get("buttons") or []]


def test_statute_button_payload_and_typed_request(stack):
    replies = stack.say("live-statute-1", "经济补偿金怎么算")   # labour-dismissal-compensation's own question
    payload = next(b["payload"] for b in _buttons(replies) if b["title"] == "查看法条原文")
    shown = [r.get("text") or "" for r in stack.say("live-statute-1", payload)]
    assert shown[0].startswith("【法条原文】")
    assert any(t.startswith("《中华人民共和国劳动合同法》（2012年12月28日版）第") for t in shown)
    typed = [r.get("text") or "" for r in stack.say("live-statute-1", "查看法条原文")]
    assert typed == shown                                   # the latest answer's button, typed
