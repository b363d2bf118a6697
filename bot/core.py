"""The channel-independent part of a turn: rate limit, input hygiene, the Rasa call, logging."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from bot import inputs
from bot.documents import Documents
from bot.logging_setup import hash_sender
from bot.rasa_client import RasaClient
from bot.ratelimit import RATE_LIMITED_TEXT, RateLimiter
from bot.script import SIMPLIFIED, ScriptMemory

log = logging.getLogger("bot.turn")


@dataclass
class Turn:
    """What to render for one user message."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    kind: str = "answer"          # answer | fallback | empty_input | rate_limited | static
    rasa_called: bool = False
    script: str = SIMPLIFIED      # the resident's script, for the renderer (bot/script.py)


class Conversation:
    """Runs one user turn the same way for every channel."""

    def __init__(self, rasa: RasaClient, limiter: RateLimiter, max_input_chars: int,
                 documents: Documents | None = None) -> None:
        self.rasa = rasa
        self.limiter = limiter
        self.max_input_chars = max_input_chars
        self.scripts = ScriptMemory()
        self.documents = documents   # generated documents per channel; None = they are not offered

    async def text(self, sender: str, text: Any, *, timeout_s: float | None = None) -> Turn:
        """A message the user typed (or a payload they chose)."""
        self.scripts.observe(sender, text if isinstance(text, str) else "")
        if not self.limiter.allow(sender):
            return self._log(sender, Turn(messages=[_msg(sender, RATE_LIMITED_TEXT)], kind="rate_limited"))
        raw = text if isinstance(text, str) else ""
        stripped = inputs.strip_controls(raw).strip()
        if inputs.is_payload(stripped) and len(stripped) <= 1000:
            return await self._ask(sender, stripped, "", timeout_s)
        cleaned = inputs.clean(raw, self.max_input_chars)
        if cleaned.empty:
            return self._log(sender, Turn(messages=[_msg(sender, cleaned.note)], kind="empty_input"))
        # Free text must not be read as a payload by Rasa.
        message = cleaned.text.lstrip("/").strip() or cleaned.text
        return await self._ask(sender, message, cleaned.note, timeout_s)

    async def payload(self, sender: str, payload: str, *, timeout_s: float | None = None) -> Turn:
        """A payload the gateway built itself (location, /greet, a menu click, a chosen button)."""
        if not self.limiter.allow(sender):
            return self._log(sender, Turn(messages=[_msg(sender, RATE_LIMITED_TEXT)], kind="rate_limited"))
        return await self._ask(sender, payload, "", timeout_s)

    def static(self, sender: str, text: str) -> Turn:
        """A fixed polite answer that needs no Rasa call (e.g. unsupported message types)."""
        return self._log(sender, Turn(messages=[_msg(sender, text)], kind="static"))

    async def _ask(self, sender: str, message: str, note: str, timeout_s: float | None) -> Turn:
        reply = await self.rasa.send(sender, message, timeout_s=timeout_s)
        turn = Turn(messages=reply.messages, note=note, kind="answer" if reply.ok else "fallback", rasa_called=True)
        return self._log(sender, turn, ms=reply.elapsed_ms, in_chars=len(message))

    def _log(self, sender: str, turn: Turn, ms: float = 0.0, in_chars: int = 0) -> Turn:
        turn.script = self.scripts.get(sender)
        log.info("turn sender=%s kind=%s in_chars=%d out_msgs=%d rasa_ms=%.0f",
                 hash_sender(sender), turn.kind, in_chars, len(turn.messages), ms)
        return turn


def _msg(sender: str, text: str) -> dict[str, Any]:
    return {"recipient_id": sender, "text": text}
