"""Dates as residents write them: 9月10号, 9.10, 2026.9.10, 2026-09-10, 九月十日, 上个月3号, 上周五, 前天, 10/8.

`find(text, today)` returns the date the message names, how it was read (so the answer can say
which year was assumed, or that 10/8 was read as 10月8日), or why no date could be used. Lunar
dates (农历, 初十, 腊月 …) are never converted: the resident is asked for the 公历 date instead.
The text should be normalised first (traditional → simplified, full-width → half-width).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN = "[零〇○一二两三四五六七八九十]"
_NUM = rf"(?:\d{{1,2}}|{_CN}{{1,3}})"
_YEAR = rf"(?:\d{{4}}|\d{{2}}(?=年)|[零〇○一二三四五六七八九]{{4}}(?=年))"
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
            "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}

LUNAR = re.compile(r"农历|阴历|旧历|老历|正月|腊月|冬月|初[一二三四五六七八九十](?![中步次])|(?<![零〇一二两三四五六七八九十])[一二三四五六七八九十]{1,2}月(?:初|廿|十[一二三四五六七八九]|二十[一二三四五六七八九]?|三十|[一二三四五六七八九十])(?![一二三四五六七八九十日号])")
_FULL = re.compile(rf"(?P<y>{_YEAR})\s*(?:年|[.\-/])\s*(?P<m>{_NUM})\s*(?:月|[.\-/])\s*(?P<d>{_NUM})(?:\s*[日号])?")
_YEAR_WORD_MD = re.compile(rf"(?P<yw>今年|去年|前年)\s*(?P<m>{_NUM})\s*月\s*(?P<d>{_NUM})\s*[日号]?")
_MD = re.compile(rf"(?<![\d.年])(?P<m>{_NUM})\s*月\s*(?P<d>{_NUM})(?:\s*[日号]|(?![\d十]))")
_DOT = re.compile(r"(?<![\d./\-])(?P<m>\d{1,2})\.(?P<d>\d{1,2})(?![\d.%元万千块])")
_SLASH = re.compile(r"(?<![\d/\-.])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?![\d/])")
# Month and day without a year: (pattern, month group, day group, how a figure-only form was read).
_MONTH_DAY_FORMS = ((_MD, "m", "d", ""), (_DOT, "m", "d", "按{md}理解"), (_SLASH, "a", "b", "按{md}（月/日）理解"))
_REL_MONTH = re.compile(rf"(?P<rm>上上个?月|上个?月|这个?月|本月)\s*(?P<d>{_NUM})\s*[日号]")
_REL_WEEK = re.compile(r"(?P<rw>上上个?|上个?|这个?|本)?(?:周|星期|礼拜)(?P<w>[一二三四五六日天1-7])")
_REL_DAY = re.compile(r"大前天|前天|昨天|昨日|今天|今日|(?P<n>\d{1,2}|[一二两三四五六七八九十]{1,2})天(?:以|之)?前")
_DAY_ONLY = re.compile(rf"(?<![\d月.\-/])(?P<d>\d{{1,2}}|{_CN}{{1,3}})\s*号(?!楼|院|线|房|门|窗|车)")
# A year said apart from the day: "2023年借给他 … 说好九月十日还", "12月18号 … 2025年的事".
_LONE_YEAR = re.compile(rf"(?<!\d)(?P<y>\d{{4}})\s*年(?!\s*(?:{_NUM})\s*月)")
# The day counting starts from is the one the resident received or learned something on.
_TRIGGER_AFTER = re.compile(r"^\s*(?:才|就|被|给)?(?:收到|送达|送到|送来|拿到|签收|接到|寄到|知道|发现|受的?伤|摔伤|生效|离职|辞退|开除|到期)")
_MONTH_ONLY = re.compile(rf"(?:(?P<y>\d{{4}})\s*年\s*|(?P<yw>今年|去年|前年))?(?P<m>{_NUM})\s*月(?:份)?(?!\s*{_NUM})")


@dataclass
class Found:
    """The date a message names, or why none can be used."""

    date: dt.date | None = None
    written: str = ""           # the words as the resident wrote them
    shown: str = ""             # how the answer names the date: 9月10日, 2025年9月10日, 昨天（11月30日）
    note: str = ""              # the reading that was assumed (year, 10/8)
    problem: str = ""           # lunar | impossible | month_only
    span: tuple[int, int] = (0, 0)
    month_day: tuple[int, int] | None = None   # set when the year was assumed

    @property
    def ok(self) -> bool:
        return self.date is not None and not self.problem


def cn_number(text: str) -> int | None:
    """'10', '十', '十一', '二十', '三十一', '两' → int."""
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _CN_DIGITS and ch != "十" for ch in text):
        return None
    if "十" not in text:
        if len(text) != 1:
            return None
        return _CN_DIGITS[text]
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def _year(text: str) -> int | None:
    if text.isdigit():
        return int(text) + (2000 if len(text) == 2 else 0)
    digits = [_CN_DIGITS.get(ch) for ch in text]
    return None if None in digits else int("".join(str(d) for d in digits))


def _make(year: int, month: int | None, day: int | None) -> dt.date | None:
    try:
        return dt.date(year, month or 0, day or 0)
    except (ValueError, TypeError):
        return None


def _md(month: int, day: int) -> str:
    return f"{month}月{day}日"


def _full(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _impossible(m: re.Match, text: str, year: int | None, month, day) -> Found:
    what = f"{year}年{month}月{day}日" if year else f"{month}月{day}日"
    return Found(written=m.group(0), shown=what, problem="impossible", span=m.span(),
                 note=f"日历上没有{what}这一天")


def _assume_year(today: dt.date, month: int, day: int, m: re.Match) -> Found:
    """No year given: this year, unless that day is still to come (then last year)."""
    this_year = _make(today.year, month, day)
    if this_year is not None and this_year <= today:
        return Found(this_year, m.group(0), _md(month, day), f"您没有说年份，按今年（{today.year}年）算", span=m.span(),
                     month_day=(month, day))
    last_year = _make(today.year - 1, month, day)
    if last_year is None:
        return _impossible(m, m.group(0), None, month, day)
    reason = f"今年的{_md(month, day)}还没到" if this_year is not None else f"{today.year}年没有{_md(month, day)}"
    return Found(last_year, m.group(0), _md(month, day),
                 f"您没有说年份；{reason}，按去年（{today.year - 1}年）算", span=m.span(), month_day=(month, day))


def find(text: str, today: dt.date) -> Found | None:
    """The date named in `text` (the first one, most specific form first), or None."""
    if not text:
        return None
    lunar = LUNAR.search(text)
    if lunar:
        return Found(written=lunar.group(0), problem="lunar", span=lunar.span())
    candidates: list[tuple[int, Found]] = []

    for m in _FULL.finditer(text):
        year, month, day = _year(m.group("y")), cn_number(m.group("m")), cn_number(m.group("d"))
        d = _make(year or 0, month, day)
        found = Found(d, m.group(0), _full(d), span=m.span()) if d else _impossible(m, text, year, month, day)
        candidates.append((m.start(), found))
    for m in _YEAR_WORD_MD.finditer(text):
        offset = {"今年": 0, "去年": 1, "前年": 2}[m.group("yw")]
        month, day = cn_number(m.group("m")), cn_number(m.group("d"))
        d = _make(today.year - offset, month, day)
        found = Found(d, m.group(0), _full(d), span=m.span()) if d else _impossible(m, text, today.year - offset, month, day)
        candidates.append((m.start(), found))
    taken = [f.span for _, f in candidates]

    def free(m: re.Match) -> bool:
        return not any(a <= m.start() < b or a < m.end() <= b for a, b in taken)

    for pattern, month_group, day_group, reading in _MONTH_DAY_FORMS:
        for m in pattern.finditer(text):
            if not free(m):
                continue
            month, day = cn_number(m.group(month_group)), cn_number(m.group(day_group))
            # 9月31日 is reported as impossible; 3.45 or 5/40 is not read as a date at all.
            if not (month and day and 1 <= month <= 12) or (reading and day > 31):
                continue
            found = _assume_year(today, month, day, m)
            if reading:
                found.note = f"“{m.group(0)}”{reading.format(md=_md(month, day))}" + (f"；{found.note}" if found.note else "")
            candidates.append((m.start(), found))
    for m in _REL_MONTH.finditer(text):
        day = cn_number(m.group("d"))
        word = m.group("rm")
        back = 2 if word.startswith("上上") else 1 if word.startswith("上") else 0
        index = today.year * 12 + today.month - 1 - back
        d = _make(index // 12, index % 12 + 1, day)
        if d is None:
            candidates.append((m.start(), _impossible(m, text, index // 12, index % 12 + 1, day)))
        else:
            candidates.append((m.start(), Found(d, m.group(0), f"{m.group(0)}（{_full(d)}）", span=m.span())))
    for m in _REL_WEEK.finditer(text):
        weekday = _WEEKDAY[m.group("w")]
        prefix = m.group("rw") or ""
        this_monday = today - dt.timedelta(days=today.weekday())
        if prefix.startswith("上上"):
            d = this_monday - dt.timedelta(weeks=2) + dt.timedelta(days=weekday)
        elif prefix.startswith("上"):
            d = this_monday - dt.timedelta(weeks=1) + dt.timedelta(days=weekday)
        else:
            d = this_monday + dt.timedelta(days=weekday)
            if not prefix and d > today:          # a bare 周五 is the last one that has been
                d -= dt.timedelta(weeks=1)
        candidates.append((m.start(), Found(d, m.group(0), f"{m.group(0)}（{_full(d)}）", span=m.span())))
    for m in _REL_DAY.finditer(text):
        word = m.group(0)
        if m.group("n"):
            back = cn_number(m.group("n"))
            if back is None:
                continue
        else:
            back = {"大前天": 3, "前天": 2, "昨天": 1, "昨日": 1, "今天": 0, "今日": 0}[word]
        d = today - dt.timedelta(days=back)
        candidates.append((m.start(), Found(d, word, f"{word}（{_full(d)}）", span=m.span())))
    if not candidates:
        for m in _DAY_ONLY.finditer(text):
            day = cn_number(m.group("d"))
            if not day or not 1 <= day <= 31:
                continue
            d = _make(today.year, today.month, day)
            if d is not None and d <= today:
                candidates.append((m.start(), Found(d, m.group(0), _full(d), f"您只说了{day}号，按本月（{today.month}月）算", span=m.span())))
            else:
                index = today.year * 12 + today.month - 2
                d = _make(index // 12, index % 12 + 1, day)
                if d is not None:
                    candidates.append((m.start(), Found(d, m.group(0), _full(d),
                                                        f"您只说了{day}号，本月{day}号还没到，按上个月算", span=m.span())))
    if not candidates:
        m = _MONTH_ONLY.search(text)
        if m and cn_number(m.group("m")) and 1 <= cn_number(m.group("m")) <= 12:
            return Found(written=m.group(0), problem="month_only", span=m.span())
        return None
    return _with_lone_year(text, _choose(text, candidates), today)


def _choose(text: str, candidates: list[tuple[int, Found]]) -> Found:
    """The earliest date, unless another one is the day something was received or learned."""
    ordered = [f for _, f in sorted(candidates, key=lambda c: c[0])]
    triggered = [f for f in ordered if f.ok and _TRIGGER_AFTER.match(text[f.span[1]:])]
    return triggered[0] if triggered else ordered[0]


def _with_lone_year(text: str, found: Found, today: dt.date) -> Found:
    """A day without a year takes the year said elsewhere in the message, if there is one."""
    if not found.month_day:
        return found
    years = {int(m.group("y")) for m in _LONE_YEAR.finditer(text)}
    if len(years) != 1:
        return found
    year = years.pop()
    month, day = found.month_day
    d = _make(year, month, day)
    if d is None:
        return Found(written=found.written, shown=f"{year}年{_md(month, day)}", problem="impossible",
                     span=found.span, note=f"日历上没有{year}年{_md(month, day)}这一天")
    return Found(d, found.written, _full(d), found.note.split("；")[0] if found.note.startswith("“") else "",
                 span=found.span)
