"""Which script a message is written in, and converting a reply without touching what must stay exact."""
import pytest

from bot.script import SIMPLIFIED, TRADITIONAL, ScriptMemory, detect, to_script


@pytest.mark.parametrize("text, expected", [
    ("法律援助怎麼申請", TRADITIONAL),
    ("我是9月10號收到罰款決定書的，複議最晚哪天？", TRADITIONAL),
    ("離婚", TRADITIONAL),                                   # one telling character, nothing simplified
    ("法律援助怎么申请", SIMPLIFIED),
    ("我想离婚，財产怎么分", SIMPLIFIED),                     # a single traditional character among simplified
    ("工资被拖欠了，怎麼办", SIMPLIFIED),
    ("12348", None),                                          # numbers only
    ("1", None),
    ("你好", None),                                           # characters both scripts share
    ("", None),
    ("/ask_hotline", None),                                   # payloads are not the resident's writing
    ("請問《中华人民共和国民法典》怎麼規定", TRADITIONAL),       # a quoted official law name does not count
])
def test_detect(text, expected):
    assert detect(text) == expected


def test_mixed_text_goes_with_the_majority():
    assert detect("這個問題我想咨询一下") == TRADITIONAL      # 這 個 問 題 vs 询
    assert detect("这个问题我想諮詢一下") == SIMPLIFIED       # 这 个 问 题 vs 諮 詢


def test_conversion_keeps_exact_spans():
    text = ("您的申请编号是MY-2026-000123，请拨打12348或010-69041234，"
            "依据《中华人民共和国人民调解法》，详见https://www.example.gov.cn/a?b=c。")
    out = to_script(text, TRADITIONAL)
    for exact in ("MY-2026-000123", "12348", "010-69041234", "《中华人民共和国人民调解法》",
                  "https://www.example.gov.cn/a?b=c。"):
        assert exact in out
    assert out.startswith("您的申請編號是") and "請撥打" in out and "依據" in out


def test_simplified_is_left_alone():
    assert to_script("法律援助怎么申请", SIMPLIFIED) == "法律援助怎么申请"
    assert to_script("法律援助怎么申请", None) == "法律援助怎么申请"


def test_memory_follows_the_latest_telling_message():
    memory = ScriptMemory(max_senders=2)
    assert memory.get("a") == SIMPLIFIED
    assert memory.observe("a", "法律援助怎麼申請") == TRADITIONAL
    assert memory.observe("a", "12348") == TRADITIONAL        # says nothing: the conversation's script stays
    assert memory.observe("a", "法律援助怎么申请") == SIMPLIFIED   # switching back
    memory.observe("b", "怎麼辦")
    memory.observe("c", "怎麼辦")
    assert memory.get("a") == SIMPLIFIED and len(memory._data) == 2    # bounded, oldest forgotten
