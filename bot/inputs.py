"""Input hygiene shared by every channel: control characters, empty input, length limit."""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

EMPTY_PROMPT = "请输入您想咨询的问题，例如：“古北口镇的法律服务站在哪？”也可以拨打12348公共法律服务热线。"
TRUNCATED_NOTE = "（您的消息较长，只处理了前{limit}个字。）"

# Rasa payloads: `/intent` or `/intent{"entity": value, ...}`.
_PAYLOAD_RE = re.compile(r"^/[A-Za-z_][A-Za-z0-9_]{0,63}(\{.*\})?$", re.DOTALL)
# Keep ZWJ (U+200D, used inside emoji) but drop other format characters such as
# zero-width spaces and bidi overrides, which are invisible and only cause trouble.
_KEEP_FORMAT = {"\u200d"}


@dataclass(frozen=True)
class CleanInput:
    text: str
    empty: bool = False
    truncated: bool = False
    note: str = ""


def strip_controls(text: str) -> str:
    """Drop control/format characters; tabs and line breaks become spaces."""
    out = []
    for ch in text:
        if ch in "\t\n\r\u2028\u2029\x85\x0b\x0c":
            out.append(" ")
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cs", "Co", "Cn") or (cat == "Cf" and ch not in _KEEP_FORMAT):
            continue
        out.append(ch)
    return re.sub(r" {2,}", " ", "".join(out))


def is_payload(text: str) -> bool:
    """True for a well-formed Rasa payload (`/intent` with an optional JSON object of entities)."""
    m = _PAYLOAD_RE.match(text)
    if not m:
        return False
    if m.group(1):
        try:
            return isinstance(json.loads(m.group(1)), dict)
        except ValueError:
            return False
    return True


def clean(text: object, max_chars: int) -> CleanInput:
    """Normalise user text: strip controls, detect empty input, truncate over `max_chars`."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = strip_controls(text).strip()
    if not text:
        return CleanInput(text="", empty=True, note=EMPTY_PROMPT)
    if len(text) > max_chars:
        return CleanInput(text=text[:max_chars].rstrip(), truncated=True, note=TRUNCATED_NOTE.format(limit=max_chars))
    return CleanInput(text=text)


def digit_choice(text: str) -> int | None:
    """`1`, `１`, ` 2 ` -> the number; anything else -> None (full-width digits via NFKC)."""
    norm = unicodedata.normalize("NFKC", text).strip().rstrip(".。、")
    if norm.isascii() and norm.isdigit() and 1 <= len(norm) <= 2:
        return int(norm)
    return None


def location_payload(latitude: float, longitude: float) -> str | None:
    """`/share_location{"latitude": .., "longitude": ..}`, or None when out of range."""
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or lat != lat or lon != lon:
        return None
    return "/share_location" + json.dumps({"latitude": round(lat, 6), "longitude": round(lon, 6)})
