"""The one shared renderer: Rasa REST messages -> WeChat text, Telegram messages, web JSON.

Rasa messages are dicts with optional `text`, `buttons` ([{title, payload}]), `image`, `custom`.
Every channel gets the same content: texts in order, images as links (or <img> on the web),
buttons as numbered lines (WeChat), inline keyboards (Telegram) or <button>s (web).
`script` (bot/script.py) is the resident's script: texts and button titles, including the fixed
hints added here, are converted in `normalise` and `_fixed`, the one place for every channel;
payloads never are.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from bot.script import to_script

WECHAT_MAX_BYTES = 2048       # WeChat text message limit, UTF-8 bytes
TELEGRAM_MAX_UNITS = 4096     # Telegram text limit (counted here in UTF-16 code units, the strict reading)
WECHAT_CHOICE_HINT = "（回复数字即可选择）"
TELEGRAM_BUTTONS_ONLY_TEXT = "请选择："
IMAGE_LABEL = "图片："


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass
class Item:
    """One normalised Rasa message."""
    text: str = ""
    image: str = ""
    buttons: list[Button] = field(default_factory=list)
    document: dict | None = None   # web only: {title, links} (bot.documents.Documents.for_web)


def _safe_url(url: Any) -> str:
    return url.strip() if isinstance(url, str) and url.strip().lower().startswith(("https://", "http://")) else ""


def _fixed(text: str, script: str | None) -> str:
    """A fixed text of the renderer in the resident's script."""
    return to_script(text, script)


def normalise(messages: Iterable[dict[str, Any]], note: str = "", script: str | None = None) -> list[Item]:
    """Rasa messages -> Items in the resident's script; `note` (e.g. the truncation notice) comes first."""
    items: list[Item] = [Item(text=to_script(note, script))] if note else []
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        text = msg.get("text") if isinstance(msg.get("text"), str) else ""
        custom = msg.get("custom")
        if not text and isinstance(custom, dict) and isinstance(custom.get("text"), str):
            text = custom["text"]
        buttons = [
            Button(to_script(str(b.get("title", "")).strip(), script), str(b.get("payload", "")).strip())
            for b in (msg.get("buttons") or [])
            if isinstance(b, dict) and str(b.get("title", "")).strip() and str(b.get("payload", "")).strip()
        ]
        document = custom.get("web_document") if isinstance(custom, dict) else None
        item = Item(text=to_script(text.strip(), script), image=_safe_url(msg.get("image")), buttons=buttons,
                    document=document if isinstance(document, dict) else None)
        if item.text or item.image or item.buttons or item.document:
            items.append(item)
    return items


# ---------------------------------------------------------------- splitting

def utf8_len(s: str) -> int:
    return len(s.encode("utf-8"))


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Split `text` into parts with measure(part) <= limit, preferring line breaks."""
    if measure(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if measure(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
            current = ""
        while measure(line) > limit:           # a single over-long line: cut by characters
            cut = _longest_prefix(line, limit, measure)
            parts.append(line[:cut])
            line = line[cut:]
        current = line
    if current:
        parts.append(current)
    return [p for p in parts if p.strip()] or [text[:1]]


def _longest_prefix(s: str, limit: int, measure: Callable[[str], int]) -> int:
    lo, hi = 1, len(s)
    while lo < hi:                               # binary search on the prefix length
        mid = (lo + hi + 1) // 2
        if measure(s[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


# ---------------------------------------------------------------- WeChat

@dataclass
class WeChatOut:
    parts: list[str]              # each <= 2048 UTF-8 bytes; parts[0] is the passive reply
    choices: list[str]            # payload of button n is choices[n-1]


def render_wechat(messages: Iterable[dict[str, Any]], note: str = "", script: str | None = None) -> WeChatOut:
    blocks: list[str] = []
    choices: list[str] = []
    for item in normalise(messages, note, script):
        lines = []
        if item.text:
            lines.append(item.text)
        if item.image:
            lines.append(_fixed(IMAGE_LABEL, script) + item.image)
        for button in item.buttons:
            choices.append(button.payload)
            lines.append(f"{len(choices)}. {button.title}")
        blocks.append("\n".join(lines))
    if choices:
        blocks.append(_fixed(WECHAT_CHOICE_HINT, script))
    text = "\n\n".join(b for b in blocks if b)
    return WeChatOut(parts=split_text(text, WECHAT_MAX_BYTES, utf8_len) if text else [], choices=choices)


# ---------------------------------------------------------------- Telegram

@dataclass
class TelegramOut:
    text: str
    buttons: list[Button] = field(default_factory=list)   # one button per keyboard row


def render_telegram(messages: Iterable[dict[str, Any]], note: str = "", script: str | None = None) -> list[TelegramOut]:
    out: list[TelegramOut] = []
    for item in normalise(messages, note, script):
        text = "\n".join(x for x in (item.text, _fixed(IMAGE_LABEL, script) + item.image if item.image else "") if x)
        text = text or _fixed(TELEGRAM_BUTTONS_ONLY_TEXT, script)
        chunks = split_text(text, TELEGRAM_MAX_UNITS, utf16_len)
        out.extend(TelegramOut(text=c) for c in chunks[:-1])
        out.append(TelegramOut(text=chunks[-1], buttons=item.buttons))
    return out


# ---------------------------------------------------------------- web

def render_web(messages: Iterable[dict[str, Any]], note: str = "", script: str | None = None) -> list[dict[str, Any]]:
    out = []
    for item in normalise(messages, note, script):
        msg: dict[str, Any] = {}
        if item.text:
            msg["text"] = item.text
        if item.image:
            msg["image"] = item.image
        if item.buttons:
            msg["buttons"] = [{"title": b.title, "payload": b.payload} for b in item.buttons]
        if item.document:
            msg["document"] = item.document
        out.append(msg)
    return out
