"""Text normalisation shared by the NLU pipeline and the content search.

Residents type traditional characters, full-width digits and stray whitespace.
Everything is folded to one simplified, half-width form before anything else sees it.
"""
from __future__ import annotations

import functools
import re
import unicodedata

_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"[ \t\r\n\u00a0\u3000]+")


@functools.lru_cache(maxsize=1)
def _converter():
    from opencc import OpenCC

    return OpenCC("t2s")


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
    converted = _converter().convert(text)
    if len(converted) == len(text):
        return converted
    return "".join(_converter().convert(ch) if len(_converter().convert(ch)) == 1 else ch for ch in text)


def normalize_aligned(text: str) -> str:
    """Normalise without changing the length, so character offsets stay valid."""
    text = to_halfwidth(text)
    text = _CONTROL.sub(" ", text)
    text = re.sub(r"[\t\r\n\u00a0]", " ", text)
    return to_simplified(text)


def normalize(text: str | None) -> str:
    """Full normalisation for live input: aligned form, then whitespace collapsed and trimmed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    return _SPACES.sub(" ", normalize_aligned(text)).strip()
