"""Replay protection for WeChat calls: a fresh timestamp, and each (timestamp, nonce) used for one message only.

WeChat signs only token+timestamp+nonce (plaintext mode), so a captured triple could be replayed with any
body. A call is refused when its timestamp is more than `window_s` from now, or when its (timestamp, nonce)
was already seen with another message. WeChat's own retries of one message (same MsgId and openid) are
not replays: they pass, whether they reuse the nonce or bring a new one, and the channel's MsgId dedupe
then gives them the one answer.

The cache is in process memory (one gateway serves /wechat, see deploy/README.md). Several active gateways
need a shared `NonceCache` (e.g. Redis `SET key value NX EX ttl`): anything with the same `claim` method.
"""
from __future__ import annotations

import heapq
import time
from typing import Callable, Protocol

WINDOW_S = 300.0
MAX_ENTRIES = 200_000


class NonceCache(Protocol):
    def claim(self, timestamp: str, nonce: str, message_key: str, expires_at: float) -> bool:
        """True if (timestamp, nonce) is new, or was first used for `message_key`; False for a replay."""


class MemoryNonceCache:
    """(timestamp, nonce) → the message it was first used for, kept until the timestamp leaves the window."""

    def __init__(self, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._seen: dict[tuple[str, str], str] = {}
        self._expiry: list[tuple[float, tuple[str, str]]] = []

    def __len__(self) -> int:
        return len(self._seen)

    def claim(self, timestamp: str, nonce: str, message_key: str, expires_at: float) -> bool:
        self._purge(self.clock())
        pair = (timestamp, nonce)
        first = self._seen.get(pair)
        if first is not None:
            return first == message_key
        if len(self._seen) >= self.max_entries:
            # Full of live entries (a flood of validly signed calls): refuse rather than forget one early.
            return False
        self._seen[pair] = message_key
        heapq.heappush(self._expiry, (expires_at, pair))
        return True

    def _purge(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] <= now:
            _, pair = heapq.heappop(self._expiry)
            self._seen.pop(pair, None)


class ReplayGuard:
    """The two checks, in the order the channel needs them (timestamp before parsing, nonce after)."""

    def __init__(self, cache: NonceCache | None = None, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.window_s = window_s
        self.clock = clock
        self.cache = cache if cache is not None else MemoryNonceCache(clock=clock)

    def fresh(self, timestamp: str) -> bool:
        """The timestamp is an integer within `window_s` of now (either side: clocks drift)."""
        if not timestamp.isdigit() or len(timestamp) > 12:
            return False
        return abs(self.clock() - int(timestamp)) <= self.window_s

    def claim(self, timestamp: str, nonce: str, message_key: str) -> bool:
        """Record the pair for this message; False if it was used for another one (a replay)."""
        # Keep the pair until its timestamp can no longer pass `fresh` (plus a second for rounding).
        return self.cache.claim(timestamp, nonce, message_key, int(timestamp) + self.window_s + 1)
