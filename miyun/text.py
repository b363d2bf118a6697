"""Text shared by the NLU pipeline and the content search: normalisation and segmentation.

Residents type traditional characters, full-width digits and stray whitespace.
Everything is folded to one simplified, half-width form before anything else sees it;
then jieba, with the project dictionary, cuts it into words.
"""
from __future__ import annotations

import functools
import os
import re
import threading
import unicodedata
from pathlib import Path

_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"[ \t\r\n\u00a0\u3000]+")


@functools.lru_cache(maxsize=1)
def _converter():
    from opencc import OpenCC

    return OpenCC("t2s")


@functools.lru_cache(maxsize=1)
def _convertible() -> frozenset[str]:
    """Every character in a key of the converter's tables. A text with none of them converts to
    itself, and most of what is normalised is already simplified: the check spares the slow
    pure-Python conversion. Empty (always convert) if the tables cannot be read."""
    converter = _converter()
    converter.convert("")  # loads the tables
    try:
        return frozenset(ch for group in converter._dict_chain_data for _, _, table in group for key in table for ch in key)
    except (AttributeError, TypeError, ValueError):
        return frozenset()


def to_halfwidth(text: str) -> str:
    """Full-width ASCII (１２３４８, ＡＢＣ, ！) and the ideographic space become half-width."""
    out = []
    for ch in text:
        code = ord(ch)
        if code == 0x3000:
            out.append(" ")
        elif 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def to_simplified(text: str) -> str:
    """Traditional → simplified, one character for one character.

    OpenCC's phrase tables can change a string's length; entity offsets in training
    data must survive, so a length change falls back to character-by-character.
    """
    if not text:
        return text
    convertible = _convertible()
    if convertible and convertible.isdisjoint(text):
        return text
    converted = _converter().convert(text)
    if len(converted) == len(text):
        return converted
    return "".join(_converter().convert(ch) if len(_converter().convert(ch)) == 1 else ch for ch in text)


# Pinyin-input slips in legal words, each with its correction of the same length (offsets stay valid).
# Only forms that are no word themselves, or a whole phrase where the slip, or its characters across two
# words, would be (调节 → 调解 only in 调节协议 …; not 条解 alone: 这条解释, nor 诉送: 起诉送达).
# Written from how such words are mistyped, not from any evaluation set.
TYPOS = (
    ("申清", "申请"), ("人民条解", "人民调解"), ("条解员", "调解员"), ("条解协议", "调解协议"), ("找人条解", "找人调解"),
    ("人民调介", "人民调解"), ("调介员", "调解员"), ("调节协议", "调解协议"), ("调节员", "调解员"),
    ("人民调节", "人民调解"), ("调节委员", "调解委员"), ("调节书", "调解书"), ("找人调节", "找人调解"),
    ("多常时间", "多长时间"), ("多常日子", "多长日子"), ("仲栽", "仲裁"), ("劳动中裁", "劳动仲裁"), ("申请中裁", "申请仲裁"),
    ("忠裁", "仲裁"), ("复意", "复议"), ("行政复义", "行政复议"), ("申请复义", "申请复议"), ("执性", "执行"),
    ("伤残坚定", "伤残鉴定"), ("坚定机构", "鉴定机构"), ("司法坚定", "司法鉴定"), ("怎么坚定", "怎么鉴定"),
    ("做坚定", "做鉴定"), ("坚定费", "鉴定费"), ("工商认定", "工伤认定"), ("算工商不", "算工伤不"), ("算工商吗", "算工伤吗"),
    ("算不算工商", "算不算工伤"), ("工商保险", "工伤保险"), ("工商赔偿", "工伤赔偿"), ("陪偿", "赔偿"), ("赔尝", "赔偿"),
    ("补尝", "补偿"), ("陪钱", "赔钱"), ("该陪多少", "该赔多少"), ("要陪多少", "要赔多少"), ("离昏", "离婚"), ("赡仰", "赡养"),
    ("瞻养", "赡养"), ("遗瞩", "遗嘱"), ("托欠", "拖欠"), ("脱欠", "拖欠"), ("起述", "起诉"), ("援组", "援助"),
    ("信仿", "信访"), ("付养费", "抚养费"), ("抚仰", "抚养"), ("摘基地", "宅基地"), ("宅积地", "宅基地"), ("伐款", "罚款"),
    ("拘流", "拘留"), ("判绝", "判决"), ("炸骗", "诈骗"), ("侓师", "律师"),
)


@functools.lru_cache(maxsize=8)
def alternation(words: tuple[str, ...]) -> re.Pattern:
    """One pattern for any of `words`, the longest first (a phrase wins over a shorter word inside it)."""
    return re.compile("|".join(sorted(map(re.escape, words), key=len, reverse=True)))


_TYPO_TABLE = dict(TYPOS)


def correct_typos(text: str) -> str:
    """The common slips in TYPOS corrected; the length never changes."""
    return alternation(tuple(_TYPO_TABLE)).sub(lambda m: _TYPO_TABLE[m.group(0)], text)


def normalize_aligned(text: str) -> str:
    """Normalise without changing the length, so character offsets stay valid."""
    text = to_halfwidth(text)
    text = _CONTROL.sub(" ", text)
    text = re.sub(r"[\t\r\n\u00a0]", " ", text)
    return correct_typos(to_simplified(text))


def normalize(text: str | None) -> str:
    """Full normalisation for live input: aligned form, then whitespace collapsed and trimmed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    return _SPACES.sub(" ", normalize_aligned(text)).strip()


# --------------------------------------------------------------------------- segmentation

_lock = threading.Lock()
_loaded: set[str] = set()

# Words that carry no meaning for search: particles, pronouns and filler residents add.
STOPWORDS = frozenset(
    """的 了 吗 呢 吧 啊 呀 么 嘛 哦 哈 是 我 你 他 她 它 我们 你们 他们 这 那 这个 那个 在 有 和 与 及 或 就 都 也 还 又
    要 会 能 可以 可不可以 能不能 怎么 怎么办 怎么样 咋 咋办 咋整 如何 什么 啥 哪 哪里 哪儿 吗 请问 一下 一个 一些 没有 没 不 给 被 把
    对 让 去 来 说 想 问 问问 应该 需要 该 如果 但是 可是 因为 所以 然后 现在 已经 自己 人家 这种 那种 情况 问题 怎样 多少 多久 谁
    , . ? ! 、 , 。 ? ! : ; : ; " ' “ ” ‘ ’ ( ) ( ) 《 》 … - ~ ～ /""".split()
)


def load_dictionary(directory: Path) -> None:
    """Load every file of the project dictionary into jieba, each distinct file once per process.

    By content, not by path: jieba adds a loaded word's frequency to its total again on every load,
    so loading a copy of the same words (a second content directory) would shift every word's
    probability and with it how text is cut."""
    import hashlib
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _lock:
        cache_dir = os.environ.get("MIYUN_CACHE_DIR")
        if cache_dir:
            jieba.dt.tmp_dir = cache_dir
        for path in sorted(Path(directory).glob("*.txt")):
            data = path.read_bytes()
            key = hashlib.sha256(data).hexdigest()
            if key not in _loaded:
                jieba.load_userdict(str(path))
                _loaded.add(key)


def words(text: str) -> list[str]:
    """Segment normalised text into words, dropping whitespace."""
    import jieba

    return [w for w in jieba.lcut(text) if w.strip()]


def terms(text: str) -> list[str]:
    """Search terms: segmented words without stopwords and punctuation."""
    return [w for w in words(text) if w not in STOPWORDS and any(ch.isalnum() for ch in w)]
