"""Opening hours written the way staff write them: 周一至周五 9:00-12:00,13:30-17:00; 周六 9:00-12:00."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Optional

DAYS = "一二三四五六日"
_SEGMENT = re.compile(r"周([一二三四五六日天])(?:\s*(?:至|到|-|~)\s*周([一二三四五六日天]))?\s*((?:\d{1,2}[:：]\d{2}\s*[-~至到]\s*\d{1,2}[:：]\d{2}[,，、\s]*)+)")
_RANGE = re.compile(r"(\d{1,2})[:：](\d{2})\s*[-~至到]\s*(\d{1,2})[:：](\d{2})")


@dataclass(frozen=True)
class Window:
    weekday: int  # Monday = 0
    start: dt.time
    end: dt.time


def _day(ch: str) -> int:
    return 6 if ch in "日天" else DAYS.index(ch)


def parse(text: Optional[str]) -> list[Window]:
    """Windows of a week; an empty list when the text cannot be read (the bot then says to call 12348)."""
    windows: list[Window] = []
    for first, last, times in _SEGMENT.findall(text or ""):
        start_day, end_day = _day(first), _day(last or first)
        days = range(start_day, end_day + 1) if start_day <= end_day else [*range(start_day, 7), *range(0, end_day + 1)]
        for h1, m1, h2, m2 in _RANGE.findall(times):
            for d in days:
                windows.append(Window(d, dt.time(int(h1), int(m1)), dt.time(int(h2), int(m2))))
    return windows


def is_open(windows: list[Window], now: dt.datetime) -> bool:
    return any(w.weekday == now.weekday() and w.start <= now.time() < w.end for w in windows)


def next_opening(windows: list[Window], now: dt.datetime) -> Optional[dt.datetime]:
    """When the place next opens after `now` (within a week)."""
    best = None
    for offset in range(0, 8):
        day = now.date() + dt.timedelta(days=offset)
        for w in windows:
            if w.weekday != day.weekday():
                continue
            start = dt.datetime.combine(day, w.start, tzinfo=now.tzinfo)
            if start > now and (best is None or start < best):
                best = start
        if best:
            return best
    return best


def describe_next(opening: dt.datetime, now: dt.datetime) -> str:
    days = (opening.date() - now.date()).days
    when = "今天" if days == 0 else "明天" if days == 1 else f"周{DAYS[opening.weekday()]}"
    return f"{when}{opening:%H:%M}"
