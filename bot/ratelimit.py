"""Per-sender sliding-window rate limit (default 20 messages a minute)."""
from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Callable

RATE_LIMITED_TEXT = "您发送消息太频繁了，请休息一下，一分钟后再试。紧急法律咨询请拨打12348公共法律服务热线。"


class RateLimiter:
    """Allow at most `per_minute` messages per sender in any 60-second window.

    Memory is bounded: at most `max_senders` senders are tracked (least recently seen evicted).
    """

    def __init__(self, per_minute: int = 20, *, window_s: float = 60.0, max_senders: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self.max_senders = max_senders
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, sender: str) -> bool:
        """Record one message from `sender`; False when over the limit (not recorded then)."""
        now = self._clock()
        hits = self._hits.get(sender)
        if hits is None:
            hits = deque()
            self._hits[sender] = hits
            while len(self._hits) > self.max_senders:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(sender)
        while hits and now - hits[0] >= self.window_s:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return False
        hits.append(now)
        return True
