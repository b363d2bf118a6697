"""Replies in the resident's script: a message in traditional characters gets its reply in traditional.

Detection is per message: the characters whose simplified and traditional forms differ are
counted both ways, so a single traditional character in an otherwise simplified message stays
simplified, and a message with neither (numbers, 你好, a payload) keeps the conversation's script.
The script is remembered per sender (bounded, in the gateway's memory), so a button pressed
after a traditional message is answered in traditional too, and a simplified message switches back.

Conversion is OpenCC `s2t`: standard traditional characters, phrase-aware, with no regional
vocabulary (s2tw/s2hk/s2twp would also rewrite words such as 软件→軟體, which must not happen to
legal terms). What must stay exact is never converted: text inside 《》 (law names), reference
numbers (MY-2026-000123), URLs, e-mail addresses and phone numbers. Payloads are never converted.
"""
from __future__ import annotations

import functools
import re
from collections import OrderedDict

SIMPLIFIED = "hans"
TRADITIONAL = "hant"

# Spans copied unchanged into a converted reply.
_KEEP = re.compile(
    r"《[^》]{0,80}》"                       # law names, as officially (simplified) written
    r"|MY-\d{4}-\d+"                          # referral numbers
    r"|https?://\S+|www\.\S+"                 # URLs
    r"|[\w.+-]+@[\w-]+\.[\w.]+"               # e-mail
    r"|[\d\-－ ]{5,}"                         # phone numbers and other long digit runs
)


@functools.lru_cache(maxsize=None)
def _opencc(config: str):
    from opencc import OpenCC   # loaded on first use: no work at import time

    return OpenCC(config)


def _s2t(text: str) -> str:
    return _opencc("s2t").convert(text)


def _t2s(text: str) -> str:
    return _opencc("t2s").convert(text)


def counts(text: str) -> tuple[int, int]:
    """(traditional-only characters, simplified-only characters) in `text`."""
    traditional = simplified = 0
    for ch in text:
        if ch < "\u3400":
            continue
        if _t2s(ch) != ch:
            traditional += 1
        elif _s2t(ch) != ch:
            simplified += 1
    return traditional, simplified


def detect(text: str) -> str | None:
    """TRADITIONAL, SIMPLIFIED, or None when the message does not tell (digits, shared characters)."""
    if not text or text.lstrip().startswith("/"):
        return None
    # A law name quoted in its official simplified form says nothing about how the resident writes.
    traditional, simplified = counts(_KEEP.sub(" ", text))
    if traditional == simplified == 0:
        return None
    # One stray traditional character among simplified ones does not make a traditional message.
    return TRADITIONAL if traditional > simplified else SIMPLIFIED


def to_script(text: str, script: str | None) -> str:
    """`text` in the script; the protected spans are copied unchanged."""
    if script != TRADITIONAL or not text:
        return text
    out, last = [], 0
    for m in _KEEP.finditer(text):
        out.append(_s2t(text[last:m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_s2t(text[last:]))
    return "".join(out)


class ScriptMemory:
    """The script of each conversation's latest telling message (bounded, oldest forgotten)."""

    def __init__(self, max_senders: int = 100_000) -> None:
        self.max_senders = max_senders
        self._data: OrderedDict[str, str] = OrderedDict()

    def observe(self, sender: str, text: str) -> str:
        """Update from a typed message; returns the script the reply should use."""
        script = detect(text)
        if script is not None:
            self._data.pop(sender, None)
            self._data[sender] = script
            while len(self._data) > self.max_senders:
                self._data.popitem(last=False)
        return self.get(sender)

    def get(self, sender: str) -> str:
        return self._data.get(sender, SIMPLIFIED)
