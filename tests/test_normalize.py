"""The normaliser: traditional → simplified, full-width → half-width, whitespace."""
import pytest

from miyun.text import normalize, normalize_aligned, to_halfwidth


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("說法評理", "说法评理"),
        ("法律援助怎麼申請", "法律援助怎么申请"),
        ("１２３４８", "12348"),
        ("ＭＹ－２０２６－０００１２３", "MY-2026-000123"),
        ("  我想\t问\n问  ", "我想 问 问"),
        ("古北口\u3000鎮", "古北口 镇"),
        ("行政複議", "行政复议"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_control_characters_are_removed():
    assert normalize("12348\x00\x07热线\u200b") == "12348 热线"


def test_aligned_form_keeps_length_for_entity_offsets():
    for text in ["說法評理在古北口鎮", "１２３４８\t熱線", "乾隆年間的房子", "我在檀營\n住"]:
        assert len(normalize_aligned(text)) == len(text)


def test_typo_table_keeps_lengths():
    from miyun.text import TYPOS

    assert all(len(wrong) == len(right) and wrong != right for wrong, right in TYPOS)
    assert len({wrong for wrong, _ in TYPOS}) == len(TYPOS)


@pytest.mark.parametrize("raw, expected", [
    ("政府信息公开申清交给谁", "政府信息公开申请交给谁"),
    ("人民条解上哪找", "人民调解上哪找"),
    ("調節協議有效嗎", "调解协议有效吗"),       # traditional first, then the slip
    ("法援批了多常时间派律师", "法援批了多长时间派律师"),
    ("这算工商不 该陪多少", "这算工伤不 该赔多少"),
    ("空调节能模式", "空调节能模式"),           # 调节 alone is a word: left as written
    ("工商局让我补材料", "工商局让我补材料"),
    ("这条解释啥意思", "这条解释啥意思"), ("起诉送达地址", "起诉送达地址"), ("刑法缓刑", "刑法缓刑"),
    ("重复义务", "重复义务"), ("诉讼中裁定", "诉讼中裁定"),
])
def test_common_typos_are_corrected(raw, expected):
    assert normalize(raw) == expected


def test_fullwidth_punctuation():
    assert to_halfwidth("！？（）") == "!?()"


def test_simplified_text_is_unchanged():
    text = "我在穆家峪镇、想问宅基地的事。"
    assert normalize(text) == text


def test_article_steps_start_new_lines():
    from miyun.knowledge.answers import steps_on_lines

    text = steps_on_lines("可以这样做： 1. 留证据。 2. 3.10日前催要。")
    assert text.split("\n") == ["可以这样做：", "1. 留证据。", "2. 3.10日前催要。"]


@pytest.mark.parametrize("text", ["兒子被關在看守所", "老板拖欠工资怎么办", "一目瞭然", "我在穆家峪镇", "工資", "12348"])
def test_skipping_conversion_of_simplified_text_changes_nothing(text):
    """Text with no character from the converter's tables is returned as is; the rest is converted."""
    from miyun.text import _converter, _convertible, to_simplified

    assert "關" in _convertible() and "关" not in _convertible()
    assert to_simplified(text) == _converter().convert(text)
